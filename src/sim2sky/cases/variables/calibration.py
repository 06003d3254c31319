"""Calibrating the light-curve classifier on real labelled stars (``sim2sky lightcurves calibrate``).

Real surveys label fewer, coarser classes than the simulations: EROS-1 says ``EB``, ``Cep``,
``RRL``, ``LPV`` where the model has RRab/RRc/Cep/LPV/EB/DSCT/constant. The calibration works
at the level the labels give:

* **group** level (truth values are survey groups of :data:`~.schema.REAL_GROUPS`): the class
  probabilities are summed into groups (:func:`~.lcpipeline.group_proba`), then temperature or
  vector scaling and conformal sets are fitted on the groups; predictions gain ``group``,
  ``p_group``, ``p_group_<G>``, ``group_set`` and ``set_size``;
* **class** level (truth values are model classes, e.g. RRab/RRc in Stripe 82): the seven class
  probabilities are rescaled and ``p_<class>``, ``class``, ``class_set`` and ``set_size`` change.

Vector scaling is the default here: it has a bias per group, which absorbs the class-prior shift
between the cycled simulations and a survey's real mix (measured on EROS-1 in
``benchmarks/trust_lightcurves.py``). Stars the classifier flags (fewer than 10 epochs) are
left out of the fit and keep NaN probabilities.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np

from ...core.calibration import data_digest, read_calibration, write_calibrated
from ...core.errors import InputError
from ...core.tables import long_table
from ...learn.calibrate import ClassCalibration, calibrate_classes
from ...learn.classifier import UNKNOWN
from .lcpipeline import group_proba
from .schema import LC_CLASSES, REAL_GROUPS
from .surveys import read_eros, read_s82

__all__ = ["eros_table", "s82_table", "calibrate_lightcurves", "LightCurveCalibration",
           "GROUP_NAMES", "write_lightcurve_calibration", "S82_SPLIT_SEED", "s82_halves"]

#: the survey groups, in the order of :func:`~.lcpipeline.group_proba`
GROUP_NAMES = tuple(dict.fromkeys(REAL_GROUPS[c] for c in LC_CLASSES))
#: the seed of the one cut of the Stripe 82 RR Lyrae (no official split) into calibration/report halves
S82_SPLIT_SEED = 20261206


def s82_halves(n: int, seed: int = S82_SPLIT_SEED) -> np.ndarray:
    """(n,) True for the calibration half of the Stripe 82 stars in :func:`~.surveys.read_s82`
    order; the other half is the one reported."""
    return np.random.default_rng(seed).permutation(n) % 2 == 0


def eros_table(split: str = "train", band: str = "b", data_dir=None):
    """EROS-1 stars of ``split`` as a long table (``id``, ``t`` [d], ``mag``, ``err`` [mag]) with
    the per-star truth ``group`` (EB/Cep/RRL/LPV) and catalogue ``period`` [d]."""
    d = read_eros(split, band, data_dir)
    return long_table(d["id"], {c: d[c] for c in ("t", "mag", "err")}, {"group": d["group"], "period": d["period"]},
                      meta={"survey": "eros1", "split": split, "band": band},
                      units={"t": u.d, "mag": u.mag, "err": u.mag, "period": u.d})


def s82_table(band: str = "g", data_dir=None):
    """Stripe 82 RR Lyrae as a long table with the per-star truth ``class`` (RRab/RRc) and ``period`` [d]."""
    d = read_s82(band, data_dir)
    return long_table(d["id"], {c: d[c] for c in ("t", "mag", "err")}, {"class": d["type"], "period": d["period"]},
                      meta={"survey": "s82", "band": band},
                      units={"t": u.d, "mag": u.mag, "err": u.mag, "period": u.d})


def calibrate_lightcurves(proba: np.ndarray, truth, classes=LC_CLASSES, *, kind: str = "vector", alpha: float = 0.1,
                          method: str = "aps", folds: int = 5, seed: int = 0) -> dict:
    """The calibration record of real stars: ``proba`` (n, 7) raw class probabilities (NaN rows,
    flagged stars, are left out) and ``truth`` (n,) model classes or survey groups."""
    proba = np.asarray(proba, float)
    truth = np.asarray(truth).astype(str)
    if len(truth) != len(proba):
        raise InputError(f"truth: {len(truth)} labels for {len(proba)} stars")
    ok = np.isfinite(proba).all(1)
    labels = set(truth[ok])
    if labels <= set(classes):
        level, names, p = "class", tuple(classes), proba[ok]
    elif labels <= set(GROUP_NAMES):
        level = "group"
        p, names = group_proba(proba[ok], classes)
    else:
        raise InputError(f"truth: labels {sorted(labels - set(classes) - set(GROUP_NAMES))} are neither model "
                         f"classes {tuple(classes)} nor survey groups {GROUP_NAMES}")
    y = np.array([names.index(v) for v in truth[ok]])
    record = calibrate_classes(p, y, names, kind=kind, alpha=alpha, method=method, folds=folds, seed=seed)
    record.update(level=level, n_flagged=int((~ok).sum()))
    return record


class LightCurveCalibration(ClassCalibration):
    """A :func:`calibrate_lightcurves` record applied to classification columns."""

    def __init__(self, record: dict):
        super().__init__(record)
        self.level = record.get("level", "class")

    @classmethod
    def from_folder(cls, model_dir) -> "LightCurveCalibration | None":
        record, _ = read_calibration(model_dir)
        return None if record is None or record.get("case") != "lightcurves" else cls(record)

    def apply_columns(self, columns: dict, proba: np.ndarray, classes, offset: int = 0) -> None:
        """Add/replace the calibrated columns of :func:`~.lcapi.classify_lightcurve_table` in place
        (``offset``: the first row's index when a table is classified in pieces)."""
        ok = np.isfinite(proba).all(1)
        names = np.asarray(self.classes)
        p = np.full((len(proba), len(names)), np.nan)
        sets = np.zeros((len(proba), len(names)), bool)
        base = group_proba(proba[ok], classes)[0] if self.level == "group" else proba[ok]
        if ok.any():
            p[ok], sets[ok] = self.apply(base, offset)
        best = np.where(ok, names[np.nan_to_num(p).argmax(1)], "")
        label_sets = np.where(ok, self.set_labels(sets), "")
        if self.level == "group":
            columns["group"], columns["p_group"] = best, np.where(ok, np.nan_to_num(p).max(1), np.nan)
            for j, g in enumerate(names):
                columns[f"p_group_{g}"] = p[:, j]
            columns["group_set"] = label_sets
        else:
            label = np.asarray(columns["class"]).astype(object)
            keep = ok & (label != UNKNOWN)              # the out-of-distribution test still decides
            label[keep] = best[keep]
            columns["class"] = label.astype(str)
            for j, c in enumerate(names):
                columns[f"p_{c}"] = p[:, j]
            columns["class_set"] = label_sets
        columns["set_size"] = sets.sum(1)


def write_lightcurve_calibration(model_dir, out, record: dict, data, n: int, settings: dict,
                                 overwrite: bool = False) -> Path:
    """Record the calibration set and settings and write the calibrated folder ``out``."""
    record.update(case="lightcurves", model="classifier", dataset=data_digest(data, n), settings=settings)
    return write_calibrated(model_dir, out, record, overwrite=overwrite)
