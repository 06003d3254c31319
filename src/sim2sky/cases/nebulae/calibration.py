"""``sim2sky nebulae calibrate``: class probabilities calibrated for one kind of line table.

The classifier's own temperature is fitted on complete simulated spectra, and is right there
(ECE 0.009-0.026 on left-out HII grids). A table with only the five strong lines (Hβ, [OIII],
Hα, [NII], [SII]) carries less information than the network's confidence assumes: ECE 0.13-0.15.
So a calibration is tied to the *lines a row has*: it is fitted on labelled rows that share one
pattern of measured lines (the most common in the calibration table) and applied only to rows
with exactly that pattern; other rows keep the model's probabilities (column ``calibrated``).

Fitted: temperature or vector scaling (:class:`~sim2sky.learn.calibrate.ProbabilityScaling`) and
conformal class sets; class priors (``--class-priors``) re-weight the calibrated probabilities
afterwards. Measured on 5-line tables of left-out HII grids in ``benchmarks/trust_nebulae.py``.
"""

from __future__ import annotations

import numpy as np

from ...core.errors import InputError
from ...learn.calibrate import ClassCalibration, calibrate_classes
from .features import FEATURE_LINES, FEATURE_NAMES

__all__ = ["line_pattern", "calibrate_line_rows", "NebulaCalibration"]

_MISSING = [FEATURE_NAMES.index(f"{line}_missing") for line in FEATURE_LINES]


def line_pattern(x: np.ndarray) -> np.ndarray:
    """(n,) the lines each row of features ``x`` (n, d) has, as the network sees them (Hα plus
    ``"HB4861|OIII5007|..."`` in :data:`~.features.FEATURE_LINES` order; ``SII6717_31`` whether
    the table gave the doublet summed or its two lines)."""
    have = np.asarray(x)[:, _MISSING] == 0
    names = np.asarray(FEATURE_LINES)
    return np.array(["|".join(names[row]) for row in have])


def calibrate_line_rows(proba, truth, patterns, classes, *, kind: str = "temperature", alpha: float = 0.1,
                        method: str = "aps") -> dict:
    """The calibration record of labelled rows: ``proba`` (n, K) raw (NaN = unusable row),
    ``truth`` (n,) class names, ``patterns`` (n,) :func:`line_pattern` of their features. The rows with the most
    common pattern are used; the record keeps it as ``lines``."""
    proba, truth, patterns = np.asarray(proba, float), np.asarray(truth).astype(str), np.asarray(patterns)
    ok = np.isfinite(proba).all(1) & np.isin(truth, classes)
    if not ok.any():
        raise InputError(f"labelled data: no usable row whose truth is one of {', '.join(classes)}")
    values, counts = np.unique(patterns[ok], return_counts=True)
    pattern = str(values[counts.argmax()])
    use = ok & (patterns == pattern)
    y = np.array([list(classes).index(t) for t in truth[use]])
    record = calibrate_classes(proba[use], y, classes, kind=kind, alpha=alpha, method=method)
    record.update(lines=pattern, n_rows_used=int(use.sum()), n_rows_other_lines=int((ok & ~use).sum()))
    return record


class NebulaCalibration(ClassCalibration):
    """A :func:`calibrate_line_rows` record: ``rows(patterns)`` says which rows it applies to."""

    def __init__(self, record: dict):
        super().__init__(record)
        self.lines = record["lines"]

    def rows(self, x: np.ndarray) -> np.ndarray:
        """(n,) True where a row of features ``x`` has exactly the calibration's lines (vectorised:
        cubes call this for every spaxel)."""
        want = np.isin(FEATURE_LINES, self.lines.split("|"))
        return ((np.asarray(x)[:, _MISSING] == 0) == want).all(1)
