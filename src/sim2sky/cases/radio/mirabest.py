"""The real labelled images: MiraBest (Miraghaei & Best 2017; Porter & Scaife 2023, arXiv:2305.11108).

1,255 FIRST cutouts (150 x 150 px of 1.8", Jy/beam) from the data registry (``sim2sky data fetch
mirabest`` or ``$SIM2SKY_DATA``). Labels map onto the classifier's classes: FRI standard and
double-double -> ``FRI``; wide-angle and head-tail (FRI in MiraBest) -> ``Bent``; FRII ->
``FRII``; hybrids -> ``Hybrid`` (not a class: the classifier should call them unknown). MiraBest
has no compact sources.

One fixed split, seeded and stratified by the 3-digit code: ``test`` (25%; nothing trains, tunes
or calibrates on it), ``calibration`` (15%; temperature and "unknown" threshold), ``train`` (60%).
"""

from __future__ import annotations

import numpy as np

from ...core.data import dataset_file
from ...core.tables import read_table

__all__ = ["load_mirabest", "mirabest_splits", "select_rows", "mirabest_class", "split_indices", "SPLIT_SEED", "SPLITS"]

SPLIT_SEED = 33
SPLITS = {"test": 0.25, "calibration": 0.15, "train": 0.60}


def mirabest_class(code) -> np.ndarray:
    """sim2sky class names (n,) of MiraBest 3-digit codes."""
    code = np.asarray(code, int)
    fr, morph = code // 100, code % 10
    return np.where(fr == 3, "Hybrid", np.where(fr == 2, "FRII", np.where(np.isin(morph, (2, 4)), "Bent", "FRI")))


def split_indices(code, seed: int = SPLIT_SEED) -> dict:
    """``{"test", "calibration", "train"}`` -> sorted row indices, stratified by code."""
    code = np.asarray(code, int)
    rng = np.random.default_rng(seed)
    out = {k: [] for k in SPLITS}
    for c in np.unique(code):
        idx = rng.permutation(np.flatnonzero(code == c))
        n_test = int(round(SPLITS["test"] * len(idx)))
        n_cal = int(round(SPLITS["calibration"] * len(idx)))
        out["test"] += list(idx[:n_test])
        out["calibration"] += list(idx[n_test:n_test + n_cal])
        out["train"] += list(idx[n_test + n_cal:])
    return {k: np.sort(np.asarray(v, int)) for k, v in out.items()}


def load_mirabest(split: str | None = None, data_dir=None) -> dict:
    """MiraBest images (n, 150, 150) float32 [Jy/beam] and labels, one split or all.

    Returns
    -------
    dict
        ``images``, ``code``, ``label`` (sim2sky class), ``confident`` (bool), ``ra``/``dec``
        [deg], ``z``, ``size_arcsec``, ``file``, ``pixel_arcsec`` (1.8), ``beam_arcsec`` (5.4).
    """
    data = _read(data_dir)
    return select_rows(data, np.arange(len(data["code"])) if split is None else split_indices(data["code"])[split])


def mirabest_splits(data_dir=None) -> dict:
    """``{"train", "calibration", "test"}`` -> :func:`load_mirabest`'s dict of that split, the files read once."""
    data = _read(data_dir)
    return {name: select_rows(data, rows) for name, rows in split_indices(data["code"]).items()}


def select_rows(data: dict, rows) -> dict:
    """The rows ``rows`` of a MiraBest dict (images as float32)."""
    n = len(data["code"])
    out = {k: (v[rows] if isinstance(v, np.ndarray) and len(v) == n else v) for k, v in data.items()}
    out["images"] = out["images"].astype(np.float32)
    return out


def _read(data_dir=None) -> dict:
    npz = np.load(dataset_file("mirabest", "radio/mirabest/mirabest_first_150px_float16.npz", data_dir))
    table = read_table(dataset_file("mirabest", "radio/mirabest/mirabest_labels.csv", data_dir))
    code = np.asarray(npz["code"], int)
    if not np.array_equal(code, np.asarray(table["code"], int)):
        raise ValueError("mirabest: the image file and the label table disagree on the codes")
    return {"images": npz["images"], "code": code, "label": mirabest_class(code), "confident": (code // 10) % 10 == 0,
            "ra": np.asarray(table["ra"], float), "dec": np.asarray(table["dec"], float),
            "z": np.asarray(table["z"], float), "size_arcsec": np.asarray(table["size_arcsec"], float),
            "file": np.asarray(table["file"]).astype(str), "pixel_arcsec": 1.8, "beam_arcsec": 5.4}
