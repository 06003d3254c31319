"""Time-domain case (issue 16): theory -> sky on real light curves, TCE vetting, supernova typing, speed.

1. ``lc``: the light-curve classifier trained on simulations only (shipped ``lc_eros1``), on
   held-out simulations and on the real EROS-1 test stars (729; never used for training or
   tuning). Adaptation with the *unlabelled* EROS-1 train stars: class priors re-estimated by EM
   (Saerens et al. 2002) and DANN. Peers in the same run: gradient-boosted trees on the same
   simulated features, and the supervised upper bound (trees trained on the labelled EROS-1
   train stars). Stripe 82 (shipped ``lc_s82``): share classified RR Lyrae, RRab/RRc accuracy,
   period recovery.
2. ``speed``: period search per light curve (ours: NUFFT generalised Lomb-Scargle) vs astropy
   ``LombScargle(method="fast")`` on the same grid; classification throughput from features.
3. ``vet``: Kepler DR24 TCEs, test stars of ``split_by_star(seed=0)``: the shipped calibrated MLP
   vetter vs gradient-boosted trees trained on the same stars: ROC AUC, average precision,
   recall at 99% and 90% precision, ECE.
5. ``encoder``: which sequence encoder: features -> MLP vs features + the raw folded curve ->
   1-D CNN, same simulations, on held-out simulations and the EROS-1 test stars.
6. ``transit``: the light-curve transit vetter (two-view CNN, trained on simulated Kepler
   quarters only) on held-out simulated TCEs vs boosted trees (scalar diagnostics; scalars +
   views) and an MLP on the same inputs; plus the full-search check on new quarters.
4. ``sn``: SNID/DASH templates, test supernovae of ``split_by_supernova(seed=0)``: the shipped CNN
   typer vs SNID-like template matching (best correlation with the training templates):
   subtype, broad-type and age-bin accuracy, ECE, time per spectrum.

    python benchmarks/timeseries.py --out benchmarks/results_timeseries.json [--sections lc speed vet sn encoder transit] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import _data  # noqa: F401  (data mirror)
from sim2sky.cases.supernovae import (AGE_LABELS, BROAD_TYPE, SN_SUBTYPES, age_bin, load_sn_typer, read_sn_templates,
                                      split_by_supernova, type_spectra)
from sim2sky.cases.variables import (LC_CLASSES, LightCurveTraining, features_table, group_proba, group_scores,
                                     labelled_tces, load_lightcurve_model, load_vetter, read_eros, read_s82, read_tces,
                                     recall_at_precision, simulate_features, simulate_lightcurves, split_by_star,
                                     train_lightcurve_classifier)
from sim2sky.learn import (CalibratedClassifier, ClassifierConfig, DANNConfig, expected_calibration_error, fit_dann,
                           mlp_classifier)


def em_priors(proba: np.ndarray, train_priors: np.ndarray, iters: int = 200) -> np.ndarray:
    """Class priors of an unlabelled set by EM on calibrated probabilities (Saerens et al. 2002)."""
    pri = train_priors.copy()
    for _ in range(iters):
        q = proba * pri / train_priors
        q /= q.sum(1, keepdims=True)
        pri = q.mean(0)
    return pri


def _row(name, scores):
    print(f"  {name:44s} acc {scores['accuracy']:.3f}  macro-F1 {scores['macro_f1']:.3f}  ECE {scores['ece']:.3f}")
    return {k: scores[k] for k in ("accuracy", "macro_f1", "ece", "confusion", "groups")}


def section_lc(quick: bool) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    res = {}
    n_per = 300 if quick else 2000
    t0 = time.time()
    sims = simulate_features("eros1", n_per * len(LC_CLASSES), seed=0, n_jobs=2)   # the shipped model's training set
    n_cal = int(len(sims["x"]) * LightCurveTraining().calibration_fraction)
    x_src, y_src = sims["x"][:-n_cal], sims["y"][:-n_cal]
    held = simulate_features("eros1", 300 * len(LC_CLASSES), seed=99, n_jobs=2)
    print(f"simulated features: {time.time() - t0:.0f} s")
    eros = {s: read_eros(s) for s in ("train", "test")}
    feats = {s: features_table(eros[s]["t"], eros[s]["mag"], eros[s]["err"], n_jobs=2)[0] for s in eros}
    test_g = eros["test"]["group"]
    clf = load_lightcurve_model("eros1")
    ph = clf.predict_proba(held["x"])
    res["sim_heldout"] = {"accuracy": float((ph.argmax(1) == held["y"]).mean()),
                          "ece": expected_calibration_error(ph, held["y"]),
                          "confusion": np.bincount(held["y"] * 7 + ph.argmax(1), minlength=49).reshape(7, 7).tolist()}
    print(f"held-out simulations (7 classes): acc {res['sim_heldout']['accuracy']:.3f} ECE {res['sim_heldout']['ece']:.3f}")
    sim_groups = np.array([{"RRab": "RRL", "RRc": "RRL"}.get(c, c) for c in np.asarray(LC_CLASSES)[held["y"]]])
    keep = np.isin(sim_groups, ["RRL", "Cep", "LPV", "EB"])
    res["sim_heldout_groups"] = _row("held-out simulations, 4 EROS groups",
                                     group_scores(*group_proba(ph[keep]), sim_groups[keep]))
    print("EROS-1 test stars (729 real light curves):")
    res["eros_theory"] = _row("theory only (shipped)", group_scores(*group_proba(clf.predict_proba(feats["test"])), test_g))
    pri = em_priors(clf.predict_proba(feats["train"]), np.asarray(clf.train_priors_))
    res["em_priors"] = dict(zip(LC_CLASSES, pri.round(3).tolist()))
    res["eros_em"] = _row("+ EM class priors (unlabelled EROS train)",
                          group_scores(*group_proba(clf.predict_proba(feats["test"], class_priors=pri)), test_g))
    for w in (0.3, 1.0):
        shipped = LightCurveTraining()          # the shipped model's network and epochs
        dann = CalibratedClassifier(mlp_classifier(x_src.shape[1], 7, hidden=shipped.hidden), LC_CLASSES,
                                    ClassifierConfig(epochs=shipped.epochs))
        dann = fit_dann(dann, x_src, y_src, feats["train"], sims["x"][-n_cal:], sims["y"][-n_cal:],
                        DANNConfig(epochs=shipped.epochs, domain_weight=w))
        res[f"eros_dann_{w}"] = _row(f"+ DANN (weight {w}, unlabelled EROS train)",
                                     group_scores(*group_proba(dann.predict_proba(feats["test"])), test_g))
    gbt = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(x_src, y_src)
    res["eros_gbt_theory"] = _row("peer: boosted trees on the same simulations",
                                  group_scores(*group_proba(gbt.predict_proba(feats["test"])), test_g))
    names = ("RRL", "Cep", "LPV", "EB")
    sup = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(
        feats["train"], np.array([names.index(g) for g in eros["train"]["group"]]))
    ps = np.column_stack([sup.predict_proba(feats["test"]), np.zeros(len(test_g))])
    res["eros_supervised"] = _row("upper bound: trees on labelled EROS train", group_scores(ps, (*names, "other"), test_g))

    FIG["eros"], FIG["eros_confusion"] = eros["test"], res["eros_theory"]["confusion"]
    s82 = read_s82()
    x82, p82, _ = features_table(s82["t"], s82["mag"], s82["err"], n_jobs=2)
    pr = load_lightcurve_model("s82").predict_proba(x82)
    lab = np.asarray(LC_CLASSES)[pr.argmax(1)]
    rrab = pr[:, 0] > pr[:, 1]
    res["s82"] = {"n": len(lab), "classified_rrl": float(np.isin(lab, ["RRab", "RRc"]).mean()),
                  "rrab_rrc_accuracy": float((rrab == (s82["type"] == "RRab")).mean()),
                  "rrc_recall": float((~rrab[s82["type"] == "RRc"]).mean()),
                  "period_within_1pct": float(np.mean(np.abs(p82 / s82["period"] - 1) < 0.01))}
    print(f"Stripe 82 RR Lyrae ({len(lab)}): classified RRL {res['s82']['classified_rrl']:.3f}, RRab/RRc accuracy "
          f"{res['s82']['rrab_rrc_accuracy']:.3f} (RRc recall {res['s82']['rrc_recall']:.3f}), period within 1% "
          f"{res['s82']['period_within_1pct']:.3f}")
    return res


def section_speed(quick: bool) -> dict:
    from astropy.timeseries import LombScargle

    from sim2sky.cases.variables.lcfeatures import best_period

    sims = simulate_lightcurves(40 if quick else 200, "eros1", seed=7)
    t0 = time.perf_counter()
    for t, m, e in zip(sims["t"], sims["mag"], sims["err"]):
        best_period(t, m, e)
    ours = (time.perf_counter() - t0) / len(sims["t"])
    t0 = time.perf_counter()
    for t, m, e in zip(sims["t"], sims["mag"], sims["err"]):
        baseline = t[-1] - t[0]
        df = 1 / (5 * baseline)
        LombScargle(t, m, e).power(df * np.arange(1, int(20 / df) + 1), method="fast", assume_regular_frequency=True)
    peer = (time.perf_counter() - t0) / len(sims["t"])
    t0 = time.perf_counter()
    x, _, _ = features_table(sims["t"] * 5, sims["mag"] * 5, sims["err"] * 5, n_jobs=2)   # list x 5: 1,000 curves
    feat_rate = len(x) / (time.perf_counter() - t0)
    big = np.repeat(x, max(1, 100000 // len(x)), axis=0)
    clf = load_lightcurve_model("eros1")
    t0 = time.perf_counter()
    clf.predict_all(big)
    cls_rate = len(big) / (time.perf_counter() - t0)
    print(f"period search (EROS-1 cadence, 90,000 frequencies): ours {ours * 1e3:.1f} ms, astropy fast "
          f"{peer * 1e3:.1f} ms per curve ({peer / ours:.1f}x)")
    print(f"end to end on 2 cores: {feat_rate:.0f} light curves/s (features); classification from features "
          f"{cls_rate:,.0f} /s")
    return {"period_ms_ours": ours * 1e3, "period_ms_astropy_fast": peer * 1e3, "speedup": peer / ours,
            "lightcurves_per_s_end_to_end_2_cores": feat_rate, "classified_per_s_from_features": cls_rate}


def section_vet(quick: bool) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score

    x, y, kepid = labelled_tces(read_tces())
    train, cal, test = split_by_star(kepid, seed=0)
    out = {"n_test": int(test.sum()), "planet_fraction": float(y[test].mean())}
    t0 = time.time()
    gbt = HistGradientBoostingClassifier(max_iter=500, learning_rate=0.05, random_state=0).fit(x[train | cal], y[train | cal])
    t_gbt = time.time() - t0
    for name, p in (("mlp (shipped)", load_vetter().predict_proba(x[test])[:, 1]), ("gbt", gbt.predict_proba(x[test])[:, 1])):
        yt = y[test]
        out[name] = {"roc_auc": roc_auc_score(yt, p), "average_precision": average_precision_score(yt, p),
                     "recall_at_99_precision": recall_at_precision(p, yt, 0.99),
                     "recall_at_90_precision": recall_at_precision(p, yt, 0.90),
                     "ece": expected_calibration_error(np.column_stack([1 - p, p]), yt)}
        r = out[name]
        print(f"  {name:14s} AUC {r['roc_auc']:.4f}  AP {r['average_precision']:.4f}  R@99%P "
              f"{r['recall_at_99_precision']:.3f}  R@90%P {r['recall_at_90_precision']:.3f}  ECE {r['ece']:.4f}")
    out["gbt_train_s"] = t_gbt
    return out


def section_sn(quick: bool) -> dict:
    d = read_sn_templates()
    train, cal, test = split_by_supernova(d["sn"], seed=0)
    truth = d["subtype"][test]
    broad_truth = np.array([BROAD_TYPE[s] for s in truth])
    age_truth = np.asarray(AGE_LABELS)[age_bin(d["age"][test])]
    t0 = time.perf_counter()
    r = type_spectra(d["flux"][test], load_sn_typer())
    t_cnn = (time.perf_counter() - t0) / test.sum()
    yi = np.array([SN_SUBTYPES.index(s) for s in truth])
    out = {"n_test_spectra": int(test.sum()), "n_test_sne": int(len(set(d["sn"][test]))),
           "cnn": {"subtype_accuracy": float(np.mean(np.asarray(SN_SUBTYPES)[r["subtype_proba"].argmax(1)] == truth)),
                   "subtype_accuracy_unknown_as_wrong": float(np.mean(r["subtype"] == truth)),
                   "broad_accuracy": float(np.mean(r["broad_type"] == broad_truth)),
                   "age_bin_accuracy": float(np.mean(r["age_bin"] == age_truth)),
                   "subtype_ece": expected_calibration_error(r["subtype_proba"], yi),
                   "unknown_fraction": float(np.mean(r["subtype"] == "unknown")), "ms_per_spectrum": t_cnn * 1e3}}
    ref = d["flux"][train | cal]
    t0 = time.perf_counter()
    corr = d["flux"][test] @ ref.T / np.maximum(np.count_nonzero(ref, 1)[None], 1)
    best = corr.argmax(1)
    t_snid = (time.perf_counter() - t0) / test.sum()
    sub = d["subtype"][train | cal][best]
    age = np.asarray(AGE_LABELS)[age_bin(d["age"][train | cal][best])]
    out["template_match"] = {"subtype_accuracy": float(np.mean(sub == truth)),
                             "broad_accuracy": float(np.mean(np.array([BROAD_TYPE[s] for s in sub]) == broad_truth)),
                             "age_bin_accuracy": float(np.mean(age == age_truth)), "ms_per_spectrum": t_snid * 1e3}
    for k, v in out.items():
        if isinstance(v, dict):
            print(f"  {k:15s} subtype {v['subtype_accuracy']:.3f}  broad {v['broad_accuracy']:.3f}  age bin "
                  f"{v['age_bin_accuracy']:.3f}  {v['ms_per_spectrum']:.2f} ms/spectrum"
                  + (f"  subtype ECE {v['subtype_ece']:.3f}  unknown {v['unknown_fraction']:.3f}" if "subtype_ece" in v
                     else ""))
    return out


def section_encoder(quick: bool) -> dict:
    """Which encoder reads light curves best: features -> MLP vs features + folded curve -> 1-D CNN."""
    from sim2sky.cases.variables.lcfeatures import FOLDED_BINS

    n_per = 300 if quick else 2000
    t0 = time.time()
    sims = simulate_features("eros1", n_per * len(LC_CLASSES), seed=0, n_jobs=2, folded_bins=FOLDED_BINS)
    held = simulate_features("eros1", 300 * len(LC_CLASSES), seed=99, n_jobs=2, folded_bins=FOLDED_BINS)
    eros = read_eros("test")
    x_eros, _, _ = features_table(eros["t"], eros["mag"], eros["err"], n_jobs=2, folded_bins=FOLDED_BINS)
    out = {"simulation_s": time.time() - t0}
    sim_groups = np.array([{"RRab": "RRL", "RRc": "RRL"}.get(c, c) for c in np.asarray(LC_CLASSES)[held["y"]]])
    keep = np.isin(sim_groups, ["RRL", "Cep", "LPV", "EB"])
    for encoder in ("mlp", "cnn"):
        t0 = time.time()
        clf = train_lightcurve_classifier(LightCurveTraining(n_per_class=n_per, encoder=encoder), training_set=sims)
        t_train = time.time() - t0
        n = len(clf.feature_names)
        ph = clf.predict_proba(held["x"][:, :n])
        t0 = time.perf_counter()
        pe = clf.predict_proba(x_eros[:, :n])
        rate = len(pe) / (time.perf_counter() - t0)
        out[encoder] = {"train_s": t_train, "sim_accuracy_7": float((ph.argmax(1) == held["y"]).mean()),
                        "sim_ece_7": expected_calibration_error(ph, held["y"]),
                        "sim_groups": group_scores(*group_proba(ph[keep]), sim_groups[keep]),
                        "eros": group_scores(*group_proba(pe), eros["group"]), "classified_per_s": rate}
        r = out[encoder]
        print(f"  {encoder}: sims 7-class acc {r['sim_accuracy_7']:.3f} ECE {r['sim_ece_7']:.3f} | sims 4 groups acc "
              f"{r['sim_groups']['accuracy']:.3f} | EROS-1 test acc {r['eros']['accuracy']:.3f} macro-F1 "
              f"{r['eros']['macro_f1']:.3f} ECE {r['eros']['ece']:.3f} | train {t_train:.0f} s")
    return out


def section_transit(quick: bool) -> dict:
    """The light-curve vetter on held-out simulated Kepler quarters vs boosted trees and an MLP."""
    import os

    from sklearn.ensemble import HistGradientBoostingClassifier

    from sim2sky.cases.transits import (SCALAR_NAMES, SCENARIOS, load_transit_vetter, search_tce, simulate_scenario,
                                        simulate_tce_set, tce_inputs, tce_label, tce_views,
                                        vetting_scores)

    cache = Path(os.environ.get("SIM2SKY_CACHE", "/tmp/sim2sky_cache")) / "tce_train_seed0.npz"
    t0 = time.time()
    if cache.exists() and not quick:
        with np.load(cache) as z:
            train = {k: z[k] for k in z.files}
    else:
        train = simulate_tce_set(400 if quick else 4000, seed=0, n_jobs=2)
    test_cache = cache.with_name("tce_test_seed1.npz")
    if test_cache.exists() and not quick:
        with np.load(test_cache) as z:
            test = {k: z[k] for k in z.files}
    else:
        test = simulate_tce_set(200 if quick else 1200, seed=1, n_jobs=2)
        if not quick:
            np.savez(test_cache, **{k: v for k, v in test.items() if k != "n_simulated"})
    out = {"n_train_tces": len(train["x"]), "n_test_tces": len(test["x"]), "simulation_s": time.time() - t0,
           "test_tces_by_scenario": np.bincount(test["y"], minlength=4).tolist()}
    print(f"simulated TCEs: {len(train['x'])} train, {len(test['x'])} test ({time.time() - t0:.0f} s)")
    n_cal = int(len(train["x"]) * 0.2)
    xs, ys = train["x"][:-n_cal], train["y"][:-n_cal]
    ns = len(SCALAR_NAMES)
    vetter = load_transit_vetter()
    t0 = time.perf_counter()
    proba = vetter.predict_proba(test["x"])
    rate = len(proba) / (time.perf_counter() - t0)
    models = {"two-view CNN (shipped)": proba}
    gbt = HistGradientBoostingClassifier(max_iter=300, random_state=0)
    models["peer: trees on scalar diagnostics"] = gbt.fit(xs[:, :ns], ys).predict_proba(test["x"][:, :ns])
    models["peer: trees on scalars + views"] = gbt.fit(xs, ys).predict_proba(test["x"])
    mlp = CalibratedClassifier(mlp_classifier(xs.shape[1], 4, hidden=(256, 128, 64)), SCENARIOS,
                               ClassifierConfig(epochs=40, batch_size=128))
    models["MLP on scalars + views"] = mlp.fit(xs, ys, train["x"][-n_cal:], train["y"][-n_cal:]).predict_proba(test["x"])
    for name, p in models.items():
        r = out[name] = vetting_scores(p, test["y"])
        print(f"  {name:36s} AUC {r['auc']:.4f}  AP {r['average_precision']:.4f}  R@99%P {r['recall_at_99_precision']:.3f}"
              f"  R@90%P {r['recall_at_90_precision']:.3f}  scenario acc {r['scenario_accuracy']:.3f}  ECE {r['ece']:.3f}")
    # the training sets search injected signals near their true period; users' curves get the full search
    n_full = 40 if quick else 200
    t0 = time.perf_counter()
    xs_full, ys_full, n_tce = [], [], 0
    for k in range(n_full):
        scen = SCENARIOS[k % 4]
        sim = simulate_scenario(scen, np.random.default_rng([2, k]))
        tce = search_tce(sim["t"], sim["flux"], sim["err"])
        if tce is None:
            continue
        label = tce_label(scen, sim["truth"], tce)
        n_tce += 1
        if label is not None:
            xs_full.append(tce_inputs(tce_views(sim["t"], sim["flux"], sim["err"], tce)))
            ys_full.append(SCENARIOS.index(label))
    t_full = (time.perf_counter() - t0) / n_full
    r = out["full_search"] = vetting_scores(vetter.predict_proba(np.stack(xs_full)), np.array(ys_full))
    r.update(n_light_curves=n_full, n_tces=n_tce, seconds_per_quarter_1_core=t_full)
    print(f"  full 0.5-30 d search on {n_full} new quarters ({t_full:.2f} s each, 1 core): {len(ys_full)} TCEs, AUC "
          f"{r['auc']:.4f}, R@99%P {r['recall_at_99_precision']:.3f}, scenario acc {r['scenario_accuracy']:.3f}")
    out["vetted_per_s_from_views"] = rate
    FIG["transit"] = {"x": test["x"], "y": test["y"], "proba": models}
    return out


FIG: dict = {}


def transit_figure(folder: Path) -> None:
    """docs/transits.png: median local views of the test TCEs by scenario, and precision-recall curves."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    from sim2sky.cases.transits import SCALAR_NAMES, SCENARIOS
    from sim2sky.cases.transits.schema import GLOBAL_BINS, LOCAL_BINS, LOCAL_DURATIONS

    d = FIG["transit"]
    start = len(SCALAR_NAMES) + GLOBAL_BINS
    local = d["x"][:, start:].reshape(len(d["x"]), 4, LOCAL_BINS)
    phase = np.linspace(-LOCAL_DURATIONS, LOCAL_DURATIONS, LOCAL_BINS)
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for j, (channel, title) in enumerate(((0, "primary"), (3, "phase 0.5 (secondary)"), (1, "odd minus even"))):
        for k, name in enumerate(SCENARIOS):
            view = local[d["y"] == k]
            curve = view[:, 1] - view[:, 2] if channel == 1 else view[:, channel]
            axes[j].plot(phase, np.median(curve, 0), label=name)
        axes[j].set(title=f"median local view: {title}", xlabel="time from transit [durations]",
                    ylabel="flux / transit depth")
    axes[0].legend()
    planet = d["y"] == SCENARIOS.index("planet")
    for name, p in d["proba"].items():
        prec, rec, _ = precision_recall_curve(planet, p[:, SCENARIOS.index("planet")])
        axes[3].plot(rec, prec, label=name)
    axes[3].set(title="held-out simulated TCEs", xlabel="recall (planets)", ylabel="precision", ylim=(0.5, 1.01))
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "transits.png", dpi=90)
    print(f"wrote {folder / 'transits.png'}")


