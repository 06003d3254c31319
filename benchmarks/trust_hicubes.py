"""HI source posteriors calibrated on labelled detections (issue 32).

The shipped characteriser's posteriors, on the U-Net's detections in six simulated 128x192x192
cubes of 100 sources (seeds 9000-9005; the calibration used seeds 7000-7005): coverage of the 68%
and 95% intervals and the median 68% half-width per property, for

* the raw NPE posterior (stamps of isolated sources in training);
* the older hand-fitted width factors (one factor per property on the standard deviation,
  ``characteriser_calibration.json``; a +-1 sd interval for 68%, +-1.96 sd for 95%);
* ``hicubes calibrate`` (shift, model-error floor and conformal widths at 68% and 95%;
  ``calibration.json``, the shipped default now).

    python benchmarks/trust_hicubes.py
"""

from __future__ import annotations

import json
import time

import numpy as np

from sim2sky.cases import hicubes as hc
from sim2sky.infer import interval_coverage


def main(out="benchmarks/results_trust_hicubes.json", seeds=range(9000, 9006)):
    t0 = time.perf_counter()
    cubes = [c for s in seeds for c in hc.labelled_cubes(hc.simulate(100, seed=s, shape=(128, 192, 192)))]
    draws, truth = hc.detection_samples(cubes, hc.load_models(), 200, seed=1)
    factors = hc.pipeline.width_scale()
    cal = hc.posterior_calibration()
    res = {"detections": int(len(draws)), "cubes": len(cubes), "properties": {}}
    med, sd = np.median(draws, 1), draws.std(1)
    iv = cal.intervals(draws)
    for j, name in enumerate(hc.PROPERTIES):
        row = {}
        for label, lo68, hi68, lo95, hi95 in (
                ("raw", *np.quantile(draws[:, :, j], [0.16, 0.84], 1), *np.quantile(draws[:, :, j], [0.025, 0.975], 1)),
                ("width factors", *(med[:, j] + k * f * sd[:, j] for f in (factors[name],) for k in (-1, 1)),
                 *(med[:, j] + k * 1.96 * factors[name] * sd[:, j] for k in (-1, 1))),
                ("calibrated", iv["lo68"][:, j], iv["hi68"][:, j], iv["lo95"][:, j], iv["hi95"][:, j])):
            t = truth[:, j:j + 1]
            row[label] = {"coverage68": float(interval_coverage(t, lo68[:, None], hi68[:, None])[0]),
                          "coverage95": float(interval_coverage(t, lo95[:, None], hi95[:, None])[0]),
                          "median_halfwidth68": float(np.median((hi68 - lo68) / 2))}
        res["properties"][name] = row
        print(f"{name:20s} " + "  ".join(f"{k}: {v['coverage68']:.3f}/{v['coverage95']:.3f} (hw {v['median_halfwidth68']:.3g})"
                                         for k, v in row.items()))
    res["units"] = "half-widths in log10 (flux, w20, size) or deg (i, pa)"
    res["seconds"] = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"{len(draws)} detections; wrote {out} ({res['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
