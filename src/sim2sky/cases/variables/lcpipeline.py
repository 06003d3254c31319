"""Light-curve classification trained on simulations: training set, classifier, real-survey evaluation.

The classifier is the engine's :class:`~sim2sky.learn.CalibratedClassifier` (temperature
scaling, Mahalanobis "unknown") on the features of :mod:`.lcfeatures` (scalars + folded
template), trained only on :func:`~.lcsim.simulate_lightcurves` at the target survey's cadence.
Shipped models: ``models/lc_eros1`` and ``models/lc_s82`` (``tools/train_lightcurve_models.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ...core.errors import InputError
from ...learn import CalibratedClassifier, ClassifierConfig, ClassifierNet, expected_calibration_error, mlp_classifier
from ...nn import Branches
from .cadence import get_survey
from .lcfeatures import FOLDED_BINS, features_table
from .lcsim import simulate_lightcurves
from .schema import LC_CLASSES, LC_FEATURE_NAMES, N_PHASE_BINS, REAL_GROUPS

__all__ = ["LightCurveTraining", "simulate_features", "sequence_network", "train_lightcurve_classifier",
           "load_lightcurve_model", "lightcurve_model_dir", "classify_lightcurves", "group_proba", "group_scores", "FEATURE_COLUMNS",
           "FOLDED_COLUMNS", "ENCODERS"]

FEATURE_COLUMNS = tuple(LC_FEATURE_NAMES) + tuple(f"template_{k:02d}" for k in range(N_PHASE_BINS))
#: the raw folded curve (magnitude channel, then epoch-count channel) read by the sequence encoder
FOLDED_COLUMNS = tuple(f"folded_{c}_{k:02d}" for c in ("mag", "count") for k in range(FOLDED_BINS))
#: "mlp": features only; "cnn": features + a 1-D CNN on the folded curve (measured in docs/guide.md)
ENCODERS = ("mlp", "cnn")


@dataclass(frozen=True)
class LightCurveTraining:
    """Settings of :func:`train_lightcurve_classifier`: simulations per class and the network."""

    survey: str = "eros1"
    n_per_class: int = 2000
    calibration_fraction: float = 0.2
    hidden: tuple = (256, 128, 64)
    epochs: int = 60
    seed: int = 0
    n_jobs: int = 2
    encoder: str = "mlp"


def simulate_features(survey: str, n: int, seed: int, n_jobs: int = 1, folded_bins: int = 0) -> dict:
    """Simulate ``n`` light curves (classes cycled) and compute their features.

    Returns ``x`` (m, N_FEATURES [+ 2 folded_bins]) float32, ``y`` (m,) class indices, ``period``
    (m,) true and ``period_found`` (m,) periodogram periods; rows whose features failed are dropped.
    """
    sims = simulate_lightcurves(n, survey, seed=seed)
    x, found, flags = features_table(sims["t"], sims["mag"], sims["err"], n_jobs=n_jobs, folded_bins=folded_bins)
    ok = (flags == 0) & np.isfinite(x).all(1)
    return {"x": x[ok], "y": sims["label"][ok], "period": sims["period"][ok], "period_found": found[ok]}


def sequence_network(n_classes: int = len(LC_CLASSES), hidden=(256, 128, 64), seed: int = 0) -> ClassifierNet:
    """Features -> MLP and the folded curve (2 channels x FOLDED_BINS) -> 1-D CNN, merged by an MLP."""
    import torch   # noqa: PLC0415  (seeding only)

    torch.manual_seed(seed)
    n_f = len(FEATURE_COLUMNS)
    parts = [{"start": 0, "stop": n_f, "shape": [n_f],
              "encoder": {"kind": "mlp", "in_features": n_f, "hidden": list(hidden[:2]), "activation": "silu"}},
             {"start": n_f, "stop": n_f + 2 * FOLDED_BINS, "shape": [2, FOLDED_BINS],
              "encoder": {"kind": "cnn1d", "in_features": FOLDED_BINS, "out_features": 32, "channels": [16, 32, 32],
                          "kernel": 5, "pooled": 5, "in_channels": 2}}]
    return ClassifierNet(Branches(parts, hidden=hidden[2:] or (64,)), n_classes, (n_f + 2 * FOLDED_BINS,))


def train_lightcurve_classifier(settings: LightCurveTraining = LightCurveTraining(), progress: bool = False,
                                training_set: dict | None = None) -> CalibratedClassifier:
    """Simulate a training set at ``settings.survey``'s cadence and fit a calibrated classifier.

    ``training_set`` (from :func:`simulate_features`) skips the simulation. The last
    ``calibration_fraction`` of the simulations fits the temperature and the "unknown" threshold.
    """
    get_survey(settings.survey)
    if settings.encoder not in ENCODERS:
        raise InputError(f"encoder: {settings.encoder!r} is not one of {ENCODERS}")
    cnn = settings.encoder == "cnn"
    data = training_set or simulate_features(settings.survey, settings.n_per_class * len(LC_CLASSES), settings.seed,
                                             settings.n_jobs, folded_bins=FOLDED_BINS if cnn else 0)
    x, y = data["x"], data["y"]
    names = FEATURE_COLUMNS + (FOLDED_COLUMNS if cnn else ())
    if x.shape[1] < len(names):
        raise InputError(f"training_set: {x.shape[1]} columns, the {settings.encoder} encoder needs {len(names)}")
    x = x[:, :len(names)]
    n_cal = int(len(x) * settings.calibration_fraction)
    if len(x) - n_cal < 10 * len(LC_CLASSES):
        raise InputError(f"n_per_class: {settings.n_per_class} simulations per class are too few to train on")
    net = (sequence_network(len(LC_CLASSES), settings.hidden, settings.seed) if cnn
           else mlp_classifier(x.shape[1], len(LC_CLASSES), hidden=settings.hidden, seed=settings.seed))
    clf = CalibratedClassifier(net, LC_CLASSES, ClassifierConfig(epochs=settings.epochs, seed=settings.seed),
                               feature_names=names, progress=progress)
    return clf.fit(x[:-n_cal], y[:-n_cal], x[-n_cal:], y[-n_cal:])


def lightcurve_model_dir(survey_or_path="eros1") -> Path:
    """The folder of a shipped model (``eros1``, ``s82``) or of a model path."""
    name = str(survey_or_path)
    if Path(name).is_dir():
        return Path(name)
    folder = resources.files(__package__).joinpath(f"models/lc_{name}")
    if not folder.is_dir():
        raise InputError(f"model: no shipped light-curve model for survey {name!r} (shipped: eros1, s82); "
                         "pass a model folder from 'sim2sky lightcurves train'")
    return Path(str(folder))


def load_lightcurve_model(survey_or_path="eros1") -> CalibratedClassifier:
    """A shipped model by survey name (``eros1``, ``s82``) or a model folder path."""
    return CalibratedClassifier.load(lightcurve_model_dir(survey_or_path))


def group_proba(proba: np.ndarray, classes=LC_CLASSES, groups=REAL_GROUPS) -> tuple[np.ndarray, tuple]:
    """Sum class probabilities (n, k) into the groups a survey labels: ``(proba (n, g), group names)``."""
    names = tuple(dict.fromkeys(groups[c] for c in classes))
    out = np.zeros((len(proba), len(names)), np.float64)
    for j, c in enumerate(classes):
        out[:, names.index(groups[c])] += proba[:, j]
    return out, names


def group_scores(proba_groups: np.ndarray, names, truth) -> dict:
    """Accuracy, macro-F1 over the true groups present, ECE and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, f1_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)

    truth = np.asarray(truth)
    if not set(truth) <= set(names):
        raise InputError(f"truth: groups {sorted(set(truth) - set(names))} are not among {names}")
    y = np.array([names.index(t) for t in truth])
    pred = proba_groups.argmax(1)
    present = sorted(set(y))
    return {"accuracy": float((pred == y).mean()),
            "macro_f1": float(f1_score(y, pred, labels=present, average="macro")),
            "ece": expected_calibration_error(proba_groups, y),
            "confusion": confusion_matrix(y, pred, labels=range(len(names))).tolist(), "groups": list(names), "n": len(y)}


