"""The stars table of issue 32: theory-trained stellar parameters on real MILES stars, before and
after model error, DANN and calibration, beside The Cannon trained on real labels.

The MILES development set is cut once (:func:`sim2sky.cases.spectra.realstars.miles_split`):
the *calibration* half fits the model error, is DANN's unlabelled target, calibrates the
intervals and trains The Cannon; every number below is measured on the *report* half, FGK stars
(4000-7000 K, as in the issue), which nothing was fitted on.

    SIM2SKY_DATA=../shared/data python benchmarks/trust_stars_train.py   # the variants (~30 min)
    SIM2SKY_DATA=../shared/data python benchmarks/trust_stars.py         # this table (~2 min)

Writes ``benchmarks/results_trust_stars.json`` and ``docs/trust_stars_coverage.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from sim2sky.cases.spectra import SpectraPipeline, star_grid_inputs
from sim2sky.cases.spectra.calibration import TEFF_GROUPS, rank_auc, star_truth
from sim2sky.cases.spectra.evaluate import miles, robust_scatter
from sim2sky.cases.spectra.realstars import MILES_SPLIT_SEED, miles_split
from sim2sky.cases.spectra.stars import continuum_normalise
from sim2sky.infer import IntervalCalibration, load_posterior
from sim2sky.learn import TrustScore

KEYS = ("TEFF", "LOGG", "FEH")
FGK = (4000.0, 7000.0)


def summarise(truth_lin, med, lo68, hi68, lo95, hi95, sel) -> dict:
    """bias (median), robust scatter, 68/95% coverage per parameter over the rows ``sel``."""
    out = {}
    for j, k in enumerate(KEYS):
        ok = sel & np.isfinite(truth_lin[:, j]) & np.isfinite(med[:, j])
        d = med[ok, j] - truth_lin[ok, j]
        t = truth_lin[ok, j]
        out[k] = {"n": int(ok.sum()), "bias": float(np.median(d)), "scatter": robust_scatter(d),
                  "coverage68": float(np.mean((t >= lo68[ok, j]) & (t <= hi68[ok, j]))),
                  "coverage95": float(np.mean((t >= lo95[ok, j]) & (t <= hi95[ok, j])))}
    return out


def to_linear(a):
    a = np.array(a, float)
    a[..., 0] = 10 ** a[..., 0]
    return a


def npe_rows(post, cal_x, cal_t, rep_x, rep_t_lin, sel, samples=200, method="scale"):
    """Theory-only and calibrated rows for one posterior."""
    import torch

    def draws(x):
        return post.sample_batched(x, samples, generator=torch.Generator().manual_seed(0), max_rows=1 << 16)

    d_cal, d_rep = draws(cal_x), draws(rep_x)
    q = np.quantile(d_rep, [0.025, 0.16, 0.5, 0.84, 0.975], axis=1)
    raw = summarise(rep_t_lin, *(to_linear(v) for v in (q[2], q[1], q[3], q[0], q[4])), sel)
    cal = IntervalCalibration((0.68, 0.95), method=method, group_by=TEFF_GROUPS).fit(d_cal, cal_t)
    iv = cal.intervals(d_rep)
    calib = summarise(rep_t_lin, *(to_linear(iv[k]) for k in ("median", "lo68", "hi68", "lo95", "hi95")), sel)
    sd = (iv["hi68"] - iv["lo68"]) / 2
    return raw, calib, cal, iv, sd, d_rep


def cannon_row(s_cal, t_cal_lin, s_rep, rep_t_lin, sel):
    """The Cannon (Ness et al. 2015, PyPI TheCannon 0.7.3) trained on the calibration half's labels,
    quadratic in (T_eff, log g, [Fe/H]), on continuum-normalised native-resolution spectra."""
    import contextlib
    import io

    from TheCannon import dataset, model

    def norm(s):
        iv = np.where(np.isfinite(s.ivar) & (s.ivar > 0), s.ivar, 0.0)
        flux = np.nan_to_num(s.flux)
        f = continuum_normalise(flux, iv, width=333)        # 300 A at 0.9 A/px, as 15 bins of the 20 A grid
        cont = flux / np.where(f != 0, f, 1.0)
        return f, iv * cont**2

    train = np.isfinite(t_cal_lin).all(1) & (t_cal_lin[:, 0] > 3600) & (t_cal_lin[:, 0] < 8000)
    f_tr, iv_tr = norm(s_cal)
    f_te, iv_te = norm(s_rep)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ds = dataset.Dataset(s_cal.wave, np.arange(train.sum()).astype(str), f_tr[train], iv_tr[train], t_cal_lin[train],
                             np.arange(len(f_te)).astype(str), f_te, iv_te)
        ds.set_label_names(["T_{eff}", "log g", "[Fe/H]"])
        m = model.CannonModel(2, useErrors=False)
        m.train(ds)
        errs, _ = m.infer_labels(ds)
    wall = time.perf_counter() - t0
    labels = ds.test_label_vals
    errs = errs * m.scales              # TheCannon 0.7.3 returns the errors of the scaled labels
    return summarise(rep_t_lin, labels, labels - errs, labels + errs, labels - 1.96 * errs, labels + 1.96 * errs,
                     sel), {"n_train": int(train.sum()), "wall_s": wall}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="benchmarks/out/stars_variants")
    ap.add_argument("--out", default="benchmarks/results_trust_stars.json")
    ap.add_argument("--figures", default="docs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    s = miles()
    cal_i, rep_i = miles_split(len(s))
    s_cal, s_rep = s[cal_i], s[rep_i]
    t_cal, t_rep = star_truth(s_cal.meta), star_truth(s_rep.meta)
    rep_lin = to_linear(t_rep)
    sel = (rep_lin[:, 0] >= FGK[0]) & (rep_lin[:, 0] < FGK[1])
    pipe = SpectraPipeline()
    x_cal, _ = star_grid_inputs(s_cal, "mean")
    x_rep, _ = star_grid_inputs(s_rep, "mean")
    result = {"split_seed": MILES_SPLIT_SEED, "n_calibration": len(s_cal), "n_report": len(s_rep),
              "report_selection": f"FGK {FGK[0]:.0f}-{FGK[1]:.0f} K (catalogue)", "rows": {}, "trust": {}}
    posts = {}
    for name, label in (("theory_only", "theory only (ATLAS9 NPE, shipped before this issue)"),
                        ("model_error", "+ model error (shipped)"), ("noise", "+ noise augmentation"),
                        ("dann", "+ DANN")):
        if (Path(args.variants) / name).is_dir():
            post = load_posterior(Path(args.variants) / name)
            n_train = (post.provenance or {}).get("n_stars", 40000)
            posts[label if n_train == 40000 else f"{label} ({n_train:,} training stars)"] = post
    keep = {}
    for label, post in posts.items():
        raw, calib, cal, iv, sd, d_rep = npe_rows(post, x_cal, t_cal, x_rep, rep_lin, sel)
        result["rows"][label] = raw
        result["rows"][f"{label} + calibration"] = calib
        result["rows"][f"{label} + calibration"]["fitted"] = cal.to_dict()
        keep[label] = (post, iv, sd, d_rep)
        print(f"{label}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    cal_cqr = npe_rows(pipe.stars, x_cal, t_cal, x_rep, rep_lin, sel, method="cqr")[1]
    result["rows"]["+ model error (shipped) + CQR"] = cal_cqr
    cannon, info = cannon_row(s_cal, to_linear(t_cal), s_rep, rep_lin, sel)
    result["rows"]["The Cannon (trained on the real calibration half)"] = cannon
    result["cannon"] = info
    # trust: does the score rank the largest errors first? (the posterior-predictive mismatch
    # that `spectra calibrate` ships, and the k-NN embedding distance for comparison)
    from sim2sky.cases.spectra.calibration import reference_mismatch
    from sim2sky.cases.spectra.stars import posterior_mismatch as mismatch
    from sim2sky.cases.spectra.stars import StarObservation, simulate_stars, star_inputs
    from sim2sky.learn import StatisticTrust

    sims = simulate_stars(4000, seed=7919, obs=StarObservation())
    for label, (post, iv, sd, d_rep) in keep.items():
        p = SpectraPipeline.__new__(SpectraPipeline)
        p.stars, p.star_samples = post, 200
        st = StatisticTrust().fit(reference_mismatch(p, 4000, 0))
        scores = {"posterior-predictive mismatch": st.score(mismatch(x_rep, d_rep)),
                  "k-NN embedding distance": TrustScore().fit(
                      post.embed(star_inputs(sims["flux"], sims["ivar"], "mean"))).score(post.embed(x_rep))}
        big = np.abs(t_rep - iv["median"]) > 2 * sd
        result["trust"][label] = {
            "flagged_fraction_report": float(np.mean(scores["posterior-predictive mismatch"] > st.threshold_)),
            "flagged_fraction_report_fgk": float(np.mean(scores["posterior-predictive mismatch"][sel] > st.threshold_)),
            "auc_error_gt_2sigma": {name: {k: rank_auc(v[np.isfinite(t_rep[:, j])], big[np.isfinite(t_rep[:, j]), j])
                                           for j, k in enumerate(KEYS)} for name, v in scores.items()}}
    result["wall_s"] = time.perf_counter() - t0
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print_table(result)
    print("\n" + markdown_table(result))
    figures(result, keep, t_rep, sel, Path(args.figures))


def print_table(result):
    print(f"\nMILES report half, {result['report_selection']}: bias / scatter / 68% / 95% coverage")
    for label, row in result["rows"].items():
        cells = "  ".join(f"{k} {row[k]['bias']:+8.3f} {row[k]['scatter']:7.3f} {row[k]['coverage68']:.2f} "
                          f"{row[k]['coverage95']:.2f}" for k in KEYS)
        print(f"  {label:58s} n={row['TEFF']['n']:3d}  {cells}")
    for label, t in result["trust"].items():
        print(f"  trust AUC (|error| > 2 sigma) {label}: {json.dumps(t['auc_error_gt_2sigma'])}; "
              f"flagged {t['flagged_fraction_report']:.3f}")


def markdown_table(result) -> str:
    """The stars table for the docs (bias, robust scatter, 68% / 95% coverage per parameter)."""
    head = ("| model | n | T_eff bias [K] | scatter [K] | cov 68 / 95 | log g bias | scatter | cov 68 / 95 "
            "| [Fe/H] bias | scatter | cov 68 / 95 |\n|" + "---|" * 11)
    lines = [head]
    for label, row in result["rows"].items():
        cells = []
        for k, fmt in (("TEFF", "{:+.0f}"), ("LOGG", "{:+.2f}"), ("FEH", "{:+.2f}")):
            r = row[k]
            cells += [fmt.format(r["bias"]), (fmt.replace("+", "")).format(r["scatter"]),
                      f"{r['coverage68']:.2f} / {r['coverage95']:.2f}"]
        lines.append(f"| {label} | {row['TEFF']['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figures(result, keep, t_rep, sel, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcdefaults()                              # importing TheCannon switches LaTeX and serif fonts on
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    names = [n for n in result["rows"] if "Cannon" not in n and "CQR" not in n]
    for ax, k in zip(axes, KEYS):
        for lvl, mk in ((68, "o"), (95, "s")):
            ax.plot(range(len(names)), [result["rows"][n][k][f"coverage{lvl}"] for n in names], mk + "-", label=f"{lvl}%")
            ax.axhline(lvl / 100, color="k", lw=0.7, ls="--")
        c = result["rows"]["The Cannon (trained on the real calibration half)"][k]
        ax.plot([len(names)], [c["coverage68"]], "o", color="C0")
        ax.plot([len(names)], [c["coverage95"]], "s", color="C1")
        ax.set_xticks(range(len(names) + 1), [re.sub(r" \([^)]*\)", "", n) for n in names] + ["The Cannon"],
                      rotation=70, fontsize=7)
        ax.set_title(k)
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("coverage (MILES report, FGK)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "trust_stars_coverage.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
