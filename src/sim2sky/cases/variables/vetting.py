"""Vetting of Kepler threshold-crossing events (TCEs) from their catalogued transit parameters.

The DR24 TCE table (Seader et al. 2015, arXiv:1501.03586; the labels of Shallue & Vanderburg
2018, arXiv:1712.05044) gives period, epoch, duration and depth with errors for 20,367 TCEs;
``av_training_set`` labels 3,600 planet candidates (PC), 9,596 astrophysical false positives
(AFP) and 2,541 non-transiting phenomena (NTP). A calibrated classifier on physically motivated
features (depth S/N, duty cycle, duration over the duration expected for a Sun-like host, the
number of TCEs on the star...) scores P(planet candidate). The split is by star (``kepid``),
never by TCE, so multi-planet systems do not leak between train and test.
"""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np

from ...core.data import dataset_file
from ...core.errors import InputError
from ...learn import CalibratedClassifier, ClassifierConfig, group_split, mlp_classifier, recall_at_precision

__all__ = ["read_tces", "tce_features", "TCE_FEATURES", "split_by_star", "recall_at_precision", "labelled_tces",
           "train_vetter", "load_vetter", "VETTER_CLASSES"]

VETTER_CLASSES = ("not_planet", "planet")

TCE_FEATURES = ("log_period", "log_duration_hr", "log_depth_ppm", "log_depth_snr", "log_duty_cycle",
                "log_duration_over_expected", "log_period_rel_err", "log_epoch_err", "log_duration_rel_err",
                "planet_number", "tces_on_star", "log_period_ratio_nearest")
_LABELS = ("PC", "AFP", "NTP")


def read_tces(path=None, data_dir=None) -> dict:
    """Read the DR24 TCE table: dict of arrays (n,) by column name, ``av_training_set`` as str."""
    path = Path(path) if path is not None else dataset_file("kepler-dr24", "transits/dr24_tce.csv.gz", data_dir)
    if not path.is_file():
        raise InputError(f"TCE table {path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        lines = [ln for ln in fh if not ln.startswith("#") and ln.strip()]
    header = lines[0].strip().split(",")
    need = ("kepid", "tce_plnt_num", "tce_period", "tce_period_err", "tce_time0bk_err", "tce_duration",
            "tce_duration_err", "tce_depth", "tce_depth_err")
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"{path}: columns {missing} missing (expected the NASA Exoplanet Archive DR24 TCE table)")
    rows = [ln.strip().split(",") for ln in lines[1:]]
    out = {}
    for i, name in enumerate(header):
        col = [r[i] if i < len(r) else "" for r in rows]
        if name == "av_training_set":
            out[name] = np.array(col)
        else:
            out[name] = np.array([float(v) if v else np.nan for v in col])
    return out


def tce_features(tces: dict) -> np.ndarray:
    """Feature matrix (n, len(TCE_FEATURES)) float32; missing errors imputed by the median."""
    def log(a):
        return np.log10(np.where(a > 0, a, np.nan))

    with np.errstate(divide="ignore", invalid="ignore"):
        return _features(tces, log)


def _features(tces, log):
    period, dur, depth = tces["tce_period"], tces["tce_duration"], tces["tce_depth"]
    # duration of a central transit of a Sun-like star: 13 h (P / 365 d)^(1/3)
    expected = 13.0 * (period / 365.25) ** (1 / 3)
    kepid = tces["kepid"]
    _, inverse, counts = np.unique(kepid, return_inverse=True, return_counts=True)
    nearest = np.full(len(period), np.nan)
    order = np.lexsort((period, kepid))
    for a, b in zip(order[:-1], order[1:]):
        if kepid[a] == kepid[b]:
            r = np.log10(period[b] / period[a])
            nearest[a] = r if np.isnan(nearest[a]) else min(nearest[a], r)
            nearest[b] = r if np.isnan(nearest[b]) else min(nearest[b], r)
    cols = [log(period), log(dur), log(depth), log(depth / tces["tce_depth_err"]), log(dur / 24.0 / period),
            log(dur / expected), log(tces["tce_period_err"] / period), log(tces["tce_time0bk_err"]),
            log(tces["tce_duration_err"] / dur), tces["tce_plnt_num"], counts[inverse].astype(float),
            np.where(np.isnan(nearest), 3.0, nearest)]
    x = np.column_stack(cols)
    for j in range(x.shape[1]):
        bad = ~np.isfinite(x[:, j])
        if bad.any():
            x[bad, j] = np.nanmedian(x[~bad, j]) if (~bad).any() else 0.0
    return x.astype(np.float32)


def split_by_star(kepid: np.ndarray, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Boolean masks (train, calibration, test) assigning whole stars to one part each."""
    return group_split(kepid, fractions, seed)


def labelled_tces(tces: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features, y, kepid)`` of the labelled TCEs: y = 1 for PC, 0 for AFP and NTP (UNK dropped)."""
    lab = tces["av_training_set"]
    keep = np.isin(lab, _LABELS)
    return tce_features(tces)[keep], (lab[keep] == "PC").astype(np.int64), tces["kepid"][keep]


def train_vetter(x, y, x_cal, y_cal, epochs: int = 100, seed: int = 0) -> CalibratedClassifier:
    """Calibrated MLP vetter (P(planet candidate)) on TCE features."""
    net = mlp_classifier(x.shape[1], 2, hidden=(256, 128, 64), seed=seed)
    clf = CalibratedClassifier(net, VETTER_CLASSES, ClassifierConfig(epochs=epochs, batch_size=256, seed=seed),
                               feature_names=TCE_FEATURES)
    return clf.fit(x, y, x_cal, y_cal)


def load_vetter(path=None) -> CalibratedClassifier:
    """The shipped DR24 vetter (trained on the train split of stars of :func:`split_by_star`, seed 0)."""
    if path is None:
        path = Path(str(resources.files(__package__).joinpath("models/tce_vetter")))
    return CalibratedClassifier.load(path)
