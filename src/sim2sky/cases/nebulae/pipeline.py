"""Apply the nebula models to line tables: classes, probabilities and HII-region parameters.

:class:`NebulaPipeline` bundles the calibrated classifier and the HII-parameter posterior and
turns line fluxes into class probabilities, a class (HII/PN/SNR/DIG/AGN/unknown) and, for HII,
posterior means and standard deviations of 12+log(O/H), log U, log P/k and E(B-V).
:func:`classify_table` is what ``sim2sky nebulae classify`` runs; :func:`adapt_to_target` is
``sim2sky nebulae adapt`` (DANN).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from astropy.table import QTable

from ...core.atomic import atomic_dir
from ...core.calibration import read_calibration
from ...core.contract import qtable
from ...core.modelio import seal_folder
from ...core.errors import InputError
from ...core.tables import write_table
from ...infer.io import load_posterior
from ...learn.calibrate import parse_class_priors as parse_priors
from ...learn.classifier import CalibratedClassifier, ClassifierConfig, mlp_classifier
from ...learn.dann import DANNConfig, fit_dann
from .calibration import NebulaCalibration
from .features import FEATURE_NAMES, line_features
from .linetable import read_line_table
from .schema import CLASS_PRIOR_PRESETS, CLASSES, DETECTION_SNR, HII_KEYS, HII_LABELS, HII_UNITS, TABLE_POSTERIOR_SAMPLES, UNKNOWN
from .training import simulate_set, theory_domain

__all__ = ["NebulaPipeline", "parse_class_priors", "predict_table", "classify_table", "table_features", "adapt_to_target", "DEFAULT_MODEL_DIR",
           "output_columns"]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models"


class NebulaPipeline:
    """Classifier + HII posterior loaded from a model folder (default: the shipped models).

    Parameters
    ----------
    model_dir : path, optional
        Folder with ``classifier/`` and optionally ``hii_params/`` (as written by
        ``sim2sky train nebulae``); ``classifier`` may also be a DANN-adapted model.
    num_samples : int
        Posterior points per HII object for the parameter mean and std (quasi-Monte Carlo:
        :meth:`~sim2sky.infer.Posterior.moments`).
    class_priors : dict or str, optional
        Expected class fractions in the data (``{"HII": 0.7, ...}`` or ``"HII=0.7,PN=0.05,..."``,
        every class named, any positive scale); see :func:`parse_class_priors`.
    """

    def __init__(self, model_dir=None, num_samples: int = TABLE_POSTERIOR_SAMPLES, class_priors=None):
        model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.model_dir = model_dir
        clf_dir = model_dir / "classifier" if (model_dir / "classifier").is_dir() else model_dir
        self.classifier = CalibratedClassifier.load(clf_dir)
        self.posterior = load_posterior(model_dir / "hii_params") if (model_dir / "hii_params").is_dir() else None
        self.num_samples = num_samples
        self.class_priors = parse_class_priors(class_priors, self.classes)
        self.classifier.prior_weights(self.class_priors)      # validated once, here
        record, _ = read_calibration(model_dir)               # written by `sim2sky nebulae calibrate`
        self.calibration = NebulaCalibration(record) if record is not None and record.get("case") == "nebulae" else None

    @property
    def classes(self):
        return self.classifier.classes

    @property
    def param_names(self):
        return list(self.posterior.theta_names) if self.posterior is not None else []

    def predict(self, table: dict, n: int, seed: int = 0, class_priors=None, calibrated: bool = True) -> dict:
        """Classify ``n`` objects given ``table`` ({line: (flux, err)}, optional ``SIGMA``, ``EW_HA6563``).

        ``class_priors`` (numbers in class order, as :func:`parse_class_priors` returns them)
        replaces the pipeline's own priors for this call. With a calibrated model folder, rows
        with the calibration's lines get calibrated probabilities and a conformal ``sets`` (n, K)
        (``calibrated`` (n,) says which rows; ``calibrated=False`` turns it off).

        Returns dict: ``proba`` (n, n_classes) (NaN where no Hα), ``label`` (n,) str, ``flag`` (n,) str
        (``ok``, ``no_halpha``, ``low_snr``, ``unlike_training``), ``distance`` (n,),
        ``param_mean``/``param_std`` (n, p) NaN except for HII, ``features`` (n, d).
        """
        x, valid = line_features(table, n)
        ha, ha_err = table.get("HA6563", (None, None))
        snr = np.full(n, np.inf)
        if ha_err is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = np.where(np.isfinite(ha_err), np.asarray(ha, float) / np.asarray(ha_err, float), np.inf)
        proba = np.full((n, len(self.classes)), np.nan, np.float32)
        label = np.full(n, UNKNOWN, dtype=object)
        flag = np.where(valid, "ok", "no_halpha").astype(object)
        dist = np.full(n, np.nan)
        logits = np.full((n, len(self.classes)), np.nan, np.float32)
        if valid.any():
            priors = self.class_priors if class_priors is None else class_priors
            res = self.classifier.predict_all(x[valid], class_priors=priors)
            proba[valid], label[valid], dist[valid] = res["proba"], res["label"], res["distance"]
            logits[valid] = res["logits"]
            flag[valid] = np.where(res["label"] == UNKNOWN, "unlike_training", "ok")
        sets, done = np.zeros((n, len(self.classes)), bool), np.zeros(n, bool)
        if self.calibration is not None and calibrated:
            done = valid & self.calibration.rows(x)
            if done.any():
                self._calibrate(logits[done], proba, label, sets, done, priors)
        low = valid & (snr < DETECTION_SNR)
        label[low], flag[low] = UNKNOWN, "low_snr"
        p = len(self.param_names)
        mean, std = np.full((n, p), np.nan), np.full((n, p), np.nan)
        hii = label == "HII"
        if self.posterior is not None and hii.any():
            # quasi-Monte Carlo points scrambled with a private seed: thread-safe and reproducible
            mean[hii], std[hii] = self.posterior.moments(x[hii], self.num_samples, seed=seed)
        return {"proba": proba, "label": label, "flag": flag, "distance": dist, "param_mean": mean,
                "param_std": std, "features": x, "valid": valid, "sets": sets, "calibrated": done}

    def _calibrate(self, logits, proba, label, sets, rows, priors) -> None:
        """Calibrated probabilities (then class priors) and conformal sets for ``rows``, in place,
        from the rows' temperature-scaled ``logits`` of the classifier's one pass."""
        raw = torch.softmax(torch.as_tensor(logits), 1).numpy()      # the training priors
        p, s = self.calibration.apply(raw)
        w = self.classifier.prior_weights(priors)
        if w is not None:
            p = p * w
            p /= p.sum(1, keepdims=True)
        proba[rows], sets[rows] = p, s
        keep = label[rows] == UNKNOWN                                # the out-of-distribution test still decides
        label[rows] = np.where(keep, UNKNOWN, np.asarray(self.classes, dtype=object)[p.argmax(1)])


def parse_class_priors(spec, classes) -> np.ndarray | None:
    """Class priors from ``"HII=0.7,PN=0.05,..."``, a preset of :data:`CLASS_PRIOR_PRESETS`, a dict or
    numbers in ``classes`` order (:func:`sim2sky.learn.parse_class_priors`).

    Real fields are not balanced like the training set: in a nearby-galaxy mosaic HII-region
    spaxels outnumber PN spaxels by orders of magnitude, and the Bayes-optimal call for an
    ambiguous spectrum changes with that."""
    return parse_priors(spec, classes, CLASS_PRIOR_PRESETS)


def _param_key(label: str) -> str:
    return dict(zip(HII_LABELS, HII_KEYS)).get(label, label)


def output_columns(pipe: NebulaPipeline) -> list[str]:
    """Names of the columns :func:`classify_table` adds, in order."""
    cols = [f"p_{c}" for c in pipe.classes] + ["class", "flag", "ood_distance"]
    if pipe.calibration is not None:
        cols += ["class_set", "set_size", "calibrated"]
    for name in pipe.param_names:
        cols += [f"{_param_key(name)}_mean", f"{_param_key(name)}_std"]
    return cols


def predict_table(pipe: NebulaPipeline, lt, seed: int = 0, calibrated: bool = True) -> tuple[QTable, dict]:
    """The output table of a read line table ``lt`` (:class:`~.linetable.LineTable`): pass-through
    columns, ``p_<class>``, ``class``, ``flag``, ``ood_distance`` and, for HII rows, the posterior
    ``<KEY>_mean``/``<KEY>_std`` in their units (dex, dex(K cm-3), mag); and :meth:`NebulaPipeline.predict`'s dict."""
    res = pipe.predict(lt.lines, lt.n, seed=seed, calibrated=calibrated)
    produced = output_columns(pipe)
    cols, units = {}, {}
    for name, values in lt.passthrough.items():
        cols[f"in_{name}" if name in produced else name] = values
    for k, c in enumerate(pipe.classes):
        cols[f"p_{c}"] = np.round(res["proba"][:, k], 5)
    cols["class"] = res["label"].astype(str)
    if pipe.calibration is not None and calibrated:
        cols["class_set"] = np.where(res["calibrated"], pipe.calibration.set_labels(res["sets"]), "")
        cols["set_size"] = res["sets"].sum(1)
        cols["calibrated"] = res["calibrated"]
    cols["flag"] = res["flag"].astype(str)
    cols["ood_distance"] = np.round(res["distance"], 3)
    param_units = dict(zip(HII_LABELS, HII_UNITS))
    for j, name in enumerate(pipe.param_names):
        key, unit = _param_key(name), param_units.get(name, "")
        cols[f"{key}_mean"] = np.round(res["param_mean"][:, j], 4)
        cols[f"{key}_std"] = np.round(res["param_std"][:, j], 4)
        # a spread of a logarithm is a plain dex: dex(K cm-3) is for the value only
        units[f"{key}_mean"], units[f"{key}_std"] = unit, "dex" if unit.startswith("dex") else unit
    return qtable(cols, units), res


