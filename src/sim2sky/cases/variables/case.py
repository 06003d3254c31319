"""The light-curve case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives light curves of physics and OGLE-III shapes at a survey's cadence as a long
table; ``train`` fits the calibrated classifier on simulations only; ``load(model).predict(data)``
classifies long tables (file or Table, ``t`` in days, ``mag``/``err`` in mag); ``check`` scores
labelled light curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir
from ...core.contract import CasePipeline, as_table, train_settings
from ...core.errors import InputError
from ...core.tables import per_object
from ...learn.metrics import classification_check
from .calibration import LightCurveCalibration, calibrate_lightcurves, write_lightcurve_calibration
from .lcapi import classify_lightcurve_table, lightcurve_table, train_lightcurves_file
from .lcpipeline import lightcurve_model_dir, load_lightcurve_model

__all__ = ["simulate", "train", "load", "LightCurvesCase"]


def simulate(n: int, *, seed: int = 0, survey: str = "eros1") -> QTable:
    """``n`` light curves (classes cycled) at ``survey``'s cadence (``eros1``, ``s82``...): a long
    table ``id``, ``t`` [d], ``mag``, ``err`` [mag] with the truth ``class`` and ``period`` [d]."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    return lightcurve_table(n, survey, seed)


def train(data_or_config=None, out=None, *, overwrite: bool = False, **config) -> Path:
    """Train a classifier on simulations at a survey's cadence; write the model folder ``out``.

    ``data_or_config``: None or a dict of :func:`~.lcapi.train_lightcurves_file` settings
    (``survey``, ``n_per_class``, ``epochs``, ``seed``, ``n_jobs``, ``encoder``), also keywords.
    """
    settings = train_settings(data_or_config, config, "lightcurves", train_lightcurves_file)
    out = check_out_dir(out, overwrite=overwrite, kind="classifier")
    train_lightcurves_file(out, **settings)
    return out


def load(model="eros1") -> "LightCurvesCase":
    """A shipped classifier by survey (``eros1``, ``s82``) or a model folder."""
    return LightCurvesCase(model)


class LightCurvesCase(CasePipeline):
    """Calibrated variable-star classes (with "unknown") and periods of light curves."""

    case = "lightcurves"

    def __init__(self, model="eros1"):
        self.model = "eros1" if model is None else model
        self.model_dir = lightcurve_model_dir(self.model)
        self.classifier_ = load_lightcurve_model(self.model_dir)
        self.calibration_ = LightCurveCalibration.from_folder(self.model_dir)   # `lightcurves calibrate`

    def predict(self, data, *, n_jobs: int = 1, calibrated: bool = True, **columns) -> QTable:
        """One row per star: ``id``, ``class``, ``period`` [d], ``distance``, ``flag``, ``p_<class>``.
        ``columns`` renames the inputs (``id_col``, ``t_col``, ``mag_col``, ``err_col``). With a
        calibrated model folder, the calibrated columns of
        :meth:`~.calibration.LightCurveCalibration.apply_columns` (``calibrated=False``: raw)."""
        return classify_lightcurve_table(data, self.classifier_, n_jobs, self.calibration_, calibrated, **columns)[0]

    def calibrate(self, data, out, *, kind: str = "vector", alpha: float = 0.1, method: str = "aps",
                  truth: str = "group", id_col: str = "id", n_jobs: int = 1, overwrite: bool = False) -> dict:
        """Calibrate on labelled real stars and write the model folder ``out``.

        ``data``: a long table (file or Table) with a per-star ``truth`` column holding survey
        groups (EB/Cep/RRL/LPV, e.g. :func:`~.calibration.eros_table` of the EROS-1 train split) or
        model classes (RRab/RRc for Stripe 82). ``kind`` temperature or vector scaling (vector:
        a bias per group absorbs the class-mix shift), conformal sets (``method`` aps, raps, lac)
        at miscoverage ``alpha``. Returns the record kept in ``out/calibration.json``.
        """
        tab = as_table(data, "data")
        if truth not in tab.colnames:
            raise InputError(f"labelled data: no truth column {truth!r} (per-star labels, e.g. 'group' or 'class')")
        pred = self.predict(tab, n_jobs=n_jobs, calibrated=False, id_col=id_col)
        labels = per_object(tab, id_col, truth)
        classes = self.classifier_.classes
        proba = np.stack([np.asarray(pred[f"p_{c}"], float) for c in classes], 1)
        record = calibrate_lightcurves(proba, [labels[i] for i in np.asarray(pred["id"]).astype(str)], classes,
                                       kind=kind, alpha=alpha, method=method)
        digest = data if isinstance(data, (str, Path)) else b"".join(
            np.ascontiguousarray(np.asarray(tab[c])).tobytes() for c in tab.colnames)
        write_lightcurve_calibration(self.model_dir, out, record, digest, len(pred), {
            "kind": kind, "alpha": alpha, "method": method, "truth": truth}, overwrite=overwrite)
        return record

    def check(self, data=None, *, n: int = 400, seed: int = 1, truth: str = "class", id_col: str = "id") -> dict:
        """Classification diagnostics on labelled light curves (a long table with a per-star
        ``truth`` column); on ``n`` fresh simulations at the model's survey when None."""
        survey = (getattr(self.classifier_, "provenance_", None) or {}).get("survey", "eros1")
        data = simulate(n, seed=seed, survey=survey) if data is None else as_table(data, "data")
        if truth not in data.colnames:
            raise InputError(f"data: no truth column {truth!r}")
        pred = self.predict(data)
        true = per_object(data, id_col, truth)
        classes = self.classifier_.classes
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)
        label = np.where(np.asarray(pred["class"]) == "flagged", "unknown", np.asarray(pred["class"]))
        return classification_check([true[i] for i in pred["id"]], label, proba, classes)
