"""Understanding models and data, measured on real labelled catalogues and spectra (issue 14).

1. OGLE-III (399,679 real variable stars, labels never used to learn): an autoencoder of the
   catalogue features, HDBSCAN clusters (purity, completeness per class), anomaly ranking by
   the latent flow density vs an IsolationForest on the raw features (the peer, same run), and
   a supervised calibrated classifier with "unknown" as the reference.
2. MILES (656 real star spectra): latent space of the real spectra; mutual information (KSG,
   with error bars) of the latents with T_eff, log g, [Fe/H], vs PCA with the same number of
   components; the most anomalous stars.
3. Tension: an encoder trained on theory (ATLAS9-emulated stars; the nebula case's simulated
   line features) applied to theory and to the real data (MILES; the Abell 478 MUSE cube):
   C2ST and MMD between the latent sets, per T_eff range / predicted class.
4. Attributions of the shipped nebula classifier: top features per class by integrated
   gradients and by SHAP, and their agreement.

    python benchmarks/understand.py --out benchmarks/results_understand.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402,F401  (points the registry at the shared mirror)

from sim2sky.cases import nebulae, spectra  # noqa: E402
from sim2sky.core.data import dataset_file  # noqa: E402
from sim2sky.cases.spectra.evaluate import TEFF_RANGES, miles  # noqa: E402
from sim2sky.cases.variables import OGLE_CLASSES, RARE_CLASSES, ogle_features, read_ogle3  # noqa: E402
from sim2sky.learn import (CalibratedClassifier, ClassifierConfig, DensityScorer, LoopConfig, Representation,  # noqa: E402
                           RepresentationConfig, autoencoder_network, classifier_attributions, cluster,
                           cluster_report, expected_calibration_error, latent_tension, mlp_classifier, mutual_information,
                           shap_attributions, two_sample_test)


def ogle_section(args) -> dict:
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import f1_score, roc_auc_score

    t0 = time.perf_counter()
    cat = read_ogle3()
    x, cls = ogle_features(cat), cat["cls"]
    if args.quick:
        r = np.random.default_rng(0)
        keep = np.r_[r.choice(np.flatnonzero(~np.isin(cls, RARE_CLASSES)), 60000, replace=False),
                     np.flatnonzero(np.isin(cls, RARE_CLASSES))]
        x, cls = x[keep], cls[keep]
    res = {"n": len(x), "read_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    rep = Representation(autoencoder_network(x.shape[1], 6), RepresentationConfig(beta=0.05, epochs=15, batch_size=2048)).fit(x)
    z = rep.transform(x)
    res["vae_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = cluster_report(cluster(z, min_cluster_size=30, max_fit=30000), cls)
    res["cluster_s"] = time.perf_counter() - t0
    res["clusters"] = {k: report[k] for k in ("n_clusters", "noise_fraction", "purity", "v_measure", "adjusted_rand",
                                             "completeness")}
    t0 = time.perf_counter()
    score = DensityScorer().fit(z).score(z)
    res["flow_s"] = time.perf_counter() - t0
    iso = -IsolationForest(n_estimators=200, random_state=0).fit(x).score_samples(x)
    rare = np.isin(cls, RARE_CLASSES)
    res["anomaly_auc"] = {}
    for name, s in (("flow on latents", score), ("IsolationForest on features", iso)):
        order = np.argsort(-s)
        row = {"rare_all": roc_auc_score(rare, s)}
        row.update({c: roc_auc_score(cls == c, s) for c in RARE_CLASSES})
        row["rare_in_top_1000"] = int(rare[order[:1000]].sum())
        res["anomaly_auc"][name] = row
    order = np.argsort(-score)
    names, counts = np.unique(cls[order[:1000]], return_counts=True)
    res["top_1000_flow"] = {str(a): int(b) for a, b in sorted(zip(names, counts), key=lambda p: -p[1])}
    res["rare_base_count"] = int(rare.sum())
    # supervised reference: calibrated MLP with "unknown", split by star (random halves)
    r = np.random.default_rng(1)
    classes = [c for c in OGLE_CLASSES if (cls == c).sum() >= 10]
    sel = np.isin(cls, classes)
    idx = r.permutation(np.flatnonzero(sel))
    y = np.array([classes.index(c) for c in cls[idx]])
    n_tr, n_cal = int(0.5 * len(idx)), int(0.1 * len(idx))
    xs = x[idx]
    t0 = time.perf_counter()
    clf = CalibratedClassifier(mlp_classifier(x.shape[1], len(classes)), classes,
                               ClassifierConfig(epochs=10, batch_size=1024)).fit(
        xs[:n_tr], y[:n_tr], xs[n_tr:n_tr + n_cal], y[n_tr:n_tr + n_cal])
    p = clf.predict_all(xs[n_tr + n_cal:])
    yt = y[n_tr + n_cal:]
    pred = p["proba"].argmax(1)
    res["supervised"] = {"n_test": len(yt), "accuracy": float((pred == yt).mean()),
                         "macro_f1": float(f1_score(yt, pred, average="macro")),
                         "ece": expected_calibration_error(p["proba"], yt),
                         "unknown_rate": float((p["label"] == "unknown").mean()),
                         "recall": {c: float((pred[yt == k] == k).mean()) for k, c in enumerate(classes)},
                         "train_s": time.perf_counter() - t0}
    print(json.dumps(res, indent=1, default=float))
    return res


def _pca_latents(x, k):
    from sklearn.decomposition import PCA
    return PCA(k, random_state=0).fit_transform((x - x.mean(0)) / x.std(0).clip(1e-9))


def miles_section(args) -> dict:
    s = miles()
    pipe = spectra.SpectraPipeline()
    x = spectra.star_grid_inputs(s, pipe.star_normalise)[0][:, 0, :]
    theta = np.column_stack([np.log10(np.asarray(s.meta["TEFF"], float)), np.asarray(s.meta["LOGG"], float),
                             np.asarray(s.meta["FEH"], float)])
    ok = np.isfinite(theta).all(1)
    rep = Representation(autoencoder_network(x.shape[1], 6, hidden=(128, 64)),
                         RepresentationConfig(beta=0.05, epochs=300, batch_size=128)).fit(x)
    z = rep.transform(x)
    zp = _pca_latents(x, 6)
    res = {"n": len(x), "mi_nats": {}}
    for name, lat in (("VAE latents (6)", z), ("PCA (6)", zp)):
        res["mi_nats"][name] = {p: mutual_information(lat[ok], theta[ok, j], k=5, n_splits=4)
                                for j, p in enumerate(("log Teff", "log g", "[Fe/H]"))}
    score = DensityScorer(config=LoopConfig(epochs=200, batch_size=128)).fit(z).score(z)
    order = np.argsort(-score)[:10]
    res["top_anomalies"] = [{"name": str(s.meta["NAME"][i]), "spt": str(s.meta["SPT"][i]),
                             "teff": float(s.meta["TEFF"][i]), "logg": float(s.meta["LOGG"][i]),
                             "feh": float(s.meta["FEH"][i]), "score": float(score[i])} for i in order]
    print(json.dumps(res, indent=1, default=float))
    return res


def tension_section(args) -> dict:
    res = {}
    # stars: ATLAS9-emulated theory vs MILES
    obs = spectra.StarObservation(coverage_probability=0.0)
    sim = spectra.simulate_stars(20000 if not args.quick else 6000, seed=3, obs=obs)
    pipe = spectra.SpectraPipeline()
    xt = spectra.star_inputs(sim["flux"], sim["ivar"], pipe.star_normalise)[:, 0, :]
    s = miles()
    xd = spectra.star_grid_inputs(s, pipe.star_normalise)[0][:, 0, :]
    half = len(xt) // 2
    rep = Representation(autoencoder_network(xt.shape[1], 6, hidden=(128, 64)),
                         RepresentationConfig(beta=0.05, epochs=40, batch_size=256)).fit(xt[:half])
    zt, zd = rep.transform(xt[half:]), rep.transform(xd)
    dens = DensityScorer().fit(rep.transform(xt[:half]))
    tt, td = sim["theta"][half:, 0], np.asarray(s.meta["TEFF"], float)
    rows = latent_tension(zt, zd, dens.score(zt), dens.score(zd),
                          {name: ((tt >= lo) & (tt < hi), (td >= lo) & (td < hi)) for name, (lo, hi) in TEFF_RANGES.items()})
    # null: theory vs theory (same encoder), to show the statistic's floor
    rows["theory vs theory (null)"] = two_sample_test(zt[: len(zt) // 2], zt[len(zt) // 2:])
    res["stars_atlas9_vs_miles"] = rows
    # nebulae: simulated theory features vs the Abell 478 cube spaxels
    d = nebulae.simulate_set(nebulae.theory_domain(), 3000 if not args.quick else 1000, seed=5)
    xt = d["x"][d["valid"]]
    cube = dataset_file("muse", "muse/abell478_minicube.fits.gz")
    xd = nebulae.cube_features(cube, 0.086)
    rep = Representation(autoencoder_network(xt.shape[1], 6), RepresentationConfig(beta=0.05, epochs=40)).fit(xt)
    zt, zd = rep.transform(xt), rep.transform(xd)
    dens = DensityScorer().fit(zt)
    lab_t = np.asarray(nebulae.CLASSES)[d["y"][d["valid"]]]
    lab_d = nebulae.NebulaPipeline().classifier.predict_all(xd)["label"].astype(str)
    rows = latent_tension(zt, zd, dens.score(zt), dens.score(zd),
                          {f"{c} (data: predicted)": (lab_t == c, lab_d == c) for c in nebulae.CLASSES})
    res["nebulae_theory_vs_abell478"] = rows
    print(json.dumps(res, indent=1, default=float))
    return res


def explain_section(args) -> dict:
    from scipy.stats import spearmanr

    pipe = nebulae.NebulaPipeline()
    d = nebulae.simulate_set(nebulae.theory_domain(), 200, seed=21, augment=False, sn_halpha=50.0)
    x, y = d["x"][d["valid"]], d["y"][d["valid"]]
    net = pipe.classifier.network_
    t0 = time.perf_counter()
    ig, err = classifier_attributions(net, x, y, baseline=net.x_mean.numpy())
    t_ig = time.perf_counter() - t0
    t0 = time.perf_counter()
    sh = shap_attributions(net, x, y, x[np.random.default_rng(0).choice(len(x), 200, replace=False)])
    t_sh = time.perf_counter() - t0
    names = nebulae.FEATURE_NAMES
    res = {"n": len(x), "ig_s": t_ig, "shap_s": t_sh,
           "completeness_max_rel": float(np.abs(err).max() / np.abs(ig.sum(1)).mean()), "classes": {}}
    for k, c in enumerate(nebulae.CLASSES):
        mi, ms = np.abs(ig[y == k]).mean(0), np.abs(sh[y == k]).mean(0)
        res["classes"][c] = {"ig_top4": [names[j] for j in np.argsort(mi)[::-1][:4]],
                             "shap_top4": [names[j] for j in np.argsort(ms)[::-1][:4]],
                             "spearman_ig_shap": float(spearmanr(mi, ms)[0])}
    print(json.dumps(res, indent=1, default=float))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results_understand.json")
    ap.add_argument("--quick", action="store_true", help="60k OGLE stars, smaller theory sets")
    ap.add_argument("--only", default="ogle,miles,tension,explain")
    args = ap.parse_args()
    torch.set_num_threads(2)
    result = {}
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        result[name] = {"ogle": ogle_section, "miles": miles_section, "tension": tension_section,
                        "explain": explain_section}[name](args)
        result[name]["section_s"] = time.perf_counter() - t0
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
