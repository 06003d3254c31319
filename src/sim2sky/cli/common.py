"""What every CLI module shares: the consoles, the user-error wrapper, small parsers.

User errors (:class:`sim2sky.core.InputError`) become one red ``error:`` line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..core.atomic import check_out_dir, check_out_file
from ..core.errors import InputError

__all__ = ["console", "out", "user_errors", "split", "notice", "model_out", "file_out", "OVERWRITE"]

OVERWRITE = typer.Option(False, "--overwrite", help="Replace --out if it already holds a sim2sky model folder. "
                                                    "A folder holding anything else is never replaced.")

console = Console(stderr=True)
out = Console()


def user_errors(fn):
    """Turn InputError into a clean message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            # escaped: messages quote things like [SII] or [km/s] that rich would take for markup
            message = " ".join(str(exc).split())            # one line, whatever the message held
            console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def notice(message: str) -> None:
    """One yellow ``notice:`` line on stderr (information the user should see, not an error)."""
    console.print(f"[yellow]notice:[/] {escape(message)}", highlight=False)


def split(cols: Optional[str]) -> Optional[list[str]]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty stays None."""
    return [c.strip() for c in cols.split(",") if c.strip()] if cols else None


def model_out(path, overwrite: bool, kind: str | None = None):
    """Check ``--out`` for a model folder before any work (see :func:`sim2sky.core.check_out_dir`)."""
    return check_out_dir(path, overwrite=overwrite, kind=kind)


def file_out(path, arg: str = "--out"):
    """Check an output file location before any work (see :func:`sim2sky.core.check_out_file`)."""
    return check_out_file(path, arg)
