"""Errors that mean "the user gave us something we cannot use".

Library code raises :class:`InputError` (a ``ValueError``) with a message that names the
argument, says what was expected and how to fix it. The CLI turns it into a clean message and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import difflib
from pathlib import Path

__all__ = ["InputError", "ModelFolderError", "suggest", "reading"]


class InputError(ValueError):
    """Bad user input: wrong shape, NaN, missing column, unreadable file..."""


class ModelFolderError(InputError):
    """A trained-model folder that cannot be loaded (missing file, corrupt, wrong version)."""


@contextlib.contextmanager
def reading(path, arg: str = "INPUT"):
    """Turn the errors a reader raises on a damaged file (truncated, empty, another format) into
    one :class:`InputError` naming ``arg`` and the file; an InputError passes through as it is."""
    try:
        yield
    except InputError:
        raise
    except (OSError, EOFError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise InputError(f"{arg}: {Path(path).name} cannot be read: it is truncated, empty or not the expected "
                         f"format ({type(exc).__name__}: {exc})") from None


def suggest(name: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest match of ``name`` in ``choices``."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
