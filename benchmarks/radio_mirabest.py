"""Radio-galaxy morphology, theory -> sky (issue 33): the field's table on the real MiraBest test split.

The MiraBest split is fixed (``sim2sky.cases.radio.split_indices``, seed 33, stratified by code):
train 60% (labels for the few-label and supervised rows; images only, unlabelled, for DANN and
self-supervision), calibration 15% (temperatures and "unknown" thresholds of every "calibrated"
row), test 25% (only scored). Rows, all with the same small CNN (13k weights) unless named:

* theory only: simulations only, temperature on simulations;
* theory + calibrated: the same network, temperature and "unknown" statistics refitted on the
  real calibration split;
* theory + DANN (unlabelled real training images as the target), with and without calibration;
* theory + self-supervised: SimCLR on the unlabelled real images plus simulations, then the
  theory labels, then calibration;
* few labels (5%, 10%, 25% of the real training split), from scratch and from the theory network;
* fully supervised on the real training split (the data-driven reference), plain and D4-invariant;
* shipped: ``sim2sky radio train`` (theory, then the real training split beside simulations).

Also: the shipped model on the test images degraded to a 45" beam (NVSS-like), the latent-space
distance of real and simulated images, and the figures of docs/radio.md.

    SIM2SKY_DATA=../shared/data python benchmarks/radio_mirabest.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (data mirror)
from sim2sky.cases.radio import (CLASSES, labelled_grid, load, mirabest_splits, radio_classifier, radio_network, real_scores,
                                 strong_augment, to_grid, train, training_set)
from sim2sky.learn import DANNConfig, classifier_attributions, fit_dann, pretrain_contrastive, two_sample_test
from sim2sky.learn.contrastive import ContrastiveConfig

HERE = Path(__file__).parent
RESULTS = HERE / "results_radio.json"
DOCS = HERE.parent / "docs"


def _idx(labels):
    return np.array([CLASSES.index(c) for c in labels])


def _subset(labels, frac, seed):
    """A stratified ``frac`` of the rows (at least 2 per class)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        keep += list(rows[:max(2, int(round(frac * len(rows))))])
    return np.sort(np.asarray(keep))


def _repeat(x, y, n, seed):
    """Rows drawn (cycled, shuffled) to ``n`` per epoch, so every small set gets the same steps."""
    rows = np.random.default_rng(seed).permutation(np.resize(np.arange(len(x)), max(n, len(x))))
    return x[rows], y[rows]


