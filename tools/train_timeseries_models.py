"""Train the shipped time-domain models.

Usage: SIM2SKY_DATA=../shared/data python tools/train_timeseries_models.py [eros1] [s82] [vetter] [sntype] [transits]

* lc_eros1, lc_s82: light-curve classifiers trained on simulations only (2,000 per class, seed 0);
* tce_vetter: DR24 TCE vetter trained on the train/calibration stars of split_by_star(seed=0);
* supernovae/models/{type,age}: SN typer trained on the train/calibration supernovae of
  split_by_supernova(seed=0). The test parts are what benchmarks/timeseries.py reports on;
* transits/models/transit_vetter: light-curve vetter on TCEs of 4,000 simulated Kepler quarters
  (seed 0; the benchmark tests on seed 1). The TCE set is cached in $SIM2SKY_CACHE (default
  /tmp/sim2sky_cache) for the benchmark's input ablations.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from sim2sky.cases.transits import TransitTraining, simulate_tce_set, train_transit_vetter
from sim2sky.cases.supernovae import SNTraining, read_sn_templates, split_by_supernova, train_sn_typer
from sim2sky.cases.variables import (LightCurveTraining, labelled_tces, read_tces, simulate_features, split_by_star,
                                     train_lightcurve_classifier, train_vetter)

ROOT = Path(__file__).resolve().parents[1] / "src/sim2sky/cases"
what = set(sys.argv[1:]) or {"eros1", "s82", "vetter", "sntype", "transits"}

for survey in ("eros1", "s82"):
    if survey in what:
        t0 = time.time()
        settings = LightCurveTraining(survey=survey)
        data = simulate_features(survey, settings.n_per_class * 7, settings.seed, settings.n_jobs)
        clf = train_lightcurve_classifier(settings, training_set=data)
        n_cal = int(len(data["x"]) * settings.calibration_fraction)
        acc = float((clf.predict_proba(data["x"][-n_cal:]).argmax(1) == data["y"][-n_cal:]).mean())
        clf.save(ROOT / f"variables/models/lc_{survey}",
                 provenance={"survey": survey, "n_per_class": settings.n_per_class, "seed": settings.seed,
                             "trained_on": "simulations only (tools/train_timeseries_models.py)"},
                 metrics={"simulated_calibration_accuracy": acc})
        print(f"lc_{survey}: simulated held-out accuracy {acc:.3f} ({time.time() - t0:.0f} s)")

if "vetter" in what:
    x, y, kepid = labelled_tces(read_tces())
    train, cal, _ = split_by_star(kepid, seed=0)
    clf = train_vetter(x[train], y[train], x[cal], y[cal])
    clf.save(ROOT / "variables/models/tce_vetter", provenance={"data": "Kepler DR24 TCEs, split_by_star seed 0 train/cal"})
    print("tce_vetter saved")

if "sntype" in what:
    t0 = time.time()
    d = read_sn_templates()
    train, cal, _ = split_by_supernova(d["sn"], seed=0)
    typer, ager = train_sn_typer(d, train, cal, SNTraining())
    prov = {"data": "DASH/SNID templates, split_by_supernova seed 0 train/cal", "n_spectra": int(train.sum())}
    typer.save(ROOT / "supernovae/models/type", provenance=prov)
    ager.save(ROOT / "supernovae/models/age", provenance=prov)
    print(f"sn typer saved ({time.time() - t0:.0f} s)")

if "transits" in what:
    t0 = time.time()
    settings = TransitTraining()
    data = simulate_tce_set(4 * settings.n_per_scenario, settings.seed, settings.window, settings.n_jobs)
    cache = Path(os.environ.get("SIM2SKY_CACHE", "/tmp/sim2sky_cache"))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache / "tce_train_seed0.npz", **{k: v for k, v in data.items() if k != "n_simulated"})
    t1 = time.time()
    clf = train_transit_vetter(settings, training_set=data)
    n_cal = int(len(data["x"]) * settings.calibration_fraction)
    acc = float((clf.predict_proba(data["x"][-n_cal:]).argmax(1) == data["y"][-n_cal:]).mean())
    clf.save(ROOT / "transits/models/transit_vetter",
             provenance={"trained_on": "simulated Kepler quarters only (tools/train_timeseries_models.py)",
                         "n_light_curves": 4 * settings.n_per_scenario, "n_tces": int(len(data["x"])), "seed": 0},
             metrics={"simulated_calibration_accuracy": acc})
    print(f"transit_vetter: {len(data['x'])} TCEs in {t1 - t0:.0f} s, trained in {time.time() - t1:.0f} s, "
          f"calibration-set scenario accuracy {acc:.3f}")
