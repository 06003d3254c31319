"""Every comparison with a peer, on one page: the peer, its version, whether it is the real tool or our own
re-implementation (and why), and the same-run figure read from the results file (issue 34).

Printed as Markdown for the documentation's benchmarks page (docs/conf.py); a figure is "—" where the
results file is absent or the row has no single headline number (the case guide has the table).

    python benchmarks/peers_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def _load(name):
    path = HERE / name
    return json.loads(path.read_text()) if path.exists() else None


def _f(fmt, fn, name):
    def get():
        r = _load(name)
        if r is None:
            return "—"
        try:
            return fmt.format(*fn(r))
        except (KeyError, IndexError, TypeError, ValueError, StopIteration):
            return "—"
    return get


def _redrock(r):
    t = r["theory"]["20"]
    return (t["ours"]["accuracy"], t["redrock"]["accuracy"], t["ours"]["galaxy_outliers"], t["redrock"]["galaxy_outliers"],
            t["speedup_vs_redrock"])


def _hi(r, peer):
    c = r["hi"]["curves"][peer]
    best = max(c, key=lambda p: p["completeness_faint"])
    return (r["hi"]["matched_purity"]["unet_completeness_faint"], r["hi"]["matched_purity"]["purity"],
            max(p["purity"] for p in c), best["completeness_faint"], best["purity"])


def _powerbox(r):
    rows = [c for c in r["comparisons"] if "pk" in c]
    refused = sum("powerbox_refused" in c for c in r["comparisons"])
    return (len(rows), min(c["pk"]["p_value"] for c in rows), refused,
            *r["posterior_coverage"]["powerbox"]["68"])


def _cross(r):
    d = r["ours_8000"]
    return (*d["pk"]["21cmfast"]["coverage68"], *d["hybrid"]["21cmfast"]["coverage68"],
            d["pk"]["21cmfast"]["flagged"], d["hybrid"]["21cmfast"]["flagged"])


def _speed(r):
    run = next(x for x in r["runs"] if "breakdown" in x and x["z_posterior"] and x["grid"] == "model")
    return run["n"], run["wall_s"], run["per_s"], r["redrock"]["seconds_per_spectrum"], r["ratio_vs_redrock"]


def _radio(r):
    run = r["runs"][-1]
    return run["cli_per_s"], run["peer_random_forest"]["per_s"]


def _blends(r):
    b = r["blends"]
    sel = lambda m: next(x for x in b[m]["by_separation"] if x["lo_fwhm"] == 1.0)
    return sel("unet")["median_bias"] * 100, sel("photutils")["median_bias"] * 100, sel("sep")["median_bias"] * 100


def _scarlet(r):
    b = r["blends"]
    same = b["same_subset"]
    return (same["blends"], same["unet"]["median_bias"] * 100, same["scarlet2"]["median_bias"] * 100,
            b["scarlet2"]["seconds_per_blend"], b["unet"]["seconds_per_blend"])


def _period(r):
    p = r["peer"]
    run = max((x for x in r["runs"] if x["n_jobs"] == 0), key=lambda x: x["n"])
    return p["ours_s_per_curve"] * 1e3, p["astropy_s_per_curve"] * 1e3, p["speedup"], run["n"], run["per_s"]


def _cannon(r):
    row = r["rows"]["The Cannon (trained on the real calibration half)"]["TEFF"]
    return row["scatter"], row["coverage68"]


REAL, OURS, BASE, NONE = "real tool", "our re-implementation", "baseline built by us with a library", "not run"

#: (case, comparison, peer and version, kind, why not the real one / note, same-run figure, script)
ROWS = [
    ("npe", "NPE on the sbibm tasks", "sbi 0.27 NPE (NSF)", REAL, "", lambda: "C2ST and time ratios: table above",
     "npe_vs_sbi.py"),
    ("npe", "box priors", "sbi 0.27 with rejection", REAL, "", lambda: "—", "box_map.py"),
    ("spectra", "cold CLI end to end, with redshifts", "redrock 0.21 on 20 of the same spectra", REAL, "",
     _f("{0:,} spectra in {1:.1f} s ({2:,.0f}/s); redrock {3:.2f} s per spectrum ({4:,.0f}x)", _speed,
        "results_speed_spectra.json"), "speed_spectra.py"),
    ("spectra", "class and redshift per S/N", "redrock 0.21, DESI star + QSO templates", REAL,
     "DESI's galaxy template is not in the data mirror: galaxy PCA templates from our theory",
     _f("S/N 20: accuracy {0:.3f} vs {1:.3f}; galaxy z outliers {2:.3f} vs {3:.3f}; {4:,.0f}x faster",
        _redrock, "results_spectra_redrock.json"), "spectra_redrock.py"),
    ("spectra", "class and redshift per S/N", "chi^2 template fit", OURS,
     "kept as a labelled reference beside the real redrock", lambda: "—", "spectra.py"),
    ("spectra", "class per S/N", "PCA + gradient-boosted trees (scikit-learn)", BASE, "", lambda: "—", "spectra.py"),
    ("stars", "T_eff, log g, [Fe/H] on real spectra", "The Cannon 0.7.3 (trained on real labels)", REAL, "",
     _f("T_eff scatter {0:.0f} K, 68% coverage {1:.2f}", _cannon, "results_trust_stars.json"), "trust_stars.py"),
    ("nebulae", "class per S/N", "Kewley et al. 2001 / Kauffmann et al. 2003 line-ratio criteria", OURS,
     "the published demarcation lines coded by us (no package implements them)", lambda: "—", "nebula_accuracy.py"),
    ("nebulae", "class per S/N", "gradient-boosted trees (scikit-learn)", BASE, "", lambda: "—", "nebula_accuracy.py"),
    ("cubes", "spectra/s on a MUSE-like cube", "per-spaxel scipy least-squares Gaussian fits", BASE,
     "the field's per-spaxel fit, written with scipy.optimize", lambda: "—", "cube_throughput.py"),
    ("lightcurves", "period search per curve; cold CLI end to end", "astropy LombScargle (fast) on the same grid",
     REAL, "", _f("{0:.1f} ms vs {1:.1f} ms per curve ({2:.0f}x); {3:,} curves end to end at {4:,.0f}/s", _period,
                  "results_speed_lightcurves.json"), "speed_lightcurves.py"),
    ("lightcurves", "classes, transit vetting", "gradient-boosted trees (scikit-learn)", BASE, "", lambda: "—",
     "timeseries.py"),
    ("hicubes", "completeness at S/N <= 5 vs purity", "SoFiA-like finder", OURS,
     "SoFiA-2 (C, OpenMP, wcslib) is not on PyPI; each step tested against its description",
     _f("U-Net {0:.2f} at SoFiA-like purity {1:.3f}", lambda r: _hi(r, "sofia-like")[:2], "results_detect.json"),
     "detect.py"),
    ("hicubes", "completeness at S/N <= 5 vs purity", "astrodendro 0.3.1 on the cube", REAL, "",
     _f("best purity {2:.2f} (U-Net {0:.2f} at {1:.3f}); best completeness {3:.2f} at purity {4:.2f}",
        lambda r: _hi(r, "astrodendro"), "results_detect.json"), "detect.py"),
    ("hicubes", "completeness at S/N <= 5 vs purity", "PyBDSF 1.14.1 on the moment-0 map", REAL, "",
     _f("best purity {2:.2f}; best completeness {3:.2f} at purity {4:.2f}", lambda r: _hi(r, "pybdsf"),
        "results_detect.json"), "detect.py"),
    ("blends", "flux bias per separation", "photutils 2 and SEP 1.2", REAL, "",
     _f("median flux bias at 1-1.5 FWHM: U-Net {0:+.1f}%, photutils {1:+.1f}%, SEP {2:+.1f}%", _blends,
        "results_detect.json"), "detect.py"),
    ("blends", "model-fitting deblender", "scarlet2 0.5.1 (JAX), on SEP's detections", REAL,
     "",
     _f("median flux bias >= 1 FWHM on the same {0:,} blends: U-Net {1:+.1f}%, scarlet2 {2:+.1f}%; {3:.2f} s vs "
        "{4:.3f} s per blend", _scarlet, "results_detect.json"), "detect.py"),
    ("fields", "Gaussian / log-normal generator", "powerbox 1.0", REAL, "",
     _f("{0} grids: P(k) chi^2 p >= {1:.3f}; {2} refused by powerbox; exact-posterior 68% coverage on powerbox "
        "maps {3:.2f} / {4:.2f}", _powerbox, "results_fields_powerbox.json"), "fields_powerbox.py"),
    ("fields", "21-cm posteriors across simulators", "21cmFAST 4.1.1 (test cubes and a second training set)", REAL,
     "the 3-D CNN is not rerun (the 2-D CNN with the line of sight as channels has its width)",
     _f("trained on ours, on 21cmFAST cubes: 68% coverage P(k) {0:.2f} / {1:.2f}, hybrid {2:.2f} / {3:.2f} "
        "(zeta / T_vir), flagged {4:.0%} / {5:.0%}", _cross, "results_fields_21cmfast.json"), "fields_21cmfast.py"),
    ("fields", "posterior widths", "NPE on P(k) (ours) and sbi on maps", BASE, "", lambda: "—", "fields.py"),
    ("radio", "cutouts/s", "scikit-learn random forest on the same grid", BASE, "",
     _f("CLI {0:,.0f}/s vs forest {1:,.0f}/s (in-process)", _radio, "results_radio_throughput.json"),
     "radio_throughput.py"),
    ("understand", "anomaly AUC", "IsolationForest (scikit-learn)", BASE, "", lambda: "—", "understand.py"),
]


def main():
    print("| case | comparison | peer | kind | note | same-run figure | script |")
    print("|---|---|---|---|---|---|---|")
    for case, what, peer, kind, note, figure, script in ROWS:
        print(f"| {case} | {what} | {peer} | {kind} | {note} | {figure()} | `{script}` |")


if __name__ == "__main__":
    main()