def classify_table(path, out, model_dir=None, seed: int = 0, columns=None, preset: str | None = None,
                   allow_negative: bool = False, class_priors=None, allow_empty: bool = False) -> dict:
    """Classify every row of a line table; write ``out`` (CSV, FITS or ECSV) atomically.

    A row without a usable Hα gets NaN and a flag; a table where no row is usable is refused
    (the columns or their units are wrong) unless ``allow_empty``.

    Input columns are read as described in :mod:`sim2sky.cases.nebulae.linetable` (canonical
    names, ``columns`` map, survey ``preset``); every column not used is copied to the output.
    Returns ``{"n", "counts", "out", "notices"}``.
    """
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".fits", ".ecsv"):
        raise InputError(f"--out: {out.name} must end in .csv, .fits or .ecsv")
    lt = read_line_table(path, columns=columns, preset=preset, allow_negative=allow_negative)
    if not allow_empty and lt.n and not line_features(lt.lines, lt.n)[1].any():
        raise InputError(f"TABLE: none of the {lt.n} rows of {Path(path).name} has a usable Hα flux (finite, with "
                         "the lines needed for a class); check the columns and units, or pass --allow-empty to "
                         "write the rows as unclassified")
    pipe = NebulaPipeline(model_dir, class_priors=class_priors)
    table, res = predict_table(pipe, lt, seed=seed)
    write_table(table, out)
    counts = {c: int((res["label"] == c).sum()) for c in (*pipe.classes, UNKNOWN)}
    return {"n": lt.n, "counts": counts, "out": str(out), "notices": lt.notices}