def classify_lightcurves(t_list, mag_list, err_list, model="eros1", class_priors=None, n_jobs: int = 1) -> dict:
    """Classify light curves with a calibrated model.

    Returns ``label`` (n,) class or ``unknown`` (``flagged`` for fewer than 10 usable epochs),
    ``proba`` (n, k), ``period`` (n,) days, ``distance`` (n,), ``flag`` (n,), ``classes`` and the
    ``features`` (n, N_FEATURES) that were classified.
    """
    clf = model if isinstance(model, CalibratedClassifier) else load_lightcurve_model(model)
    folded = FOLDED_BINS if len(clf.feature_names or ()) > len(FEATURE_COLUMNS) else 0
    x, period, flag = features_table(t_list, mag_list, err_list, n_jobs=n_jobs, folded_bins=folded)
    ok = flag == 0
    k = len(clf.classes)
    proba, dist = np.full((len(x), k), np.nan), np.full(len(x), np.nan)
    label = np.full(len(x), "flagged", dtype=object)
    if ok.any():
        res = clf.predict_all(x[ok], class_priors=class_priors)
        proba[ok], dist[ok], label[ok] = res["proba"], res["distance"], res["label"]
    return {"label": label, "proba": proba, "period": period, "distance": dist, "flag": flag,
            "classes": tuple(clf.classes), "features": x}
