"""Recipes for the shipped radio classifier, scored on the MiraBest calibration split (issue 33).

Which way of combining theory and the 732 real training labels classifies real FIRST images best?
Every recipe trains on simulations and/or the real training split only; each is scored by its
argmax on the 183 non-hybrid images of the calibration split (FRI/FRII accuracy, bent counted as
FRI, and 3-class accuracy). The test split is not read. Recipes:

* ``shipped-v1``: the recipe of ``sim2sky radio train`` (theory, then 40 epochs on the real split
  repeated 4x beside a third of the simulations);
* ``scratch``: real training split only, 150 epochs of 3,000 draws (the field table's reference);
* ``theory+real``: the theory network, then 150 epochs of 3,000 real draws plus ``--sims-per-epoch``
  simulated cutouts (all classes, so that Compact, absent from MiraBest, is kept);
* ``shipped-v1 wide``: the shipped recipe with the 16-32-64 network;
* ``shipped-v1 rot``: the shipped recipe, its fine-tuning augmented with rotations by any angle.

Each is also scored with test-time averaging over 2, 4 and 8 rotations/reflections per image.

    SIM2SKY_DATA=../shared/data python benchmarks/radio_recipes.py --out benchmarks/results_radio_recipes.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (data mirror)
from radio_capacity import _d4, fr_accuracy, labelled_grids
from sim2sky.cases.radio import CLASSES, radio_classifier, training_set
from sim2sky.cases.radio.schema import GRID
from sim2sky.core.atomic import write_text
from sim2sky.learn import ClassifierNet
from sim2sky.nn import CNN2d


def network(channels, seed):
    torch.manual_seed(seed)
    return ClassifierNet(CNN2d(GRID.size ** 2, 32, channels, stem=True, convs=1), len(CLASSES),
                         (GRID.size, GRID.size), standardize="global")


def any_rotation(x: torch.Tensor) -> torch.Tensor:
    """The case's augmentation with rotations by any angle (bilinear) instead of multiples of 90 deg."""
    b = len(x)
    angle = torch.rand(b) * 2 * torch.pi
    flip = torch.where(torch.rand(b) < 0.5, -1.0, 1.0)
    shift = torch.randint(-2, 3, (b, 2)).float() * 2 / x.shape[-1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, (b, 1, *x.shape[-2:]), align_corners=False)
    return torch.nn.functional.grid_sample(x[:, None], grid, align_corners=False)[:, 0]


def scores(clf, x, y) -> dict:
    """Argmax scores of one pass, and of the probabilities averaged over 2 (0 and 180 deg), 4 (the
    rotations) and 8 (D4) views of each image (test-time averaging: that many network passes)."""
    views = _d4(x)                                        # rot 0, rot 0 flipped, rot 90, ..., rot 270 flipped
    probs = [clf.predict_all(v)["proba"] for v in views]
    p = probs[0]
    out = {"fr_accuracy": fr_accuracy(p, y), "accuracy": float((p.argmax(1) == y).mean())}
    for k, sel in ((2, (0, 4)), (4, (0, 2, 4, 6)), (8, range(8))):
        out[f"fr_accuracy_views{k}"] = fr_accuracy(np.mean([probs[i] for i in sel], 0), y)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--append", action="store_true", help="add these runs to the results already in --out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sims-per-epoch", type=int, default=600)
    ap.add_argument("--recipes", nargs="+", default=["shipped-v1", "scratch", "theory+real", "shipped-v1 wide"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    (xr, yr), (xcal, ycal) = labelled_grids("train", "calibration")
    x, y, _ = training_set(16000, seed=1)
    xc, yc, _ = training_set(3000, seed=1001)
    yi, yci = (np.array([CLASSES.index(c) for c in v]) for v in (y, yc))
    res = {"n_real_train": len(xr), "n_scored": len(xcal), "sims_per_epoch": args.sims_per_epoch, "runs": []}
    if args.append and args.out and args.out.exists():
        res = json.loads(args.out.read_text())
    theory = {}
    for recipe in args.recipes:
        channels = (16, 32, 64) if "wide" in recipe else (8, 16, 32)
        for seed in args.seeds:
            t0 = time.perf_counter()
            if recipe.startswith(("theory", "shipped-v1")):
                if channels not in theory:
                    theory[channels] = radio_classifier(network(channels, 1), epochs=20, seed=1).fit(x, yi, xc, yci)
                    res.setdefault("theory_only", {})[str(channels)] = scores(theory[channels], xcal, ycal)
                start = theory[channels].network_
            if recipe.startswith("shipped-v1"):
                m = len(x) // 3
                xf, yf = np.concatenate([x[:m], np.repeat(xr, 4, 0)]), np.concatenate([yi[:m], np.repeat(yr, 4)])
                clf = radio_classifier(start, epochs=40, learning_rate=1e-3, seed=seed)
                if "rot" in recipe:
                    clf.augment = any_rotation
                clf.fit(xf, yf, xcal, ycal)
            else:
                rng = np.random.default_rng(seed)
                rows = rng.permutation(np.resize(np.arange(len(xr)), 3000))
                n_sim = 0 if recipe == "scratch" else args.sims_per_epoch
                sims = rng.choice(len(x), n_sim, replace=False)
                xf, yf = np.concatenate([xr[rows], x[sims]]), np.concatenate([yr[rows], yi[sims]])
                net = network(channels, seed) if recipe == "scratch" else start
                clf = radio_classifier(net, epochs=150, learning_rate=3e-3 if recipe == "scratch" else 1e-3,
                                       seed=seed).fit(xf, yf, xcal, ycal)
            row = {"recipe": recipe, "seed": seed, "channels": list(channels), "seconds": time.perf_counter() - t0,
                   **scores(clf, xcal, ycal)}
            res["runs"].append(row)
            print(f"{recipe:18s} seed {seed}: FRI/FRII {row['fr_accuracy']:.3f} (2/4/8 views "
                  f"{row['fr_accuracy_views2']:.3f}/{row['fr_accuracy_views4']:.3f}/{row['fr_accuracy_views8']:.3f}), "
                  f"3-class {row['accuracy']:.3f} ({row['seconds']:.0f} s)", flush=True)
            if args.out:
                write_text(args.out, json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
