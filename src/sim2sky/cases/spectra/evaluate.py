"""Theory -> real: score the spectra models on labelled real spectra (MILES stars, SDSS/MaNGA).

Nothing here trains or tunes on the labels: they are only compared with predictions. The
MILES development set (registry dataset ``miles``: 656 stars, catalogued T_eff, log g, [Fe/H]
and spectral types) is read like any user file.
"""

from __future__ import annotations

import numpy as np

from ...core.data import dataset_file
from .io import SpectrumSet, read_spectra
from .schema import STAR_CLASSES

__all__ = ["miles", "spectral_class", "parameter_table", "star_type_accuracy", "TEFF_RANGES", "coverage",
           "robust_scatter"]

#: T_eff ranges of the report [K]
TEFF_RANGES = {"M (<4000 K)": (0, 4000), "K (4000-5200 K)": (4000, 5200), "G (5200-6000 K)": (5200, 6000),
               "F (6000-7500 K)": (6000, 7500), "A/B (>7500 K)": (7500, 1e6), "FGK (4000-7500 K)": (4000, 7500)}


def miles(data_dir=None) -> SpectrumSet:
    """The MILES development set as a :class:`SpectrumSet` (catalogue columns in ``meta``)."""
    return read_spectra(dataset_file("miles", "stars/miles_dev.fits.gz", data_dir))


def spectral_class(spt) -> np.ndarray:
    """sim2sky star class from a catalogued spectral type ('G3 V' -> STAR_G; O and B -> STAR_B;
    white dwarfs 'D...' -> STAR_WD); '' for types outside the scheme (C, S, unknown)."""
    out = []
    for s in np.asarray(spt).astype(str):
        t = s.strip().upper()
        if t.startswith(("D", "WD")):
            out.append("STAR_WD")
        elif t[:1] in ("O", "B"):
            out.append("STAR_B")
        elif t[:1] in ("A", "F", "G", "K", "M"):
            out.append(f"STAR_{t[0]}")
        else:
            out.append("")
    return np.asarray(out)


def robust_scatter(d: np.ndarray) -> float:
    """1.4826 x median absolute deviation from the median."""
    d = np.asarray(d, float)
    return float(1.4826 * np.median(np.abs(d - np.median(d)))) if len(d) else float("nan")


def coverage(truth, lo, hi) -> float:
    truth = np.asarray(truth, float)
    return float(np.mean((truth >= lo) & (truth <= hi))) if len(truth) else float("nan")


def parameter_table(truth: dict, pred: dict, ranges: dict = TEFF_RANGES) -> list[dict]:
    """Per T_eff range and parameter: n, bias (median of pred - truth), robust scatter, rms and
    the fraction of catalogue values inside the 16-84% interval (68% if calibrated).

    ``truth``: TEFF, LOGG, FEH arrays (NaN / 9999 = missing); ``pred``: ``<KEY>_mean``, ``_q16``, ``_q84``.
    """
    rows = []
    teff = np.asarray(truth["TEFF"], float)
    for name, (lo, hi) in ranges.items():
        in_range = np.isfinite(teff) & (teff >= lo) & (teff < hi)
        for key in ("TEFF", "LOGG", "FEH"):
            t = np.asarray(truth[key], float)
            ok = in_range & np.isfinite(t) & ~np.isin(t, (9999.0, -9999.0)) & np.isfinite(pred[f"{key}_mean"])
            d = pred[f"{key}_mean"][ok] - t[ok]
            rows.append({"range": name, "parameter": key, "n": int(ok.sum()),
                         "bias": float(np.median(d)) if ok.any() else float("nan"),
                         "scatter": robust_scatter(d), "rms": float(np.sqrt(np.mean(d**2))) if ok.any() else float("nan"),
                         "coverage68": coverage(t[ok], pred[f"{key}_q16"][ok], pred[f"{key}_q84"][ok])})
    return rows


def star_type_accuracy(labels, spt) -> dict:
    """Spectral-class accuracy against catalogued types (only stars with a type in the scheme)."""
    truth = spectral_class(spt)
    labels = np.asarray(labels).astype(str)
    ok = truth != ""
    star = np.isin(labels, STAR_CLASSES)
    out = {"n": int(ok.sum()), "star_fraction": float(star[ok].mean()),
           "type_accuracy": float((labels[ok] == truth[ok]).mean()),
           "within_one_type": float(np.mean([_adjacent(a, b) for a, b in zip(labels[ok], truth[ok])]))}
    out["per_type"] = {c: {"n": int((truth == c).sum()), "accuracy": float((labels[truth == c] == c).mean())}
                       for c in STAR_CLASSES if (truth == c).any()}
    return out


_ORDER = ("STAR_B", "STAR_A", "STAR_F", "STAR_G", "STAR_K", "STAR_M")


def _adjacent(a: str, b: str) -> bool:
    if a == b:
        return True
    return a in _ORDER and b in _ORDER and abs(_ORDER.index(a) - _ORDER.index(b)) == 1
