"""Redshift intervals calibrated per S/N (issue 32).

The shipped spectra folder holds a redshift calibration fitted on 10,000 simulations of seed 4242
(``tools/calibrate_shipped_models.py spectra-redshift``). Reported here, on spectra nothing was
fitted on:

* 6,000 fresh simulations (``sim2sky spectra simulate --seed 4343``): 68% and 95% coverage and
  the median 68% half-width per S/N group, raw posterior vs calibrated (the same draws);
* the 11 real spectra with catalogue redshifts (2 SDSS galaxies, PHL 957, 8 MaNGA spaxels):
  how many catalogue redshifts fall inside the intervals (11 objects: the binomial 1-sigma on a
  68% rate is +-0.14, so this is a sanity check, not a measurement of coverage).

    SIM2SKY_DATA=../shared/data python benchmarks/trust_redshift.py
"""

from __future__ import annotations

import json
import time

import numpy as np

import _data  # noqa: F401  (data mirror)
from sim2sky.cases import spectra
from sim2sky.cases.spectra.calibration import SNR_GROUPS
from sim2sky.core.data import dataset_root

REAL = {"NGC3073_SDSS_DR18.fits": None, "NGC3522_SDSS_DR18.fits": None, "PH957_f.fits": 2.68,
        "MaNGA_test_spectra.fits.gz": None}


def _coverage(z, out) -> dict:
    z = np.asarray(z, float)
    return {"coverage68": float(np.mean((z >= out["z_q16"]) & (z <= out["z_q84"]))),
            "coverage95": float(np.mean((z >= out["z_q025"]) & (z <= out["z_q975"]))),
            "median_halfwidth68": float(np.median((np.asarray(out["z_q84"]) - np.asarray(out["z_q16"])) / 2)),
            "n": int(len(z))}


def simulations(res: dict, n: int) -> None:
    test = spectra.simulate(n, seed=4343)
    case = spectra.load()
    z = np.asarray(test["TRUE_Z"])
    for name, cal in (("raw", False), ("calibrated", True)):
        t0 = time.perf_counter()
        out = case.pipeline_.classify(*_inputs(test), calibrated=cal)
        snr = _inputs(test)[1]
        edges = [0.0, *SNR_GROUPS[1], np.inf]
        res[name] = {"all": _coverage(z, out), "seconds": time.perf_counter() - t0}
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (snr >= lo) & (snr < hi)
            res[name][f"snr {lo:g}-{hi:g}"] = _coverage(z[m], {k: np.asarray(v)[m] for k, v in out.items()
                                                              if k.startswith("z_")})
    for key in res["raw"]:
        if key != "seconds":
            r, c = res["raw"][key], res["calibrated"][key]
            print(f"{key:14s} n {r['n']:5d}  68%: {r['coverage68']:.3f} -> {c['coverage68']:.3f}   95%: "
                  f"{r['coverage95']:.3f} -> {c['coverage95']:.3f}   half-width {r['median_halfwidth68']:.4f} -> "
                  f"{c['median_halfwidth68']:.4f}")


_CACHE = {}


def _inputs(table):
    from sim2sky.cases.spectra.io import spectrum_set
    from sim2sky.cases.spectra.pipeline import model_inputs

    key = id(table)
    if key not in _CACHE:
        x, _, snr, cov = model_inputs(spectrum_set(table))
        _CACHE[key] = (x, snr, cov)
    return _CACHE[key]


def real(res: dict) -> None:
    from sim2sky.cases.spectra.io import read_spectra
    from sim2sky.cases.spectra.pipeline import model_inputs

    root = dataset_root("spectra-real") / "spectra_real"
    case = spectra.load()
    rows = []
    for f, known in REAL.items():
        s = read_spectra(root / f)
        x, _, snr, cov = model_inputs(s)
        z = np.asarray(s.meta.get("SDSS_Z", s.meta.get("Z_CATALOGUE", [known] * len(s))), float)
        for name, cal in (("raw", False), ("calibrated", True)):
            out = case.pipeline_.classify(x, snr, cov, calibrated=cal)
            for i in range(len(s)):
                rows.append({"file": f, "row": i, "version": name, "z_catalogue": float(z[i]),
                             "z_median": float(out["z_median"][i]), "z_q16": float(out["z_q16"][i]),
                             "z_q84": float(out["z_q84"][i]), "z_q025": float(out["z_q025"][i]),
                             "z_q975": float(out["z_q975"][i]), "snr": float(snr[i])})
    res["rows"] = rows
    for name in ("raw", "calibrated"):
        r = [x for x in rows if x["version"] == name]
        res[name] = {"n": len(r), "inside68": int(sum(x["z_q16"] <= x["z_catalogue"] <= x["z_q84"] for x in r)),
                     "inside95": int(sum(x["z_q025"] <= x["z_catalogue"] <= x["z_q975"] for x in r)),
                     "median_abs_dz": float(np.median([abs(x["z_median"] - x["z_catalogue"]) / (1 + x["z_catalogue"])
                                                       for x in r]))}
        print(f"real spectra ({name}): {res[name]['inside68']}/{res[name]['n']} inside 68%, "
              f"{res[name]['inside95']}/{res[name]['n']} inside 95%, median |dz|/(1+z) {res[name]['median_abs_dz']:.4f}")


def figure(results="benchmarks/results_trust_redshift.json", path="docs/trust_redshift_coverage.png"):
    """68% and 95% coverage per S/N group, raw vs calibrated, from the results file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sims = json.loads(open(results).read())["simulations"]
    groups = [k for k in sims["raw"] if k.startswith("snr")]
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for level, ls in ((68, "-"), (95, "--")):
        ax.axhline(level / 100, color="k", lw=0.7, ls=":")
        for name, colour in (("raw", "C3"), ("calibrated", "C0")):
            ax.plot(x, [sims[name][g][f"coverage{level}"] for g in groups], ls, marker="o", color=colour,
                    label=f"{name}, {level}%")
    ax.set_xticks(x, [g.replace("snr ", "S/N ") for g in groups], fontsize=8)
    ax.set_ylabel("fraction of true redshifts inside")
    ax.set_title("redshift intervals on 6,000 fresh simulations", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(out="benchmarks/results_trust_redshift.json", n=6000):
    t0 = time.perf_counter()
    res = {"simulations": {}, "real": {}}
    simulations(res["simulations"], n)
    real(res["real"])
    res["seconds"] = time.perf_counter() - t0
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    figure(out)
    print(f"wrote {out} and docs/trust_redshift_coverage.png ({res['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