def figures(folder: Path) -> None:
    """docs/timeseries.png: simulated vs real EROS-1 light curves folded at their periodogram period,
    and the confusion matrix of the theory-only model on the real test stars."""
    import matplotlib.pyplot as plt

    from sim2sky.cases.variables import best_period

    eros = FIG["eros"]
    sims = simulate_lightcurves(7 * 6, "eros1", seed=3)
    sim_cls = np.asarray(sims["classes"])[sims["label"]]
    fig, axes = plt.subplots(2, 5, figsize=(17, 6.4))
    for j, (group, sim_name) in enumerate((("RRL", "RRab"), ("Cep", "Cep"), ("EB", "EB"), ("LPV", "LPV"))):
        k_sim = int(np.flatnonzero(sim_cls == sim_name)[1])
        k_real = int(np.flatnonzero(eros["group"] == group)[3])
        for row, (t, m, e, title) in enumerate(((sims["t"][k_sim], sims["mag"][k_sim], sims["err"][k_sim],
                                                 f"simulated {sim_name}"),
                                                (eros["t"][k_real], eros["mag"][k_real], eros["err"][k_real],
                                                 f"EROS-1 {group} (real)"))):
            p, _ = best_period(np.asarray(t, float), np.asarray(m, float), np.asarray(e, float))
            ph = (np.asarray(t) / p) % 1
            ax = axes[row, j]
            ax.errorbar(np.concatenate([ph, ph + 1]), np.tile(m, 2), np.tile(e, 2), fmt=".", ms=3, alpha=0.6)
            ax.invert_yaxis()
            ax.set_title(f"{title}, P = {p:.3g} d", fontsize=10)
            ax.set_xlabel("phase")
    cm = np.asarray(FIG["eros_confusion"], float)[:4]
    ax = axes[0, 4]
    gs = ("RRL", "Cep", "LPV", "EB", "other")
    ax.imshow(cm / cm.sum(1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for k in range(cm.shape[1]):
            ax.text(k, i, int(cm[i, k]), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(5), gs)
    ax.set_yticks(range(4), gs[:4])
    ax.set_xlabel("predicted (trained on simulations only)")
    ax.set_ylabel("EROS-1 label")
    ax.set_title("EROS-1 test stars (729)", fontsize=10)
    axes[1, 4].axis("off")
    fig.tight_layout()
    fig.savefig(folder / "timeseries.png", dpi=90)
    print(f"wrote {folder / 'timeseries.png'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_timeseries.json"))
    ap.add_argument("--sections", nargs="+", default=["lc", "speed", "vet", "sn"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--merge", action="store_true", help="update the sections in an existing --out")
    ap.add_argument("--figures", type=Path, default=None, help="folder for timeseries.png (needs the lc section)")
    args = ap.parse_args()
    results = json.loads(args.out.read_text()) if args.merge and args.out.exists() else {}
    for name in args.sections:
        print(f"== {name} ==")
        t0 = time.time()
        results[name] = globals()[f"section_{name}"](args.quick)
        results[name]["section_seconds"] = time.time() - t0
    args.out.write_text(json.dumps(results, indent=1, default=float))
    if args.figures is not None and "eros" in FIG:
        figures(args.figures)
    if args.figures is not None and "transit" in FIG:
        transit_figure(args.figures)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