def main(quick: bool = False):
    torch.set_num_threads(2)
    t_all = time.perf_counter()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() and not quick else {}
    results.setdefault("rows", {})
    rows = results["rows"]
    n_sims, epochs = (3000, 2) if quick else (16000, 20)
    splits = mirabest_splits()
    tr, cal, te = splits["train"], splits["calibration"], splits["test"]
    grid = lambda d: to_grid(d["images"], 1.8, 5.4)[0]      # noqa: E731
    xtr, xcal, xte = grid(tr), grid(cal), grid(te)
    ktr, kcal = tr["label"] != "Hybrid", cal["label"] != "Hybrid"
    xtr_l, ytr = xtr[ktr], _idx(tr["label"][ktr])
    xcal_l, ycal = xcal[kcal], _idx(cal["label"][kcal])
    results["split"] = {"train": int(len(xtr)), "calibration": int(len(xcal)), "test": int(len(xte)),
                        "test_counts": {c: int((te["label"] == c).sum()) for c in np.unique(te["label"])}}
    x, y, _ = training_set(n_sims, seed=1)
    xc, yc, _ = training_set(3000, seed=1001)
    yi, yci = _idx(y), _idx(yc)

    def score(name, clf, seconds, note=""):
        pred = clf.predict_all(xte)
        rows[name] = {**real_scores(te["label"], pred["label"], pred["proba"], te["confident"]),
                      "seconds": round(seconds, 1), "note": note}
        print(f"{name:48s} acc {rows[name]['accuracy_argmax']:.3f} F1 {rows[name]['macro_f1']:.3f} "
              f"ECE {rows[name]['ece']:.3f} FR {rows[name]['fr_accuracy']:.3f} bent {rows[name]['bent_recall']:.2f}",
              flush=True)
        if not quick:
            RESULTS.write_text(json.dumps(results, indent=1))
        return pred

    def calibrated(clf):
        c = copy.deepcopy(clf)
        return c.calibrate(xcal_l, ycal, np.concatenate([xcal_l, xc]), np.concatenate([ycal, yci]))

    # theory only, and calibrated on the real calibration split
    t0 = time.perf_counter()
    theory = radio_classifier(radio_network(seed=1), epochs=epochs, seed=1).fit(x, yi, xc, yci)
    t_theory = time.perf_counter() - t0
    score("theory only", theory, t_theory, "simulations only; temperature on simulations")
    score("theory + calibrated", calibrated(theory), t_theory, "temperature and unknown statistics on real calibration")

    # DANN towards the unlabelled real training images; the domain weight is chosen on the real
    # calibration split (development labels), never on the test split
    t0 = time.perf_counter()
    best = None
    for weight in (0.3, 1.0):
        d = fit_dann(radio_classifier(radio_network(seed=1), epochs=epochs, seed=1), x, yi, xtr, xc, yci,
                     DANNConfig(epochs=epochs, batch_size=128, learning_rate=3e-3, domain_weight=weight, seed=1))
        dev = float((d.predict_all(xcal_l)["proba"].argmax(1) == ycal).mean())
        results.setdefault("dann_weight_dev_accuracy", {})[str(weight)] = dev
        if best is None or dev > best[0]:
            best = (dev, weight, d)
    dann = best[2]
    t_dann = (time.perf_counter() - t0) / 2
    score("theory + DANN", dann, t_dann, f"target: the real training images, unlabelled; domain weight {best[1]} "
          "(of 0.3, 1.0, by real calibration-split accuracy)")
    score("theory + DANN + calibrated", calibrated(dann), t_dann)

    # SimCLR on unlabelled real (train + calibration images) + simulations, then theory labels
    t0 = time.perf_counter()
    unlabelled = np.concatenate([xtr, xcal, x[:4000]])
    net = pretrain_contrastive(radio_network(seed=1), unlabelled, strong_augment,
                               ContrastiveConfig(epochs=4 if quick else 25, batch_size=256, seed=1))
    t_ssl = time.perf_counter() - t0
    ssl_theory = radio_classifier(net, epochs=max(1, epochs // 2), learning_rate=1e-3, seed=1).fit(x, yi, xc, yci)
    score("theory + self-supervised (SimCLR)", ssl_theory, time.perf_counter() - t0,
          "SimCLR on unlabelled real + simulated images, then theory labels")
    score("theory + self-supervised + calibrated", calibrated(ssl_theory), time.perf_counter() - t0)

    # few labels, with and without theory pretraining (and from the SimCLR backbone at 10%)
    per_epoch, real_epochs = 3000, (2 if quick else 60)
    for frac in (0.05, 0.10, 0.25):
        sub = _subset(ytr, frac, seed=7)
        xs, ys = _repeat(xtr_l[sub], ytr[sub], per_epoch, seed=7)
        for start, name in ((None, "scratch"), (theory.network_, "theory-pretrained"),
                            *(((net, "SimCLR-pretrained"),) if frac == 0.10 else ())):
            t0 = time.perf_counter()
            clf = radio_classifier(start if start is not None else radio_network(seed=1), epochs=real_epochs,
                                   learning_rate=1e-3 if start is not None else 3e-3, seed=1)
            clf.fit(xs, ys, xcal_l, ycal)
            score(f"{int(frac * 100)}% labels ({len(sub)}), {name}", clf, time.perf_counter() - t0,
                  "temperature on real calibration")

    # fully supervised on the real training split (the reference, 150 epochs); and plain against
    # D4-invariant on the same budget of steps (25 epochs: the invariant network costs 8x per step)
    xs, ys = _repeat(xtr_l, ytr, per_epoch, seed=7)
    for invariant, n_epochs in ((False, 4 if quick else 150), (False, 2 if quick else 25), (True, 2 if quick else 25)):
        t0 = time.perf_counter()
        clf = radio_classifier(radio_network(invariant, seed=1), epochs=n_epochs, seed=1, augmented=not invariant)
        clf.fit(xs, ys, xcal_l, ycal)
        score(f"supervised on real train ({len(xtr_l)}), {'D4-invariant' if invariant else 'plain'} CNN, "
              f"{n_epochs} epochs", clf, time.perf_counter() - t0,
              "no augmentation (invariant by construction)" if invariant else "random 90-degree rotations, flips, shifts")

    # the shipped recipe
    t0 = time.perf_counter()
    folder = HERE / "out" / "radio_model"
    train({"n_sims": n_sims, "epochs": epochs, "finetune_epochs": 2 if quick else 40}, folder, overwrite=True)
    pipe = load(folder)
    shipped_rows(results, pipe, te, xte, (xcal_l, ycal, xc, yci), time.perf_counter() - t0)
    if not quick:
        RESULTS.write_text(json.dumps(results, indent=1))
    coarse = beam45(results, pipe, te)
    probs = theory.predict_all(to_grid(coarse, 14.4, 45.0)[0])
    results["beam45"]["theory only"] = real_scores(te["label"], probs["label"], np.nan_to_num(probs["proba"], nan=0.25))

    # theory vs sky in the theory network's latent space
    emb_sim = theory.embed(xc[:1500])
    emb_real = theory.embed(xte)
    results["latent"] = {k: v for k, v in two_sample_test(emb_sim, emb_real, seed=0).items()
                         if isinstance(v, (int, float))}
    results["total_seconds"] = round(time.perf_counter() - t_all, 1)
    if not quick:
        RESULTS.write_text(json.dumps(results, indent=1))
        shutil.copytree(folder, HERE / "out" / "radio_model_shipped", dirs_exist_ok=True)
        figures(theory, pipe, te, xte, x, y, emb_sim, emb_real, results)
    print(json.dumps({k: results[k] for k in ("latent", "beam45", "total_seconds")}, indent=1))


SHIPPED = "shipped: theory + real train + calibrated"


def shipped_rows(results, pipe, te, xte, cal_sets, seconds: float = 0.0) -> None:
    """The shipped model on the test split (its network averages over the views it records,
    ``provenance.views``), the same trained network with one view (its backbone alone,
    recalibrated on the same sets), the class-priors row and the confusion matrix."""
    xcal_l, ycal, xc, yci = cal_sets
    clf = pipe.classifier_
    views = clf.provenance_.get("views", "none")
    one = clf
    if views != "none":
        one = copy.deepcopy(clf)
        one.network_.backbone = one.network_.backbone.inner
        one.calibrate(xcal_l, ycal, np.concatenate([xcal_l, xc]), np.concatenate([ycal, yci]))
    for name, model, note in ((SHIPPED, clf, f"sim2sky radio train defaults (views={views}: the trained network "
                                              "averaged over the rotations of each image, recalibrated)"),
                              ("shipped network, one view", one, "the shipped network without the rotation "
                               "averaging, recalibrated on the same sets")):
        if name != SHIPPED and views == "none":
            continue
        pred = model.predict_all(xte)
        results["rows"][name] = {**real_scores(te["label"], pred["label"], pred["proba"], te["confident"]),
                                 "seconds": round(seconds, 1), "note": note}
        r = results["rows"][name]
        print(f"{name:48s} acc {r['accuracy_argmax']:.3f} F1 {r['macro_f1']:.3f} ECE {r['ece']:.3f} "
              f"FR {r['fr_accuracy']:.3f} bent {r['bent_recall']:.2f}", flush=True)
        if model is clf:
            truth, labels = te["label"], list(CLASSES) + ["unknown"]
            results["shipped_confusion"] = {"rows": ["FRI", "FRII", "Bent", "Hybrid"], "columns": labels,
                                            "counts": [[int(((truth == r) & (pred["label"] == c)).sum()) for c in labels]
                                                       for r in ("FRI", "FRII", "Bent", "Hybrid")]}
    priors_row(results, pipe, te)


def beam45(results, pipe, te) -> np.ndarray:
    """The shipped model on the test images at a 45" beam on 14.4" pixels (NVSS-like), through
    predict; returns those images."""
    from scipy.ndimage import gaussian_filter

    sig = np.sqrt(45.0 ** 2 - 5.4 ** 2) / 2.3548 / 1.8
    coarse = np.stack([gaussian_filter(im, sig) for im in te["images"]])[:, 4::8, 4::8]   # 14.4" pixels
    t = pipe.predict(coarse, pixel_scale=14.4, beam=45.0)
    lab, proba = np.asarray(t["class"]), np.column_stack([t[f"p_{c}"].value for c in CLASSES])
    results.setdefault("beam45", {})["shipped"] = real_scores(te["label"], lab, np.nan_to_num(proba, nan=0.25))
    return coarse


def priors_row(results, pipe, te):
    """The shipped model told the sample's class mix (``--class-priors mirabest``: the fractions of
    the training split, MIRABEST_PRIORS), scored on the test split."""
    t = pipe.predict(te["images"], pixel_scale=1.8, beam=5.4, class_priors="mirabest")
    proba = np.column_stack([t[f"p_{c}"].value for c in CLASSES])
    name = "shipped + MiraBest class priors (training-split fractions)"
    results["rows"][name] = {**real_scores(te["label"], np.asarray(t["class"]), np.nan_to_num(proba, nan=0.25),
                                           te["confident"]),
                             "seconds": 0.0, "note": "--class-priors mirabest: FRI 0.433, FRII 0.515, Bent 0.052, "
                                                     "Compact 0 (the 732 training images); no refitting"}
    row = results["rows"][name]
    print(f"{name:48s} acc {row['accuracy_argmax']:.3f} F1 {row['macro_f1']:.3f} ECE {row['ece']:.3f} "
          f"FR {row['fr_accuracy']:.3f} bent {row['bent_recall']:.2f}", flush=True)


def shipped_figures(pipe, te, xte, results) -> None:
    """docs/radio_confusion.png and docs/radio_attributions.png of the shipped model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # confusion matrix of the shipped model
    conf = results["shipped_confusion"]
    counts = np.asarray(conf["counts"])
    fig, a = plt.subplots(figsize=(5.2, 3.4))
    a.imshow(counts / np.maximum(counts.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            a.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8)
    a.set_xticks(range(len(conf["columns"])), conf["columns"], fontsize=8)
    a.set_yticks(range(len(conf["rows"])), [f"true {r}" for r in conf["rows"]], fontsize=8)
    a.set_title("Shipped model, MiraBest test split", fontsize=9)
    fig.tight_layout()
    fig.savefig(DOCS / "radio_confusion.png", dpi=110)
    plt.close(fig)
    # integrated-gradient maps of the shipped model, two real images per class
    net = pipe.classifier_.network_
    fig, ax = plt.subplots(3, 4, figsize=(8, 6))
    for r, c in enumerate(("FRI", "FRII", "Bent")):
        rows = np.flatnonzero(te["label"] == c)[:2]
        target = np.full(len(rows), CLASSES.index(c))
        attr, _ = classifier_attributions(net, xte[rows], target, steps=32)
        for k, i in enumerate(rows):
            ax[r, 2 * k].imshow(xte[i] ** 0.5, origin="lower", cmap="gray")
            lim = np.abs(attr[k]).max()
            ax[r, 2 * k + 1].imshow(xte[i] ** 0.5, origin="lower", cmap="gray")
            ax[r, 2 * k + 1].imshow(attr[k], origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.7)
            ax[r, 2 * k].set_title(f"MiraBest {c}", fontsize=8)
            ax[r, 2 * k + 1].set_title(f"attribution to {c}", fontsize=8)
    for a in ax.flat:
        a.axis("off")
    fig.tight_layout()
    fig.savefig(DOCS / "radio_attributions.png", dpi=90)
    plt.close(fig)


def figures(theory, pipe, te, xte, x, y, emb_sim, emb_real, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    # real and simulated cutouts side by side
    fig, ax = plt.subplots(4, 8, figsize=(12, 6.4))
    for r, c in enumerate(CLASSES):
        sims = np.flatnonzero(y == c)[:4]
        reals = rng.choice(np.flatnonzero(te["label"] == c), min(4, (te["label"] == c).sum()), replace=False) \
            if (te["label"] == c).any() else []
        for k in range(4):
            for a, img, title in ((ax[r, k], x[sims[k]], f"simulated {c}"),
                                  (ax[r, 4 + k], xte[reals[k]] if k < len(reals) else None, f"MiraBest {c}")):
                a.axis("off")
                if img is not None:
                    a.imshow(img ** 0.5, origin="lower", cmap="inferno")
                    a.set_title(title, fontsize=7)
    fig.suptitle("Simulated (left) and real FIRST (right) cutouts, 64 x 1.8\"; MiraBest has no compact sources",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(DOCS / "radio_examples.png", dpi=90)
    plt.close(fig)
    shipped_figures(pipe, te, xte, results)
    # latent space: simulations vs real, first two principal components of the theory network
    from sklearn.decomposition import PCA

    pca = PCA(2).fit(emb_sim)
    ps, pr = pca.transform(emb_sim), pca.transform(emb_real)
    fig, a = plt.subplots(figsize=(5, 4))
    a.scatter(ps[:, 0], ps[:, 1], s=3, c="0.7", label="simulations")
    for c, col in (("FRI", "C0"), ("FRII", "C3"), ("Bent", "C2"), ("Hybrid", "C4")):
        sel = te["label"] == c
        a.scatter(pr[sel, 0], pr[sel, 1], s=8, c=col, label=f"MiraBest {c}")
    a.legend(fontsize=7)
    a.set_title(f"Theory network's features (PCA); C2ST real vs sim {results['latent'].get('c2st', float('nan')):.2f}",
                fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "radio_latent.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings, nothing written (checks the script runs)")
    ap.add_argument("--priors-only", action="store_true", help="only the class-priors row, with the shipped model, "
                    "into the existing results")
    ap.add_argument("--shipped-only", action="store_true", help="only the installed shipped model's rows (and its "
                    "one-view network), confusion matrix and 45-arcsec row, into the existing results")
    args = ap.parse_args()
    if args.shipped_only:
        res = json.loads(RESULTS.read_text())
        sp = mirabest_splits()
        xc, yc, _ = training_set(3000, seed=1001)
        pipe = load()
        shipped_rows(res, pipe, sp["test"], to_grid(sp["test"]["images"], 1.8, 5.4)[0],
                     (*labelled_grid(sp["calibration"]), xc, _idx(yc)),
                     res["rows"].get(SHIPPED, {}).get("seconds", 0.0))      # the training's time, not this run's
        beam45(res, pipe, sp["test"])
        RESULTS.write_text(json.dumps(res, indent=1))
        shipped_figures(pipe, sp["test"], to_grid(sp["test"]["images"], 1.8, 5.4)[0], res)
    elif args.priors_only:
        res = json.loads(RESULTS.read_text())
        priors_row(res, load(), mirabest_splits()["test"])
        RESULTS.write_text(json.dumps(res, indent=1))
    else:
        main(args.quick)
    sys.exit(0)
