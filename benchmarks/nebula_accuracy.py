"""Nebula classification benchmark: sim2sky's shipped classifier vs peers, measured in one run.

Prints (and writes as JSON / figures):
1. macro-F1, accuracy and per-class recall vs S/N(Hα) = 5, 10, 20, 50, 100 on held-out theory
   spectra (rendered with real MUSE noise and measured), with ECE; peers in the same run:
   the classical line-ratio criteria and a gradient-boosted-trees classifier trained on the
   same simulations;
2. the "unknown" rate on pure noise; the AGN table (the NLR grid, and empirical Seyfert / LINER
   families never trained on, as 5-line tables); typical HII regions of every grid as 5-line
   tables, with balanced and field class priors;
3. the domain-adaptation table: plain vs DANN, trained on the source domain, tested on the
   source and on (a) the shifted domain (another HII grid, extinction law, LSF, noise, S/N, DIG)
   and (b) a target that differs only in its HII theory grid (MAPPINGS V of pyqz);
4. leave-one-HII-grid-out: trained on all HII grids but one, tested on the one left out, with the
   ECE for the within-theory and the cross-theory temperature; the BPT coverage figure.

Usage: python benchmarks/nebula_accuracy.py [--n-test 1000] [--n-train 8000] [--out bench_out/nebulae]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import _data  # noqa: F401  (the shared data mirror)
from sim2sky.cases.nebulae import (CLASSES, FEATURE_LINES, FEATURE_NAMES, NebulaPipeline, evaluate_classifier,
                                   measured_to_table, shifted_domain, simulate_agn, simulate_noise,
                                   simulate_set, source_domain, theory_domain)
from sim2sky.cases.nebulae.crosstheory import (EmpiricalLINER, EmpiricalSeyfert, bpt_coverage_figure, kewley01,
                                               leave_one_grid_out, theory_line_table)
from sim2sky.cases.nebulae.theory import MappingsNLR, MappingsVHII, PNe3MdB, ShockSNR
from sim2sky.cases.nebulae.training import HII_FAMILIES, Domain
from sim2sky.learn.classifier import CalibratedClassifier, ClassifierConfig, mlp_classifier
from sim2sky.learn.dann import DANNConfig, fit_dann

SNRS = (5, 10, 20, 50, 100)


def line_ratio_criteria(x: np.ndarray) -> np.ndarray:
    """The field's classical cuts, applied to our features (ratios to Hα, asinh-scaled by 0.02).

    PN: [OIII]5007/(Hα+[NII]) > 1.6 (Ciardullo et al. 2002); SNR: [SII]/Hα > 0.4 (Mathewson &
    Clarke 1973); DIG: [SII]/Hα > 0.2 (e.g. Zhang et al. 2017 use [SII]/Hα to trace DIG); AGN:
    above the Kewley et al. (2001) maximum-starburst line in the [NII] BPT diagram; else HII.
    """
    idx = {l: FEATURE_NAMES.index(f"{l}_ratio") for l in FEATURE_LINES}
    r = lambda l: np.sinh(x[:, idx[l]]) * 0.02
    o3, n2, s2 = r("OIII5007"), r("NII6584"), r("SII6717_31")
    out = np.zeros(len(x), int)
    out[s2 > 0.2] = 3
    out[s2 > 0.4] = 2
    hb = r("HB4861")
    with np.errstate(divide="ignore", invalid="ignore"):
        ln2, lo3 = np.log10(np.maximum(n2, 1e-4)), np.log10(np.maximum(o3, 1e-4) / np.maximum(hb, 1e-4))
    out[(ln2 >= 0.47) | (lo3 > kewley01(np.minimum(ln2, 0.46)))] = 4
    out[o3 / (1 + 1.34 * n2) > 1.6] = 1      # Hα + [NII]6548,6584 = Hα (1 + 1.34 [NII]6584/Hα)
    return out


def scores(y, yhat):
    from sklearn.metrics import f1_score

    recall = [float(np.mean(yhat[y == k] == k)) for k in range(len(CLASSES))]
    return {"accuracy": float(np.mean(y == yhat)), "macro_f1": float(f1_score(y, yhat, average="macro")),
            "recall": dict(zip(CLASSES, recall))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-test", type=int, default=1000, help="test spectra per class and S/N")
    ap.add_argument("--n-train", type=int, default=8000, help="training spectra per class for the peer and DANN runs")
    ap.add_argument("--model", default=None, help="model folder (default: shipped)")
    ap.add_argument("--out", default="bench_out/nebulae")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pipe = NebulaPipeline(args.model)
    result = {"snr": {}}

    from sklearn.ensemble import HistGradientBoostingClassifier

    train = simulate_set(theory_domain(), args.n_train, seed=100)
    v = train["valid"]
    hgb = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(train["x"][v], train["y"][v])

    print(f"\n1. Held-out theory spectra, {args.n_test} per class per S/N (real MUSE noise, lines measured)")
    print(f"{'S/N':>5} | {'sim2sky F1':>10} {'acc':>6} {'ECE':>6} | recall " + " ".join(f"{c:>4}" for c in CLASSES) + f" | {'GBT F1':>7} | {'cuts F1':>7} | F1 ratio vs cuts")
    for sn in SNRS:
        test = simulate_set(theory_domain(), args.n_test, seed=200 + sn, augment=False, sn_halpha=float(sn))
        m = evaluate_classifier(pipe.classifier, test)
        ok = test["valid"]
        g = scores(test["y"][ok], hgb.predict(test["x"][ok]))
        c = scores(test["y"][ok], line_ratio_criteria(test["x"][ok]))
        result["snr"][sn] = {"sim2sky": m, "gbt": g, "cuts": c}
        rec = " ".join(f"{m['recall'][k]:.2f}" for k in CLASSES)
        print(f"{sn:>5} | {m['macro_f1']:>10.3f} {m['accuracy']:>6.3f} {m['ece']:>6.3f} | {rec:>25} | "
              f"{g['macro_f1']:>7.3f} | {c['macro_f1']:>7.3f} | {m['macro_f1'] / c['macro_f1']:.2f}x")

    # the same test without DIG along the line of sight: how much of the gap the DIG mixing makes
    import dataclasses

    dom = theory_domain()
    no_dig = dataclasses.replace(dom, observation=dataclasses.replace(dom.observation, dig_probability=0.0))
    test = simulate_set(no_dig, args.n_test, seed=300, augment=False, sn_halpha=100.0)
    m = evaluate_classifier(pipe.classifier, test)
    result["snr_100_no_dig"] = m
    rec = " ".join(f"{m['recall'][k]:.2f}" for k in CLASSES)
    print(f"  100 | {m['macro_f1']:>10.3f} {m['accuracy']:>6.3f} {m['ece']:>6.3f} | {rec:>25} | (no DIG along the line of sight)")

    print("\n2. 'unknown', AGN and class priors")
    xn, meas = simulate_noise(2000, seed=7)
    res = pipe.predict(measured_to_table(meas), 2000)
    noise_rate = float(np.mean(res["label"] == "unknown"))
    nebulae = simulate_set(theory_domain(), 1000, seed=9, augment=False)
    neb_rate = float(np.mean(pipe.classifier.predict(nebulae["x"][nebulae["valid"]]) == "unknown"))
    agn = simulate_agn(2000, seed=8)
    pa = pipe.classifier.predict(agn["x"][agn["valid"]])
    result["unknown"] = {"noise": noise_rate, "theory_nebulae": neb_rate,
                         "nlr_spectra": {c: float(np.mean(pa == c)) for c in (*CLASSES, "unknown")}}
    print(f"pure noise -> unknown: {noise_rate:.3f}; theory nebulae -> unknown: {neb_rate:.3f}")
    field = NebulaPipeline(args.model, class_priors="field")
    rng = np.random.default_rng(11)
    rows = {}
    print(f"{'family (5-line tables, 3% errors)':40s} {'priors':>8} | " + " ".join(f"{c:>5}" for c in (*CLASSES, "unkn.")))
    families = [m() for m in HII_FAMILIES] + [PNe3MdB(), ShockSNR(), MappingsNLR(), EmpiricalSeyfert(), EmpiricalLINER()]
    for model in families:
        _, fluxes = model.sample(args.n_test * 2, rng)
        table = theory_line_table(fluxes, rng)
        for pname, p in (("balanced", pipe), ("field", field)):
            lab = p.predict(table, len(fluxes))["label"]
            frac = {c: float(np.mean(lab == c)) for c in (*CLASSES, "unknown")}
            rows[f"{model.name} / {pname}"] = frac
            print(f"{model.nebula_class + ': ' + model.name:40s} {pname:>8} | " + " ".join(f"{v:5.2f}" for v in frac.values()))
    result["five_line_tables"] = rows

    print(f"\n3. Domain adaptation: trained on the source domain ({args.n_train}/class), tested on source and shifted target")
    src = simulate_set(source_domain(), args.n_train, 0)
    cal = simulate_set(source_domain(), max(args.n_train // 5, 500), 1, augment=False)
    ref = simulate_set(source_domain(), max(args.n_train // 5, 500), 5)
    tgt = simulate_set(shifted_domain(), args.n_train // 2, 3, augment=False)
    src_test = simulate_set(source_domain(), args.n_test, 2, augment=False)
    tgt_test = simulate_set(shifted_domain(), args.n_test, 4, augment=False)
    grid_dom = Domain("grid", {**source_domain().models, "HII": (MappingsVHII(),)})
    grid_tgt = simulate_set(grid_dom, args.n_train // 2, 13, augment=False)
    grid_test = simulate_set(grid_dom, args.n_test, 14, augment=False)
    v, vc, vr, vt = src["valid"], cal["valid"], ref["valid"], tgt["valid"]
    cfg = ClassifierConfig(epochs=25)
    plain = CalibratedClassifier(mlp_classifier(len(FEATURE_NAMES), len(CLASSES)), CLASSES, cfg).fit(src["x"][v], src["y"][v], cal["x"][vc], cal["y"][vc], ref["x"][vr], ref["y"][vr])
    dann = fit_dann(CalibratedClassifier(mlp_classifier(len(FEATURE_NAMES), len(CLASSES)), CLASSES, cfg), src["x"][v], src["y"][v], tgt["x"][vt], cal["x"][vc], cal["y"][vc],
                    DANNConfig(epochs=25), x_ref=ref["x"][vr], y_ref=ref["y"][vr])
    vg = grid_tgt["valid"]
    dann_grid = fit_dann(CalibratedClassifier(mlp_classifier(len(FEATURE_NAMES), len(CLASSES)), CLASSES, cfg), src["x"][v], src["y"][v], grid_tgt["x"][vg], cal["x"][vc], cal["y"][vc],
                         DANNConfig(epochs=25), x_ref=ref["x"][vr], y_ref=ref["y"][vr])
    result["dann"] = {}
    print(f"{'model':>10} {'test on':>12} | {'acc':>6} {'F1':>6} {'ECE':>6} | recall " + " ".join(f"{c:>4}" for c in CLASSES))
    for name, clf, tests in (("plain", plain, (("source", src_test), ("target", tgt_test), ("grid-target", grid_test))),
                             ("DANN", dann, (("source", src_test), ("target", tgt_test))),
                             ("DANN-grid", dann_grid, (("source", src_test), ("grid-target", grid_test)))):
        for dom, data in tests:
            m = evaluate_classifier(clf, data)
            result["dann"][f"{name}_{dom}"] = m
            rec = " ".join(f"{m['recall'][k]:.2f}" for k in CLASSES)
            print(f"{name:>10} {dom:>12} | {m['accuracy']:>6.3f} {m['macro_f1']:>6.3f} {m['ece']:>6.3f} | {rec:>25}")

    print(f"\n4. Leave one HII grid out ({args.n_train}/class, 25 epochs per fold)")
    logo = leave_one_grid_out(HII_FAMILIES, n_per_class=args.n_train, epochs=25, n_test=args.n_test)
    result["leave_one_grid_out"] = logo
    print(f"{'left out':28s} | {'HII recall':>10} {'5-line':>7} {'acc':>6} {'ECE within':>10} {'ECE cross':>9}")
    for f in logo["folds"]:
        print(f"{f['left_out']:28s} | {f['hii_recall_spectra']:>10.3f} {f['hii_recall_5line']:>7.3f} {f['accuracy']:>6.3f} "
              f"{f['ece_within']:>10.3f} {f['ece_cross']:>9.3f}")
    print(f"cross-theory temperature factor: {logo['temperature_ratio']:.3f}")
    result["bpt_reach"] = bpt_coverage_figure(out / "nebula_bpt_coverage.png",
                                              [m() for m in HII_FAMILIES] + [PNe3MdB(), MappingsNLR(), EmpiricalSeyfert(), EmpiricalLINER()])
    print("highest log [OIII]/Hbeta at log [NII]/Halpha < -1 (99.5%):", json.dumps({k: round(v, 2) for k, v in result["bpt_reach"].items()}))
    result["wall_s"] = time.perf_counter() - t0
    (out / "nebula_accuracy.json").write_text(json.dumps(result, indent=1, default=float))
    figures(result, out)
    print(f"\nwall time {result['wall_s']:.0f} s; JSON and figures in {out}/")


def figures(result, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for ax, key in zip(axes, ("plain_source", "plain_target", "DANN_source", "DANN_target")):
        cm = np.asarray(result["dann"][key]["confusion"], float)
        cm = cm / cm.sum(1, keepdims=True)
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(CLASSES)):
            for j in range(len(CLASSES)):
                ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", color="white" if cm[i, j] > 0.5 else "black", fontsize=8)
        ax.set_xticks(range(len(CLASSES)), CLASSES), ax.set_yticks(range(len(CLASSES)), CLASSES)
        ax.set_title(f"{key.replace('_', ' on ')}: F1 {result['dann'][key]['macro_f1']:.2f}", fontsize=9)
        ax.set_xlabel("predicted"), ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(out / "nebula_confusion.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    sn = sorted(result["snr"])
    for c in CLASSES:
        ax.plot(sn, [result["snr"][s]["sim2sky"]["recall"][c] for s in sn], "o-", label=f"recall {c}")
    ax.plot(sn, [result["snr"][s]["sim2sky"]["macro_f1"] for s in sn], "k-", lw=2, label="macro-F1")
    ax.plot(sn, [result["snr"][s]["cuts"]["macro_f1"] for s in sn], "k--", label="macro-F1, line-ratio cuts")
    ax.set_xscale("log"), ax.set_xlabel("S/N(Hα)"), ax.set_ylim(0, 1.02), ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "nebula_recall_vs_sn.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
