"""Supernova subtype probabilities calibrated on real labels (issue 32).

The DASH/SNID templates are split by supernova 60/20/20 (seed 0, as the shipped typer): the
typer trained on the 60%, the *calibration* 20% fits temperature or vector scaling and the
conformal sets (``sim2sky supernovae calibrate``), the *test* 20% (supernovae never seen by
either) gives the numbers. Spectra are observed-frame renderings of the templates
(``supernovae.simulate``: z 0.01-0.1, S/N 5-50, continuum slope).

    SIM2SKY_DATA=../shared/data python benchmarks/trust_supernovae.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from _reliability import reliability, reliability_figure
from sim2sky.cases import supernovae as sn


def _proba(pred, classes) -> np.ndarray:
    return np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)


def main(out="benchmarks/results_trust_supernovae.json", n=2000, figure="docs/trust_supernovae_reliability.png"):
    t0 = time.perf_counter()
    cal = sn.simulate(n, seed=11, split="calibration")
    test = sn.simulate(n, seed=12, split="test")
    truth = np.asarray(test["TRUE_SUBTYPE"]).astype(str)
    result = {"n_calibration_spectra": n, "n_calibration_supernovae": int(len(np.unique(cal["SN"]))),
              "n_test_spectra": n, "n_test_supernovae": int(len(np.unique(test["SN"]))), "rows": {}}
    base = sn.load()
    r = base.check(test)
    classes = list(base.models_[0].classes)
    y = np.array([classes.index(t) if t in classes else -1 for t in truth])
    curves = {"shipped typer": reliability(_proba(base.predict(test), classes), y)}
    result["rows"]["shipped typer (its own temperature)"] = {"accuracy": r["accuracy"], "ece": r["ece"]}
    tmp = Path(tempfile.mkdtemp())
    for kind in ("temperature", "vector"):
        folder = tmp / kind
        rec = base.calibrate(cal, folder, kind=kind, alpha=0.1, method="aps")
        model = sn.load(folder)
        r = model.check(test)
        pred = model.predict(test)
        inside = np.array([t in s.split("|") for t, s in zip(truth, pred["subtype_set"])])
        curves[f"+ {kind} scaling"] = reliability(_proba(pred, classes), y)
        result["rows"][f"+ {kind} scaling + APS sets (alpha 0.1)"] = {
            "accuracy": r["accuracy"], "ece": r["ece"], "set_coverage": float(inside.mean()),
            "set_size": float(np.mean(pred["set_size"])), "cross_validated_on_calibration": rec["cross_validated"]}
    shutil.rmtree(tmp)
    result["reliability"] = curves
    result["wall_s"] = time.perf_counter() - t0
    reliability_figure(curves, Path(figure), f"supernova subtypes, {result['n_test_supernovae']} unseen supernovae")
    Path(out).write_text(json.dumps(result, indent=1))
    for name, row in result["rows"].items():
        print(f"{name:55s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)))


if __name__ == "__main__":
    main()
