"""5-line nebula tables calibrated on other theory grids, reported on a left-out HII grid (issue 32).

A 5-line table (Hβ, [OIII]5007, Hα, [NII]6584, [SII]6717+31, 3% errors; :func:`five_line_table`)
carries less than the complete spectra the classifier's temperature was fitted on. For each of
the four HII grids G: ``nebulae calibrate`` is fitted on 5-line tables of the three other HII
grids plus the PN, SNR, DIG and AGN models (800 per family, seed 1 + fold), and the numbers are
on 5-line tables of G plus fresh draws of the other classes (1,000 per family, seed 11 + fold).
The classifier is the shipped one, trained on spectra of all four grids: the calibration never
sees G, the network did (the leave-one-grid-out *training* run is in docs/guide.md).

    python benchmarks/trust_nebulae.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sim2sky.cases import nebulae as nb
from sim2sky.cases.nebulae.theory import DiffuseIonisedGas, ShockSNR
from sim2sky.learn import expected_calibration_error


def _scores(pred, truth) -> dict:
    p = np.stack([np.asarray(pred[f"p_{c}"], float) for c in nb.CLASSES], 1)
    y = np.array([nb.CLASSES.index(c) for c in truth])
    ok = np.isfinite(p).all(1)
    r = {"n": int(ok.sum()), "accuracy": float((p[ok].argmax(1) == y[ok]).mean()),
         "ece": expected_calibration_error(p[ok], y[ok]),
         "hii_recall": float(np.mean(np.asarray(pred["class"])[ok & (np.asarray(truth) == "HII")] == "HII"))}
    if "class_set" in pred.colnames:
        sets = np.asarray(pred["class_set"]).astype(str)
        r["set_coverage"] = float(np.mean([t in s.split("|") for t, s in zip(np.asarray(truth)[ok], sets[ok])]))
        r["set_size"] = float(np.mean(np.asarray(pred["set_size"])[ok]))
    return r


def main(out="benchmarks/results_trust_nebulae.json", n_cal=800, n_test=1000):
    t0 = time.perf_counter()
    others = [nb.PNe3MdB(), ShockSNR(), DiffuseIonisedGas(), nb.MappingsNLR()]
    shipped = nb.load()
    res = {"folds": {}}
    tmp = Path(tempfile.mkdtemp())
    try:
        for i, grid in enumerate(nb.HII_FAMILIES):
            rest = [g() for g in nb.HII_FAMILIES if g is not grid]
            cal = nb.five_line_table(rest + others, n_cal, seed=1 + i)
            test = nb.five_line_table([grid()] + others, n_test, seed=11 + i)
            truth = np.asarray(test["TRUE_CLASS"]).astype(str)
            fold = {"theory only": _scores(shipped.predict(test, calibrated=False), truth)}
            for kind in ("temperature", "vector"):
                folder = tmp / f"{grid.__name__}_{kind}"
                rec = shipped.calibrate(cal, folder, kind=kind, alpha=0.1, method="aps")
                fold[f"+ {kind} scaling"] = {**_scores(nb.load(folder).predict(test), truth),
                                             "cross_validated_on_calibration_set": rec["cross_validated"]}
            name = grid().name
            res["folds"][name] = fold
            for k, v in fold.items():
                extra = f"  APS cov {v['set_coverage']:.3f} size {v['set_size']:.2f}" if "set_coverage" in v else ""
                print(f"{name:22s} {k:24s} n {v['n']}  acc {v['accuracy']:.3f}  HII recall {v['hii_recall']:.3f}  "
                      f"ECE {v['ece']:.3f}{extra}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["seconds"] = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"wrote {out} ({res['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
