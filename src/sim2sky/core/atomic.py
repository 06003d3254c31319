"""Atomic outputs: write to a temporary sibling, then rename into place.

A crash or Ctrl-C mid-write leaves the previous file (or nothing), never a torn one. Every
product sim2sky writes (tables, arrays, model folders, FITS maps, cube blocks) goes through
:func:`atomic_file` or :func:`atomic_dir`.

A folder is never replaced unless it is empty or is itself a sim2sky output (a model folder,
or a folder of model folders): :func:`atomic_dir` refuses anything else, so a user's project
folder given as ``--out`` is left untouched. :func:`check_out_dir` applies the same rule before
any work starts, plus the CLI's ``--overwrite`` rule for replacing a previous model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import json
import signal
import threading

import numpy as np

from .errors import InputError

__all__ = ["deferred_signals", "atomic_file", "atomic_dir", "save_npz", "save_npy", "write_text", "check_out_dir", "check_out_file", "output_kind",
           "OutputExistsError"]

# side files a folder of model folders may hold beside them (calibrations, input descriptions, seals)
_SIDE_SUFFIXES = (".json", ".sha256")


class OutputExistsError(InputError):
    """The output location holds something sim2sky must not replace."""


@contextlib.contextmanager
def deferred_signals():
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends (main thread, POSIX).

    For the few renames that publish a set of files together: a Ctrl-C or a scheduler's
    SIGTERM arriving between two renames would otherwise leave old and new products mixed.
    A signal that arrives meanwhile is recorded and raised again, with the handler that was in
    place, when the block ends. (Python-level handlers, not a thread signal mask: a mask holds
    the signal only for this thread, and the kernel hands it to a worker thread instead.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    names = [n for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    old = {}
    for n in names:
        sig = getattr(signal, n)
        old[sig] = signal.signal(sig, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)   # None: set outside Python
        for number in dict.fromkeys(caught):
            signal.raise_signal(number)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_kind(path) -> str | None:
    """What sim2sky output a folder holds: ``"classifier"``, ``"npe"``, ... for a model folder
    (its ``config.json`` format), ``"bundle:a+b"`` for a folder of model folders (plus JSON side
    files), ``""`` for an empty folder, None for anything else (a user's folder, a file)."""
    path = Path(path)
    if not path.is_dir():
        return None
    entries = [e for e in path.iterdir() if not e.name.startswith(".")]
    if not entries:
        return ""
    cfg = path / "config.json"
    if cfg.is_file():
        try:
            fmt = json.loads(cfg.read_text()).get("format", "")
        except (OSError, ValueError, AttributeError):
            return None
        return fmt[len("sim2sky."):] if isinstance(fmt, str) and fmt.startswith("sim2sky.") else None
    subs = []
    for e in entries:
        if e.is_dir():
            kind = output_kind(e)
            if not kind or kind.startswith("bundle:"):
                return None
            subs.append(kind)
        elif not e.name.endswith(_SIDE_SUFFIXES):
            return None
    return "bundle:" + "+".join(sorted(subs)) if subs else None


def _encloses_cwd(path: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    target = path.resolve()
    return target == cwd or target in cwd.parents


def check_out_dir(path, *, overwrite: bool = False, kind: str | None = None, arg: str = "--out") -> Path:
    """Check, before any work, that a model folder can be written to ``path``.

    Allowed: a path that does not exist (its first existing parent must be a writable folder),
    an empty folder, or, with ``overwrite``, a sim2sky model folder (of ``kind`` when given).
    Anything else raises :class:`OutputExistsError` naming ``arg``; nothing is touched.
    """
    path = Path(path)
    if _encloses_cwd(path):
        raise OutputExistsError(f"{arg}: {path} is the current folder or one above it; give a new folder to write the model into")
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{arg}: {path} is an existing file, expected a folder (a new or empty one)")
    if path.is_dir():
        found = output_kind(path)
        if found is None:
            names = sorted(e.name for e in path.iterdir() if not e.name.startswith("."))
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise OutputExistsError(f"{arg}: {path} is not empty and is not a sim2sky model folder (it holds {shown}); "
                                    "nothing was touched: give a new or empty folder")
        if found:
            if kind is not None and found != kind:
                raise OutputExistsError(f"{arg}: {path} holds a sim2sky {found!r} model, not a {kind!r} one; "
                                        "nothing was touched: give a new or empty folder")
            if not overwrite:
                raise OutputExistsError(f"{arg}: {path} already holds a sim2sky {found!r} model; pass --overwrite to "
                                        "replace it, or give a new folder")
    _check_writable(path, arg)
    return path


def check_out_file(path, arg: str = "--out") -> Path | None:
    """Check, before any work, that a file can be written at ``path`` (None passes): not a folder,
    and its first existing parent a writable folder. Raises :class:`OutputExistsError`."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{arg}: {path} is a folder, expected a file name")
    _check_writable(path, arg)
    return path


def _check_writable(path: Path, arg: str) -> None:
    parent = path if path.is_dir() else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputExistsError(f"{arg}: {parent} is a file, so {path} cannot be created inside it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputExistsError(f"{arg}: cannot write into {parent} (permission denied); choose a writable location")


@contextlib.contextmanager
def atomic_file(path, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    ``suffix`` is kept on the temporary name (some writers pick the format from it; default:
    the suffix of ``path``). The temporary file is removed if the block raises.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix,
                                   dir=path.parent)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise OutputExistsError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)          # writers that refuse to overwrite (astropy, numpy.save) get a free name
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder next to ``path``; it replaces ``path`` when the block succeeds.

    An existing ``path`` is replaced only if it is empty or a sim2sky output
    (:func:`output_kind`); otherwise :class:`OutputExistsError` is raised, the temporary folder
    is removed and ``path`` is left as it was. The new folder gets the permissions the umask
    allows (``mkdtemp`` alone would make it private).
    """
    path = Path(path)
    if path.exists() and output_kind(path) is None or _encloses_cwd(path):
        check_out_dir(path, overwrite=True)         # raises with the reason
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if path.exists() and output_kind(path) is None:
            check_out_dir(path, overwrite=True)     # something else appeared there meanwhile
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_npz(path, **arrays) -> Path:
    """``numpy.savez`` atomically (no pickled objects: load with ``allow_pickle=False``)."""
    with atomic_file(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(path)


def save_npy(path, array) -> Path:
    with atomic_file(path, suffix=".npy") as tmp:
        np.save(tmp, array)
    return Path(path)


def write_text(path, text: str) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)
