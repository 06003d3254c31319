"""Atomic outputs: write to a temporary sibling, then rename into place.

A crash or Ctrl-C mid-write leaves the previous file (or nothing), never a torn one. Every
product sim2sky writes (tables, arrays, model folders, FITS maps, cube blocks) goes through
:func:`atomic_file` or :func:`atomic_dir`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_file", "atomic_dir", "save_npz", "save_npy", "write_text"]


@contextlib.contextmanager
def atomic_file(path, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    ``suffix`` is kept on the temporary name (some writers pick the format from it; default:
    the suffix of ``path``). The temporary file is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)
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
    """Yield a temporary folder next to ``path``; it replaces ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
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
