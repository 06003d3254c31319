"""Radio classifier capacity and test-time D4 averaging, on the MiraBest calibration split (issue 33).

Where could FRI/FRII accuracy come from? Supervised on the real training split only (732 images
less 100 held out for the temperature; 3,000 draws per epoch with the case's rotations, flips
and shifts), each network is scored on the 183 calibration-split images, never on the test split:
FRI/FRII accuracy (bent counted as FRI) of one pass, and of the mean probabilities over the
eight rotations and reflections of each image (test-time D4 averaging: 8x the network cost).

    python benchmarks/radio_capacity.py --out benchmarks/results_radio_capacity.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (data mirror)
from sim2sky.cases.radio import CLASSES, mirabest_splits, radio_classifier, to_grid
from sim2sky.cases.radio.schema import GRID
from sim2sky.cases.radio.training import fr_probability
from sim2sky.core.atomic import write_text
from sim2sky.learn import ClassifierNet
from sim2sky.nn import CNN2d

NETWORKS = [((8, 16, 32), 1), ((16, 32, 64), 1), ((16, 32, 64), 2)]     # (channels, convolutions per stage)


def _d4(x: np.ndarray) -> list[np.ndarray]:
    views = []
    for k in range(4):
        r = np.rot90(x, k, axes=(1, 2))
        views += [np.ascontiguousarray(r), np.ascontiguousarray(r[:, :, ::-1])]
    return views


def labelled_grids(*names) -> list:
    """(grid images, class indices) of the non-hybrid images of each named MiraBest split."""
    splits, out = mirabest_splits(), []
    for name in names:
        d = splits[name]
        keep = d["label"] != "Hybrid"
        out.append((to_grid(d["images"][keep], 1.8, 5.4)[0], np.array([CLASSES.index(c) for c in d["label"][keep]])))
    return out


def fr_accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float(((fr_probability(proba) > 0.5) == (y == CLASSES.index("FRII"))).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    (x, y), (xcal, ycal) = labelled_grids("train", "calibration")
    order = np.random.default_rng(0).permutation(len(x))
    dev, fit = order[:100], order[100:]
    rows = np.random.default_rng(7).permutation(np.resize(fit, 3000))
    res = {"epochs": args.epochs, "n_fit": len(fit), "n_temperature": len(dev), "n_scored": len(ycal), "networks": []}
    for channels, convs in NETWORKS:
        torch.manual_seed(1)
        net = ClassifierNet(CNN2d(GRID.size ** 2, 32, channels, stem=True, convs=convs), len(CLASSES),
                            (GRID.size, GRID.size), standardize="global")
        t0 = time.perf_counter()
        clf = radio_classifier(net, epochs=args.epochs, seed=1).fit(x[rows], y[rows], x[dev], y[dev])
        row = {"channels": list(channels), "convs": convs, "weights": sum(p.numel() for p in net.parameters()),
               "train_s": time.perf_counter() - t0, "fr_accuracy": fr_accuracy(clf.predict_proba(xcal), ycal),
               "fr_accuracy_d4_mean": fr_accuracy(np.mean([clf.predict_proba(v) for v in _d4(xcal)], 0), ycal)}
        res["networks"].append(row)
        print(f"{str(channels):14s} x{convs}: {row['weights']:>6,} weights, FRI/FRII {row['fr_accuracy']:.3f}, with D4 "
              f"averaging {row['fr_accuracy_d4_mean']:.3f} ({row['train_s']:.0f} s)", flush=True)
        if args.out:
            write_text(args.out, json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
