"""Readers of real labelled light curves: EROS-1 (LMC) and SDSS Stripe 82 RR Lyrae.

* EROS-1: 3,641 stars of the RAMP "variable stars" kit (train 2,912 / test 729), types 1 binary,
  2 Cepheid, 3 RR Lyrae, 4 Mira (mapped to ``EB``, ``Cep``, ``RRL``, ``LPV``); light curves in the
  blue (B_E) and red (R_E) bands in magnitudes.
* Stripe 82: 483 RR Lyrae of Sesar et al. (2010, arXiv:0910.4611) with ugriz light curves, types
  ab/c and periods (their table 2).
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import tarfile

import numpy as np

from ...core.data import dataset_file
from ...core.errors import InputError
from .schema import EROS_TYPES

__all__ = ["read_eros", "read_s82"]


def read_eros(split: str = "test", band: str = "b", data_dir=None) -> dict:
    """EROS-1 light curves of one split (``train`` or ``test``) and band (``b`` or ``r``).

    Returns a dict with ``id`` (n,), ``t``, ``mag``, ``err`` (lists of arrays; days, mag, mag),
    ``group`` (n,) of ``EB``/``Cep``/``RRL``/``LPV``, ``period`` (n,) the kit's catalogue period.
    """
    if split not in ("train", "test") or band not in ("b", "r"):
        raise InputError(f"split/band: expected train|test and b|r, got {split!r}, {band!r}")
    meta = {}
    with open(dataset_file("eros", f"variables/eros/{split}.csv", data_dir), newline="") as fh:
        for row in csv.DictReader(fh):
            meta[row[""] if "" in row else row["Unnamed: 0"]] = row
    csv.field_size_limit(1 << 30)
    out = {"id": [], "t": [], "mag": [], "err": [], "group": [], "period": []}
    with gzip.open(dataset_file("eros", f"variables/eros/{split}_varlength_features.csv.gz", data_dir), "rt") as fh:
        for row in csv.DictReader(fh):
            key = row[""]
            if key not in meta:
                continue
            out["id"].append(key)
            for name, col in (("t", "time_points"), ("mag", "light_points"), ("err", "error_points")):
                out[name].append(np.asarray(ast.literal_eval(row[f"{col}_{band}"]), float))
            out["group"].append(EROS_TYPES[int(float(meta[key]["type"]))])
            out["period"].append(float(meta[key]["period"]))
    for k in ("id", "group", "period"):
        out[k] = np.asarray(out[k])
    return out


def read_s82(band: str = "g", data_dir=None) -> dict:
    """Stripe 82 RR Lyrae light curves in one band: ``id``, ``t``, ``mag``, ``err``, ``type``
    (``RRab``/``RRc``), ``period`` (days, Sesar et al. 2010)."""
    bands = "ugriz"
    if band not in bands:
        raise InputError(f"band: expected one of u, g, r, i, z, got {band!r}")
    j = bands.index(band)
    out = {"id": [], "t": [], "mag": [], "err": [], "type": [], "period": []}
    with tarfile.open(dataset_file("s82-rrlyr", "variables/s82_rrlyr.tar.gz", data_dir)) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        table2 = [m for n, m in members.items() if n.endswith("table2.dat.gz")]
        if not table2:
            raise InputError("s82_rrlyr.tar.gz has no table2.dat.gz (types and periods)")
        text = gzip.decompress(tar.extractfile(table2[0]).read()).decode()
        info = {}
        for line in io.StringIO(text):
            if line.startswith("#") or not line.strip():
                continue
            p = line.split()
            info[p[0]] = ("RRab" if p[1] == "ab" else "RRc", float(p[2]))
        for name, m in sorted(members.items()):
            if "/table1/" not in name or not name.endswith(".dat"):
                continue
            sid = name.rsplit("/", 1)[1][:-4]
            if sid not in info:
                continue
            rows = np.loadtxt(tar.extractfile(m), ndmin=2)
            t, mag, err = rows[:, 2 + 3 * j], rows[:, 3 + 3 * j], rows[:, 4 + 3 * j]
            good = (mag > 0) & (mag < 30) & (err > 0) & (err < 1)
            out["id"].append(sid)
            out["t"].append(t[good])
            out["mag"].append(mag[good])
            out["err"].append(err[good])
            out["type"].append(info[sid][0])
            out["period"].append(info[sid][1])
    for k in ("id", "type", "period"):
        out[k] = np.asarray(out[k])
    return out
