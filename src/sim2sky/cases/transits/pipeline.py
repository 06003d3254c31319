"""Light-curve transit vetter trained on simulated TCEs: training set, network, scoring, vetting.

A TCE is what :func:`~.search.search_tce` finds in a simulated Kepler quarter
(:mod:`.forward`); the vetter is the engine's :class:`~sim2sky.learn.CalibratedClassifier`
on a two-view network (:class:`~sim2sky.nn.Branches`: an MLP on the scalar diagnostics, a 1-D
CNN on the global view, a 1-D CNN on the four local views as channels) predicting the scenario
(planet, EB, BEB, systematic); P(planet) is the vetting score. Shipped model:
``models/transit_vetter`` (``tools/train_timeseries_models.py transits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed

from ...core.errors import InputError
from ...core.threads import resolve_jobs
from ...learn import CalibratedClassifier, ClassifierConfig, ClassifierNet, expected_calibration_error, recall_at_precision
from ...nn import Branches
from .schema import GLOBAL_BINS, LOCAL_BINS, LOCAL_CHANNELS, N_INPUTS, PLANET, SCALAR_NAMES, SCENARIOS
from .search import search_tce, search_views, tce_inputs, tce_views
from .forward import simulate_scenario

__all__ = ["TransitTraining", "simulate_tce_set", "vetter_network", "train_transit_vetter", "load_transit_vetter",
           "vet_lightcurves", "vetting_scores", "tce_label", "INPUT_NAMES"]

INPUT_NAMES = (tuple(SCALAR_NAMES) + tuple(f"global_{k:03d}" for k in range(GLOBAL_BINS))
               + tuple(f"{c}_{k:02d}" for c in LOCAL_CHANNELS for k in range(LOCAL_BINS)))


@dataclass(frozen=True)
class TransitTraining:
    """Settings of :func:`train_transit_vetter`.

    ``window``: injected signals are searched within +-``window`` (relative) of P/2, P and 2P
    (same grid density as the full search, ~40x cheaper); systematics get the full search.
    """

    n_per_scenario: int = 1000
    calibration_fraction: float = 0.2
    epochs: int = 40
    window: float = 0.02
    seed: int = 0
    n_jobs: int = 2


def tce_label(scenario: str, truth: dict, tce: dict) -> str | None:
    """What caused a TCE found in a simulated light curve: the injected scenario, or ``systematic``.

    A TCE is credited to the injected planet when its period is the true one (0.5%) and its
    epoch falls on a true transit; to an injected binary also at half or twice the period
    (primary and secondary folded together, or apart). A planet found at half or twice its
    period is ambiguous and dropped (None). Anything else was triggered by stellar
    variability or instrumental noise: ``systematic``, as Kepler's "not transit-like" TCEs.
    """
    period = truth["period"]
    if scenario == "systematic" or not np.isfinite(period):
        return "systematic"
    ratio = tce["period"] / period
    near = [f for f in (0.5, 1.0, 2.0) if abs(ratio / f - 1) < 0.005]
    if not near:
        return "systematic"
    step = min(period, tce["period"])
    offset = abs(np.mod(tce["t0"] - truth["t0"] + 0.5 * step, step) - 0.5 * step)
    if offset > max(tce["duration"], 0.05):
        return "systematic"
    if scenario == PLANET and near[0] != 1.0:
        return None
    return scenario


def _one_tce(scenario, seed, k, window):
    sim = simulate_scenario(scenario, np.random.default_rng([seed, k]))
    period = sim["truth"]["period"]
    windows = None
    if window and np.isfinite(period):
        windows = [(f * period * (1 - window), f * period * (1 + window)) for f in (0.5, 1.0, 2.0)]
    tce = search_tce(sim["t"], sim["flux"], sim["err"], windows=windows)
    label = None if tce is None else tce_label(scenario, sim["truth"], tce)
    if label is None:
        return None
    x = tce_inputs(tce_views(sim["t"], sim["flux"], sim["err"], tce))
    return x, SCENARIOS.index(label), tce["period"], period, tce["snr"]


def simulate_tce_set(n: int, seed: int = 0, window: float = 0.02, n_jobs: int = 1) -> dict:
    """Simulate ``n`` light curves (scenarios cycled), search them and keep the TCEs.

    Returns ``x`` (m, N_INPUTS) float32, ``y`` (m,) scenario indices of what caused the TCE
    (:func:`tce_label`), ``injected`` (m,) the simulated scenario, ``period`` (m,) found and
    ``true_period`` (m,) days, ``snr`` (m,), ``index`` (m,) of the light curve, ``n_simulated``.
    """

    jobs = [delayed(_one_tce)(SCENARIOS[k % len(SCENARIOS)], seed, k, window) for k in range(n)]
    res = Parallel(n_jobs=n_jobs, batch_size=8)(jobs) if n_jobs > 1 else [j[0](*j[1]) for j in jobs]
    keep = [k for k, r in enumerate(res) if r is not None]
    if not keep:
        return {"x": np.zeros((0, N_INPUTS), np.float32), "y": np.zeros(0, np.int64), "n_simulated": n}
    return {"x": np.stack([res[k][0] for k in keep]), "y": np.array([res[k][1] for k in keep]),
            "injected": np.array([k % len(SCENARIOS) for k in keep]), "period": np.array([res[k][2] for k in keep]),
            "true_period": np.array([res[k][3] for k in keep]), "snr": np.array([res[k][4] for k in keep]),
            "index": np.array(keep), "n_simulated": n}


def vetter_network(seed: int = 0) -> ClassifierNet:
    """Scalars -> MLP, global view -> 1-D CNN, 4 local views -> 1-D CNN; merged by an MLP."""
    torch.manual_seed(seed)
    n_s, n_g = len(SCALAR_NAMES), GLOBAL_BINS
    parts = [{"start": 0, "stop": n_s, "shape": [n_s], "encoder": {"kind": "mlp", "in_features": n_s, "hidden": [64],
                                                                   "out_features": 32, "activation": "silu"}},
             {"start": n_s, "stop": n_s + n_g, "shape": [n_g],
              "encoder": {"kind": "cnn1d", "in_features": n_g, "out_features": 32, "channels": [16, 32, 32],
                          "kernel": 5, "pooled": 8}},
             {"start": n_s + n_g, "stop": N_INPUTS, "shape": [len(LOCAL_CHANNELS), LOCAL_BINS],
              "encoder": {"kind": "cnn1d", "in_features": LOCAL_BINS, "out_features": 32, "channels": [16, 32],
                          "kernel": 5, "pooled": 8, "in_channels": len(LOCAL_CHANNELS)}}]
    return ClassifierNet(Branches(parts, hidden=(128, 64)), len(SCENARIOS), (N_INPUTS,))


def train_transit_vetter(settings: TransitTraining = TransitTraining(), training_set: dict | None = None,
                         network: ClassifierNet | None = None, progress: bool = False) -> CalibratedClassifier:
    """Fit the calibrated vetter on simulated TCEs (the last ``calibration_fraction`` calibrates)."""
    data = training_set or simulate_tce_set(settings.n_per_scenario * len(SCENARIOS), settings.seed, settings.window,
                                            settings.n_jobs)
    x, y = data["x"], data["y"]
    n_cal = int(len(x) * settings.calibration_fraction)
    if len(x) - n_cal < 20 * len(SCENARIOS) or n_cal < 4 * len(SCENARIOS):
        raise InputError(f"n_per_scenario: {settings.n_per_scenario} light curves per scenario gave {len(x)} TCEs, "
                         "too few to train on")
    net = network or vetter_network(settings.seed)
    clf = CalibratedClassifier(net, SCENARIOS, ClassifierConfig(epochs=settings.epochs, batch_size=128,
                                                                seed=settings.seed),
                               feature_names=INPUT_NAMES, progress=progress)
    return clf.fit(x[:-n_cal], y[:-n_cal], x[-n_cal:], y[-n_cal:])


def load_transit_vetter(path=None) -> CalibratedClassifier:
    """The shipped vetter (trained on simulations only), or a model folder."""
    if path is None:
        path = Path(str(resources.files(__package__).joinpath("models/transit_vetter")))
    if not Path(path).is_dir():
        raise InputError(f"model: {path} is not a model folder (from 'sim2sky transits train')")
    return CalibratedClassifier.load(path)


def vetting_scores(proba: np.ndarray, y: np.ndarray) -> dict:
    """Planet-vs-rest AUC, average precision, recall at 99%/90% precision; scenario accuracy, ECE, confusion."""
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)

    planet = (np.asarray(y) == SCENARIOS.index(PLANET)).astype(int)
    score = proba[:, SCENARIOS.index(PLANET)]
    return {"auc": float(roc_auc_score(planet, score)), "average_precision": float(average_precision_score(planet, score)),
            "recall_at_99_precision": recall_at_precision(score, planet, 0.99),
            "recall_at_90_precision": recall_at_precision(score, planet, 0.90),
            "scenario_accuracy": float((proba.argmax(1) == y).mean()), "ece": expected_calibration_error(proba, y),
            "confusion": confusion_matrix(y, proba.argmax(1), labels=range(len(SCENARIOS))).tolist(), "n": len(y)}


def _searched(items, n_jobs: int) -> list:
    """:func:`~.search.search_views` of each (t, flux, err), in ``n_jobs`` processes (0: every core)."""
    n_jobs = resolve_jobs(n_jobs)
    if n_jobs > 1 and len(items) > 4:
        return Parallel(n_jobs=n_jobs, batch_size=4)(delayed(search_views)(*a) for a in items)
    return [search_views(*a) for a in items]


def vet_lightcurves(t_list, flux_list, err_list, model=None, n_jobs: int = 1) -> dict:
    """Search each light curve for its best TCE and vet it (``n_jobs`` search processes; 0: every core).

    Returns per light curve ``period``, ``t0``, ``duration`` (days), ``depth`` (relative),
    ``snr`` (NaN without a TCE), ``proba`` (n, 4) over SCENARIOS, ``p_planet`` (n,), ``label``
    (scenario, ``unknown``, or ``no_tce`` / ``flagged``) and ``note`` (why no TCE).
    """

    clf = model if isinstance(model, CalibratedClassifier) else load_transit_vetter(model)
    res = _searched(list(zip(t_list, flux_list, err_list)), n_jobs)
    n = len(res)
    out = {k: np.full(n, np.nan) for k in ("period", "t0", "duration", "depth", "snr", "p_planet")}
    out["proba"] = np.full((n, len(clf.classes)), np.nan)
    out["label"] = np.array(["no_tce" if r[2] == "no TCE" else "flagged" for r in res], dtype=object)
    out["note"] = np.array([r[2] for r in res], dtype=object)
    ok = [k for k, r in enumerate(res) if r[0] is not None]
    if ok:
        pred = clf.predict_all(np.stack([res[k][1] for k in ok]))
        for k in ok:
            for key in ("period", "t0", "duration", "depth", "snr"):
                out[key][k] = res[k][0][key]
        out["proba"][ok], out["label"][ok] = pred["proba"], pred["label"]
        out["p_planet"][ok] = pred["proba"][:, list(clf.classes).index(PLANET)]
    out["classes"] = tuple(clf.classes)
    return out
