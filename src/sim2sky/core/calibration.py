"""Calibrated model folders: a copy of a model folder plus what was fitted on real labels.

``sim2sky <case> calibrate MODEL LABELLED --out NEW`` writes ``NEW`` as a copy of ``MODEL`` with

* ``calibration.json``: the calibration set's SHA-256, size and source, what was fitted (with
  its parameters), and the coverage / ECE reached on cross-validated folds of that set;
* ``calibration.safetensors`` (optional): arrays the calibration needs at prediction time (the
  reference embeddings of the misspecification score),

sealed whole (``checksums.sha256``) like every model folder, written to a temporary sibling and
renamed. ``predict`` with ``NEW`` applies the calibration.

:func:`conformal_quantile` is the split-conformal threshold that the interval calibration
(:mod:`sim2sky.infer.calibrate`) and the conformal class sets (:mod:`sim2sky.learn.calibrate`) share.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from .atomic import atomic_dir, check_out_dir
from .errors import InputError, ModelFolderError
from .modelio import _jsonable, seal_folder, sha256_file, verify_folder

__all__ = ["CALIBRATION", "CALIBRATION_ARRAYS", "write_calibrated", "read_calibration", "data_digest",
           "conformal_quantile"]

CALIBRATION, CALIBRATION_ARRAYS = "calibration.json", "calibration.safetensors"


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ceil((n + 1)(1 - alpha))-th smallest score (inf when that exceeds n): the threshold
    with the split-conformal finite-sample guarantee."""
    s = np.sort(np.asarray(scores, float))
    k = int(np.ceil((len(s) + 1) * (1 - alpha)))
    return float(s[k - 1]) if k <= len(s) else float("inf")


def data_digest(data, n: int) -> dict:
    """``{"sha256", "n", "source"}`` of a calibration set: the file's SHA-256 when ``data`` is a
    path, else the SHA-256 of the labels and inputs handed over (``data`` as bytes)."""
    if isinstance(data, (str, Path)) and Path(data).is_file():
        return {"sha256": sha256_file(data), "n": int(n), "source": str(data)}
    return {"sha256": hashlib.sha256(data if isinstance(data, bytes) else repr(data).encode()).hexdigest(),
            "n": int(n), "source": "in memory"}


def write_calibrated(model_dir, out, record: dict, arrays: dict | None = None, overwrite: bool = False) -> Path:
    """Copy model folder ``model_dir`` to ``out`` with ``record`` as ``calibration.json`` (and
    ``arrays`` of float32 as ``calibration.safetensors``); seal and rename into place."""
    from safetensors.numpy import save_file

    model_dir = Path(model_dir)
    if Path(out).resolve() == model_dir.resolve():
        raise InputError("--out: must differ from the model folder being calibrated")
    out = check_out_dir(out, overwrite=overwrite)
    with atomic_dir(out) as tmp:
        shutil.rmtree(tmp)
        shutil.copytree(model_dir, tmp, ignore=shutil.ignore_patterns("__pycache__", ".*", CALIBRATION,
                                                                     CALIBRATION_ARRAYS))
        record = {**record, "calibrated_from": str(model_dir), "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                            time.gmtime())}
        (tmp / CALIBRATION).write_text(json.dumps(record, indent=2, default=_jsonable))
        if arrays:
            save_file({k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()}, str(tmp / CALIBRATION_ARRAYS))
        seal_folder(tmp)
    return out


def read_calibration(model_dir) -> tuple[dict | None, dict]:
    """``(record, arrays)`` of a calibrated folder (the seal is checked); ``(None, {})`` otherwise."""
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    if not (model_dir / CALIBRATION).is_file():
        return None, {}
    verify_folder(model_dir)
    try:
        record = json.loads((model_dir / CALIBRATION).read_text())
    except json.JSONDecodeError as exc:
        raise ModelFolderError(f"{model_dir / CALIBRATION} is not valid JSON ({exc})") from None
    arrays = load_file(str(model_dir / CALIBRATION_ARRAYS)) if (model_dir / CALIBRATION_ARRAYS).is_file() else {}
    return record, arrays