def table_features(path, columns=None, preset=None, allow_negative: bool = False) -> np.ndarray:
    """Features of the rows of a line table that have Hα (for domain adaptation)."""
    lt = read_line_table(path, columns=columns, preset=preset, allow_negative=allow_negative)
    x, valid = line_features(lt.lines, lt.n)
    return x[valid]


def adapt_to_target(x_target, out, model_dir=None, n_per_class: int = 8000, epochs: int = 25, seed: int = 0,
                    progress: bool = False, log=print) -> Path:
    """DANN-adapt the nebula classifier to unlabelled target features; write a model folder.

    The folder holds the adapted ``classifier/`` and a copy of the base ``hii_params/``.
    """
    base = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    x_target = np.asarray(x_target, np.float32)
    if len(x_target) < 50:
        raise InputError(f"--target: only {len(x_target)} usable rows/spaxels with Hα; DANN needs at least 50")
    log(f"simulating {len(CLASSES) * n_per_class} labelled source spectra...")
    src = simulate_set(theory_domain(), n_per_class, seed)
    cal = simulate_set(theory_domain(), max(n_per_class // 5, 500), seed + 1, augment=False)
    ref = simulate_set(theory_domain(), max(n_per_class // 5, 500), seed + 4)
    log(f"DANN training on {int(src['valid'].sum())} source and {len(x_target)} target rows...")
    net = mlp_classifier(len(FEATURE_NAMES), len(CLASSES), seed=seed)
    clf = CalibratedClassifier(net, CLASSES, ClassifierConfig(epochs=epochs, seed=seed), FEATURE_NAMES)
    v, vc = src["valid"], cal["valid"]
    fit_dann(clf, src["x"][v], src["y"][v], x_target, cal["x"][vc], cal["y"][vc], DANNConfig(epochs=epochs, seed=seed),
             progress=progress, x_ref=ref["x"][ref["valid"]], y_ref=ref["y"][ref["valid"]])
    out = Path(out)
    with atomic_dir(out) as tmp:
        clf.save(tmp / "classifier", provenance={"command": "sim2sky nebulae adapt", "method": "DANN",
                                                 "n_target": int(len(x_target)), "seed": seed})
        if (base / "hii_params").is_dir():
            shutil.copytree(base / "hii_params", tmp / "hii_params")
        seal_folder(tmp)
    return out
