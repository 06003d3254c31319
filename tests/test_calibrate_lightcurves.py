"""Light-curve classes calibrated on real labels (issue 32): survey groups (EROS-1) and model
classes (Stripe 82), the calibrate verb's folder, and calibrated probabilities on unseen stars."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import needs

from sim2sky.cases.variables import GROUP_NAMES, LC_CLASSES, LightCurveCalibration, calibrate_lightcurves
from sim2sky.cli import app
from sim2sky.core.errors import InputError
from sim2sky.learn import expected_calibration_error

runner = CliRunner()


def _shifted_proba(n, rng):
    """Over-confident class probabilities: the truth is drawn from calibrated probabilities ``q``
    (Dirichlet), the "network" reports softmax(3 log q), three times too sharp."""
    q = rng.dirichlet(np.full(len(LC_CLASSES), 0.5), n)
    truth_class = np.array([rng.choice(len(LC_CLASSES), p=row) for row in q])
    logits = 3 * np.log(np.maximum(q, 1e-300))
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), truth_class


def test_group_calibration_fixes_overconfidence_and_flags_stay_nan():
    rng = np.random.default_rng(3)
    from sim2sky.cases.variables.schema import REAL_GROUPS

    p, y = _shifted_proba(6000, rng)
    groups = np.array([REAL_GROUPS[LC_CLASSES[k]] for k in y])
    p[:20] = np.nan                                       # flagged stars (too few epochs)
    rec = calibrate_lightcurves(p[:3000], groups[:3000], kind="vector", alpha=0.1)
    assert rec["level"] == "group" and rec["n_flagged"] == 20 and rec["classes"] == list(GROUP_NAMES)
    cal = LightCurveCalibration({**rec, "case": "lightcurves"})
    cols = {"class": np.array(["RRab"] * 3000)}
    cal.apply_columns(cols, p[3000:], LC_CLASSES)
    pg = np.stack([cols[f"p_group_{g}"] for g in GROUP_NAMES], 1)
    yg = np.array([GROUP_NAMES.index(g) for g in groups[3000:]])
    from sim2sky.cases.variables import group_proba

    raw = group_proba(p[3000:], LC_CLASSES)[0]
    assert expected_calibration_error(raw, yg) > 0.15
    assert expected_calibration_error(pg, yg) < 0.04
    cover = np.mean([g in s.split("|") for g, s in zip(groups[3000:], cols["group_set"])])
    assert abs(cover - 0.9) < 0.03


def test_class_level_calibration_and_bad_labels():
    rng = np.random.default_rng(4)
    p, y = _shifted_proba(800, rng)
    rec = calibrate_lightcurves(p, np.asarray(LC_CLASSES)[y], kind="temperature")
    assert rec["level"] == "class" and rec["classes"] == list(LC_CLASSES)
    cols = {"class": np.array(["unknown"] + ["RRab"] * 799)}
    LightCurveCalibration(rec).apply_columns(cols, p, LC_CLASSES)
    assert cols["class"][0] == "unknown"                 # the out-of-distribution test still decides
    assert {"class_set", "set_size", "p_RRab"} <= set(cols)
    with pytest.raises(InputError, match="neither model classes"):
        calibrate_lightcurves(p, np.array(["Mira"] * 800))
    with pytest.raises(InputError, match="labels for"):
        calibrate_lightcurves(p, np.array(["RRab"] * 10))


@needs("eros")
def test_lightcurves_calibrate_verb_on_eros_train(tmp_path):
    from sim2sky.cases.variables import eros_table
    from sim2sky.core.tables import write_table

    tab = eros_table("train")
    ids = np.array(list(dict.fromkeys(np.asarray(tab["id"]).astype(str))))[::12]     # 243 stars
    sub = tab[np.isin(np.asarray(tab["id"]).astype(str), ids)]
    path = write_table(sub, tmp_path / "eros_cal.ecsv")
    out = tmp_path / "lc_cal"
    r = runner.invoke(app, ["lightcurves", "calibrate", "shipped", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "cross-validated ece after" in r.output
    rec = json.loads((out / "calibration.json").read_text())
    assert rec["level"] == "group" and rec["dataset"]["n"] == len(ids) and len(rec["dataset"]["sha256"]) == 64
    cv = rec["cross_validated"]
    assert cv["ece_after"] < cv["ece_before"], cv
    r = runner.invoke(app, ["lightcurves", "classify", str(path), "--model", str(out),
                            "--out", str(tmp_path / "pred.csv")])
    assert r.exit_code == 0, r.output
    from astropy.table import Table

    pred = Table.read(tmp_path / "pred.csv")
    assert {"group", "p_group", "group_set", "set_size", "p_group_RRL"} <= set(pred.colnames)
    r = runner.invoke(app, ["lightcurves", "calibrate", "shipped", str(path), "--out", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.output   # never replaced without --overwrite
