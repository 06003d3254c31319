"""Trained-model folders: ``config.json`` + ``weights.safetensors``.

``config.json`` holds everything needed to rebuild the network and to judge whether a result
can be trusted: architecture, parameter and feature names and units, prior, training settings
and history, and provenance (seed, package version, data checksum). Weights are loaded with
safetensors (never pickle). Every folder is sealed whole: ``checksums.sha256`` (the format of
``sha256sum``, so ``sha256sum -c checksums.sha256`` checks it too) lists the SHA-256 of
``config.json``, the weights and every side file, and a folder loads only if all of them match
and no unlisted file was added. A folder edited on purpose is re-sealed with
``sim2sky model seal FOLDER``. Folders are written atomically: a temporary sibling folder
renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from .atomic import _umask, atomic_dir, atomic_file
from .errors import ModelFolderError

__all__ = ["save_model_folder", "read_model_folder", "sha256_file", "seal_folder", "verify_folder",
           "FORMAT_VERSION", "CONFIG", "WEIGHTS", "SEAL"]

FORMAT_VERSION = 1
CONFIG, WEIGHTS, SEAL = "config.json", "weights.safetensors", "checksums.sha256"


def _sealed_files(path: Path) -> list[str]:
    """Every file under ``path`` (relative POSIX names, sorted) except the folder's own seal and
    hidden files (editor and OS droppings)."""
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                  if p.is_file() and p.relative_to(path).as_posix() != SEAL
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


def seal_folder(path) -> Path:
    """Write ``checksums.sha256`` over every file in folder ``path`` (atomically); return its path."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"{path} is not a folder; nothing to seal")
    lines = [f"{sha256_file(path / name)}  {name}\n" for name in _sealed_files(path)]
    with atomic_file(path / SEAL) as tmp:
        tmp.write_text("".join(lines))
    return path / SEAL


def verify_folder(path) -> None:
    """Check a folder against its ``checksums.sha256``; raise :class:`ModelFolderError` if the seal
    is missing or unreadable, a listed file is missing or changed, or an unlisted file was added."""
    path = Path(path)
    reseal = f"if you edited it on purpose, re-seal it with 'sim2sky model seal {path}'"
    try:
        text = (path / SEAL).read_text()
    except FileNotFoundError:
        raise ModelFolderError(f"model folder {path} has no {SEAL}, so its files cannot be verified; {reseal}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path / SEAL} cannot be read ({exc}); {reseal}") from None
    listed = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise ModelFolderError(f"{path / SEAL} is malformed (line {line[:60]!r}); {reseal}")
        listed[name] = digest
    present = set(_sealed_files(path))
    if missing := sorted(set(listed) - present):
        raise ModelFolderError(f"model folder {path} is missing {', '.join(missing[:3])} listed in {SEAL}; the folder is incomplete")
    if extra := sorted(present - set(listed)):
        raise ModelFolderError(f"model folder {path} holds {', '.join(extra[:3])}, which its {SEAL} does not list; {reseal}")
    changed = [n for n in sorted(listed) if sha256_file(path / n) != listed[n]]
    if changed:
        raise ModelFolderError(f"{', '.join(changed[:3])} in {path} no longer match {SEAL}: the folder was changed or "
                               f"is corrupt; {reseal}")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model_folder(out, kind: str, state_dict: dict, config: dict) -> Path:
    """Write ``config.json`` and ``weights.safetensors`` into folder ``out`` atomically."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, tmp / WEIGHTS)
        (tmp / WEIGHTS).chmod(0o666 & ~_umask())      # safetensors writes 0600; the folder follows the umask
        full = {
            "format": f"sim2sky.{kind}",
            "format_version": FORMAT_VERSION,
            "sim2sky_version": __version__,
            **config,
            "weights_sha256": sha256_file(tmp / WEIGHTS),
        }
        full.setdefault("provenance", {})
        full["provenance"].update(
            created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            python=platform.python_version(), torch=torch.__version__, sim2sky=__version__,
        )
        (tmp / CONFIG).write_text(json.dumps(full, indent=2, default=_jsonable))
        seal_folder(tmp)
    return out


def read_model_folder(path, kind: str) -> tuple[dict, dict]:
    """Read and verify a model folder; return ``(config, state_dict)``.

    Raises :class:`ModelFolderError` for a missing folder or file, invalid JSON, a model of
    another kind or another major version, a missing or failing seal (``checksums.sha256``), or
    weights that fail the checksum in ``config.json``.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"model folder {path} does not exist (check the path, or train one with 'sim2sky train ...' / 'sim2sky npe train')")
    missing = [f for f in (CONFIG, WEIGHTS) if not (path / f).is_file()]
    if missing:
        raise ModelFolderError(f"model folder {path} is missing {', '.join(missing)}; it should hold {CONFIG} and {WEIGHTS}")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path / CONFIG} is not valid JSON ({exc}); the folder is corrupt, retrain or restore it") from None
    if not isinstance(config, dict) or config.get("format") != f"sim2sky.{kind}":
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ModelFolderError(f"{path} holds a {found!r} model, expected 'sim2sky.{kind}'")
    major = str(config.get("sim2sky_version", "?")).split(".")[0]
    if major != __version__.split(".")[0] or config.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(
            f"{path} was written by sim2sky {config.get('sim2sky_version')} (format {config.get('format_version')}); "
            f"this is sim2sky {__version__} (format {FORMAT_VERSION}): retrain it with this version"
        )
    verify_folder(path)
    if not isinstance(config.get("weights_sha256"), str):
        raise ModelFolderError(f"{path / CONFIG} has no weights_sha256, so the weights cannot be verified; the folder was edited")
    if sha256_file(path / WEIGHTS) != config["weights_sha256"]:
        raise ModelFolderError(f"{path / WEIGHTS} does not match the checksum in {CONFIG}: the file is corrupt or was replaced")
    try:
        state = load_file(path / WEIGHTS)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{path / WEIGHTS} cannot be read ({exc}); the folder is corrupt") from None
    return config, state


def _jsonable(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
