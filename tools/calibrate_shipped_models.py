"""Calibrate the shipped model folders on development data and install the result (issue 32).

Each step runs the public ``calibrate`` of a case into a temporary folder, then copies that
folder (the same weights, plus ``calibration.json`` and its new seal) over the shipped one. Nothing
here touches a split that a benchmark reports.

* ``spectra-stars``: the stellar-parameter posterior on the MILES calibration half
  (:func:`sim2sky.cases.spectra.realstars.miles_split`, seed 20261206);
* ``spectra-redshift``: the redshift posterior on 10,000 fresh simulations
  (``sim2sky spectra simulate --n 10000 --seed 4242``), per S/N group;
* ``lightcurves-eros1``: the EROS-1 classifier on the EROS-1 *train* split (2,912 stars, groups);
* ``lightcurves-s82``: the Stripe 82 classifier on the calibration half of the 483 RR Lyrae
  (:func:`sim2sky.cases.variables.s82_halves`);
* ``nebulae-5line``: the nebula classifier for 5-line tables, on 1,000 tables per theory family
  (the four HII grids, PN, SNR, DIG, AGN; :func:`sim2sky.cases.nebulae.five_line_table`, seed 4242);
* ``hicubes``: the HI characteriser's posteriors on the U-Net's detections in six simulated
  128x192x192 cubes of 100 sources (seeds 7000-7005, those of the older width factors).

    SIM2SKY_DATA=../shared/data python tools/calibrate_shipped_models.py spectra-redshift lightcurves-eros1
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

STEPS = ("spectra-stars", "spectra-redshift", "lightcurves-eros1", "lightcurves-s82", "nebulae-5line", "hicubes")


def _install(calibrated: Path, shipped: Path) -> None:
    for name in ("calibration.json", "calibration.safetensors"):
        (shipped / name).unlink(missing_ok=True)
    shutil.copytree(calibrated, shipped, dirs_exist_ok=True)


def run(step: str, tmp: Path) -> None:
    out = tmp / step
    if step.startswith("spectra"):
        from sim2sky.cases import spectra
        from sim2sky.cases.spectra.pipeline import DEFAULT_MODEL_DIR

        if step == "spectra-stars":
            from sim2sky.cases.spectra.evaluate import miles
            from sim2sky.cases.spectra.realstars import miles_split

            s = miles()
            cal, _ = miles_split(len(s))
            data = s[cal]
            rec = spectra.load().calibrate(data, out, target="stars")
        else:
            rec = spectra.load().calibrate(spectra.simulate(10000, seed=4242), out, target="redshift")
        _install(out, DEFAULT_MODEL_DIR)
    elif step == "hicubes":
        from sim2sky.cases import hicubes as hc

        cubes = [hc.simulate(100, seed=s, shape=(128, 192, 192)) for s in range(7000, 7006)]
        rec = hc.load().calibrate(cubes, out)
        _install(out, hc.models_dir())
    elif step == "nebulae-5line":
        from sim2sky.cases import nebulae as nb
        from sim2sky.cases.nebulae.theory import DiffuseIonisedGas, ShockSNR

        families = [g() for g in nb.HII_FAMILIES] + [nb.PNe3MdB(), ShockSNR(), DiffuseIonisedGas(), nb.MappingsNLR()]
        rec = nb.load().calibrate(nb.five_line_table(families, 1000, seed=4242), out)
        _install(out, nb.DEFAULT_MODEL_DIR)
    else:
        from sim2sky.cases.variables import eros_table, lightcurve_model_dir, load, s82_halves, s82_table

        survey = step.split("-")[1]
        if survey == "eros1":
            data = eros_table("train")
        else:
            data = s82_table()
            ids = np.array(list(dict.fromkeys(np.asarray(data["id"]).astype(str))))   # read_s82 order
            data = data[np.isin(np.asarray(data["id"]).astype(str), ids[s82_halves(len(ids))])]
        rec = load(survey).calibrate(data, out, truth="group" if survey == "eros1" else "class", n_jobs=2)
        _install(out, lightcurve_model_dir(survey))
    print(step, rec["dataset"], rec["cross_validated"])


def main(steps) -> None:
    bad = sorted(set(steps) - set(STEPS))
    if bad or not steps:
        raise SystemExit(f"steps: choose from {', '.join(STEPS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for step in steps:
            run(step, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
