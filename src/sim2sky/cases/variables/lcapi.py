"""File-level API of the time-domain case (what the CLI calls): simulate, train, classify, vet.

Light-curve files are long tables (CSV, ECSV, FITS, Parquet) with one row per epoch and
columns ``id``, ``t`` (days), ``mag``, ``err`` (names configurable).
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable
from astropy.table import Table

from ...core.contract import qtable
from ...core.tables import iter_long_table, long_table, read_long_table, write_table
from ...core.tablestream import TableStream
from ...learn import CalibratedClassifier
from .calibration import LightCurveCalibration
from .lcpipeline import (LightCurveTraining, classify_lightcurves, lightcurve_model_dir, load_lightcurve_model,
                         train_lightcurve_classifier)
from .lcsim import simulate_lightcurves
from .vetting import load_vetter, read_tces, tce_features

__all__ = ["read_lightcurve_table", "lightcurve_table", "classify_lightcurve_table", "simulate_lightcurves_file", "train_lightcurves_file", "classify_lightcurves_file",
           "vet_tces_file"]


_HINT = "; name them with --id-col/--t-col/--mag-col/--err-col"


def read_lightcurve_table(path, id_col: str = "id", t_col: str = "t", mag_col: str = "mag", err_col: str = "err"):
    """``(ids, t_list, mag_list, err_list)`` from a long table (file or astropy Table), one light curve
    per distinct id; ``t`` in days and ``mag``/``err`` in mag, converted when the columns carry units."""
    return read_long_table(path, id_col, (t_col, mag_col, err_col), _HINT, units=("d", "mag", "mag"))


def lightcurve_table(n: int, survey: str = "eros1", seed: int = 0) -> QTable:
    """``n`` simulated light curves (classes cycled) as a long table: ``id``, ``t`` [d], ``mag``,
    ``err`` [mag] and the truth ``class`` and ``period`` [d]."""
    sims = simulate_lightcurves(n, survey, seed=seed)
    return long_table([f"sim{k:06d}" for k in range(n)], {c: sims[c] for c in ("t", "mag", "err")},
                      {"class": np.asarray(sims["classes"])[sims["label"]], "period": sims["period"]},
                      meta={"survey": survey}, units={"t": u.d, "mag": u.mag, "err": u.mag, "period": u.d})


def simulate_lightcurves_file(out, n: int, survey: str = "eros1", seed: int = 0) -> dict:
    """Write :func:`lightcurve_table` to ``out`` atomically."""
    tab = lightcurve_table(n, survey, seed)
    write_table(tab, out)
    return {"out": Path(out), "n": n, "epochs": len(tab)}


def train_lightcurves_file(out, survey: str = "eros1", n_per_class: int = 2000, epochs: int = 60, seed: int = 0,
                           n_jobs: int = 2, progress: bool = False, encoder: str = "mlp") -> dict:
    """Train a classifier on simulations at ``survey``'s cadence and save it as a model folder."""
    settings = LightCurveTraining(survey=survey, n_per_class=n_per_class, epochs=epochs, seed=seed, n_jobs=n_jobs,
                                  encoder=encoder)
    clf = train_lightcurve_classifier(settings, progress=progress)
    clf.save(out, provenance={"survey": survey, "n_per_class": n_per_class, "seed": seed, "encoder": encoder,
                              "trained_on": "sim2sky.cases.variables.lcsim simulations only"})
    return {"out": Path(out), "classes": clf.classes, "temperature": clf.temperature_}


def _columns(ids, t, mag, err, clf, n_jobs, calibration, offset: int = 0) -> tuple[dict, dict]:
    """Per-star output columns of one piece of light curves and :func:`classify_lightcurves`' dict."""
    res = classify_lightcurves(t, mag, err, clf, n_jobs=n_jobs)
    columns = {"id": ids, "class": res["label"].astype(str), "period": res["period"], "distance": res["distance"],
               "flag": res["flag"]}
    for j, c in enumerate(res["classes"]):
        columns[f"p_{c}"] = res["proba"][:, j]
    if calibration is not None:
        calibration.apply_columns(columns, res["proba"], res["classes"], offset)
    return columns, res


def _model(model, calibration, calibrated):
    clf = model if isinstance(model, CalibratedClassifier) else load_lightcurve_model(model)
    if calibration is None and calibrated and not isinstance(model, CalibratedClassifier):
        calibration = LightCurveCalibration.from_folder(lightcurve_model_dir(model))
    return clf, (calibration if calibrated else None)


def classify_lightcurve_table(data, model="eros1", n_jobs: int = 1, calibration=None, calibrated: bool = True,
                              **cols) -> tuple[QTable, dict]:
    """One row per star of a long table (file or Table): ``id``, ``class``, ``period`` [d],
    ``distance``, ``flag``, ``p_<class>``; and :func:`classify_lightcurves`' dict.

    A model folder written by ``sim2sky lightcurves calibrate`` (or ``calibration``, a
    :class:`~.calibration.LightCurveCalibration`) adds the calibrated columns (``group``,
    ``p_group``, ``p_group_<G>``, ``group_set``, ``set_size`` for survey-group calibrations);
    ``calibrated=False`` keeps the raw output.
    """
    clf, calibration = _model(model, calibration, calibrated)
    columns, res = _columns(*read_lightcurve_table(data, **cols), clf, n_jobs, calibration)
    return qtable(columns, {"period": u.d}), res


def classify_lightcurves_file(path, out, model: str = "eros1", n_jobs: int = 1, id_col: str = "id",
                              t_col: str = "t", mag_col: str = "mag", err_col: str = "err",
                              chunk_rows: int = 500_000) -> dict:
    """Classify every light curve of a long table; write one row per star (class, P(class), period, flag).

    A FITS table longer than ``chunk_rows`` rows is read and classified in pieces of whole stars
    (their rows together) and the output is written piece by piece (:class:`~sim2sky.core.TableStream`),
    so memory stays bounded whatever the number of stars.
    """
    clf, calibration = _model(model, None, True)
    counts, groups = dict.fromkeys((*clf.classes, "unknown", "flagged"), 0), {}
    with TableStream(out, table=lambda columns: qtable(columns, {"period": u.d})) as table:
        for piece in iter_long_table(path, id_col, (t_col, mag_col, err_col), _HINT, units=("d", "mag", "mag"),
                                     chunk_rows=chunk_rows):
            columns = _columns(*piece, clf, n_jobs, calibration, offset=table.n_rows)[0]
            for c in counts:
                counts[c] += int(np.sum(columns["class"] == c))
            for g in dict.fromkeys(np.asarray(columns.get("group", []))):
                if g:                                   # a survey-group calibration
                    groups[f"group {g}"] = groups.get(f"group {g}", 0) + int(np.sum(columns["group"] == g))
            table.append(columns)
    return {"out": Path(out), "n": table.n_rows, "counts": {**counts, **groups}}


def vet_tces_file(path, out, model=None) -> dict:
    """Score TCEs of a DR24-like table with P(planet candidate); write kepid, planet number, score."""

    tces = read_tces(path)
    clf = load_vetter(model)
    p = clf.predict_proba(tce_features(tces))[:, 1]
    tab = Table({"kepid": tces["kepid"].astype(np.int64), "tce_plnt_num": tces["tce_plnt_num"].astype(int),
                 "p_planet": p})
    write_table(tab, out)
    return {"out": Path(out), "n": len(p), "n_above_0.5": int((p > 0.5).sum())}
