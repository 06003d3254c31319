"""Light-curve classes calibrated on real labels (issue 32): EROS-1 groups and Stripe 82 RR Lyrae.

* EROS-1 (RAMP kit): the *train* split (2,912 stars) is the calibration set, the *test* split
  (729 stars) gives the numbers; nothing is fitted on it. The shipped classifier (simulations
  only) gives seven classes; they are summed into the survey's groups EB/Cep/RRL/LPV (+ other).
  Rows: theory only; + temperature scaling; + vector scaling (the ``lightcurves calibrate``
  default); conformal APS sets at alpha = 0.1 on each; the data-driven reference (gradient-boosted
  trees on the labelled train stars' features, as in benchmarks/timeseries.py).
* Stripe 82 (483 RR Lyrae, no official split): cut once by a seeded permutation into a
  calibration half and a report half; the shipped ``s82`` model is calibrated at class level
  (RRab/RRc are model classes).

    SIM2SKY_DATA=../shared/data python benchmarks/trust_lightcurves.py
"""

from __future__ import annotations

import json
import time

import numpy as np

import _data  # noqa: F401  (data mirror)
from _reliability import reliability, reliability_figure
from sim2sky.cases.variables import (GROUP_NAMES, LC_CLASSES, LightCurveCalibration, calibrate_lightcurves,
                                     classify_lightcurves, group_proba, read_eros, read_s82, s82_halves,
                                     S82_SPLIT_SEED)
from sim2sky.learn import expected_calibration_error



def _scores(p, y, sets=None) -> dict:
    ok = np.isfinite(p).all(1)
    p, y = p[ok], y[ok]
    r = {"n": int(len(y)), "accuracy": float((p.argmax(1) == y).mean()), "ece": expected_calibration_error(p, y)}
    if sets is not None:
        s = sets[ok]
        r.update(set_coverage=float(s[np.arange(len(y)), y].mean()), set_size=float(s.sum(1).mean()))
    return r


def eros(res: dict, curves: dict) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    t0 = time.perf_counter()
    d = {s: read_eros(s) for s in ("train", "test")}
    raw = {s: classify_lightcurves(d[s]["t"], d[s]["mag"], d[s]["err"], "eros1", n_jobs=2) for s in d}
    res["eros_seconds_classify"] = time.perf_counter() - t0
    y = {s: np.array([GROUP_NAMES.index(g) for g in d[s]["group"]]) for s in d}
    pg = group_proba(raw["test"]["proba"], LC_CLASSES)[0]
    res["eros_theory"] = _scores(pg, y["test"])
    curves["theory only"] = reliability(pg, y["test"])
    for kind in ("temperature", "vector"):
        rec = calibrate_lightcurves(raw["train"]["proba"], d["train"]["group"], kind=kind, alpha=0.1, method="aps")
        cal = LightCurveCalibration(rec)
        ok = np.isfinite(raw["test"]["proba"]).all(1)
        p = np.full_like(pg, np.nan)
        sets = np.zeros(pg.shape, bool)
        p[ok], sets[ok] = cal.apply(pg[ok])
        res[f"eros_{kind}"] = {**_scores(p, y["test"], sets), "cross_validated_on_train": rec["cross_validated"]}
        curves[f"+ {kind} scaling"] = reliability(p, y["test"])
    names = ("RRL", "Cep", "LPV", "EB")
    ytr = np.array([names.index(g) for g in d["train"]["group"]])
    ok = {s: np.isfinite(raw[s]["features"]).all(1) for s in d}
    gbt = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(raw["train"]["features"][ok["train"]],
                                                                           ytr[ok["train"]])
    ps = np.full((len(y["test"]), len(GROUP_NAMES)), np.nan)
    ps[ok["test"], :4] = gbt.predict_proba(raw["test"]["features"][ok["test"]])
    ps[ok["test"], 4] = 0.0
    res["eros_reference_trees"] = _scores(ps, y["test"])
    for k in ("eros_theory", "eros_temperature", "eros_vector", "eros_reference_trees"):
        r = res[k]
        extra = f"  APS cov {r['set_coverage']:.3f} size {r['set_size']:.2f}" if "set_coverage" in r else ""
        print(f"{k:24s} n {r['n']}  acc {r['accuracy']:.3f}  ECE {r['ece']:.3f}{extra}")


def s82(res: dict) -> None:
    d = read_s82()
    raw = classify_lightcurves(d["t"], d["mag"], d["err"], "s82", n_jobs=2)
    half = s82_halves(len(d["type"]))
    y = np.array([LC_CLASSES.index(t) for t in d["type"]])
    res["s82_split"] = {"seed": S82_SPLIT_SEED, "calibration": int(half.sum()), "report": int((~half).sum())}
    res["s82_theory"] = _scores(raw["proba"][~half], y[~half])
    for kind in ("temperature", "vector"):
        rec = calibrate_lightcurves(raw["proba"][half], d["type"][half], kind=kind, alpha=0.1, method="aps")
        cal = LightCurveCalibration(rec)
        p = raw["proba"][~half]
        ok = np.isfinite(p).all(1)
        pc, sets = np.full_like(p, np.nan), np.zeros(p.shape, bool)
        pc[ok], sets[ok] = cal.apply(p[ok])
        res[f"s82_{kind}"] = _scores(pc, y[~half], sets)
    for k in ("s82_theory", "s82_temperature", "s82_vector"):
        r = res[k]
        extra = f"  APS cov {r['set_coverage']:.3f} size {r['set_size']:.2f}" if "set_coverage" in r else ""
        print(f"{k:24s} n {r['n']}  acc {r['accuracy']:.3f}  ECE {r['ece']:.3f}{extra}")


def main(out="benchmarks/results_trust_lightcurves.json", figure="docs/trust_lightcurves_reliability.png"):
    t0 = time.perf_counter()
    res, curves = {}, {}
    eros(res, curves)
    s82(res)
    res["reliability_eros_test"] = curves
    res["seconds"] = time.perf_counter() - t0
    reliability_figure(curves, figure, "EROS-1 test stars (729), groups EB/Cep/RRL/LPV", "top-group probability")
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"wrote {out} and {figure} ({res['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
