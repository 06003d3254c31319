"""Prediction throughput on a device (issue 35's GPU path): the shipped spectra classifier and redshift posterior.

One short script for the lent GPU machine (``benchmarks/emulators.py --device cuda`` is the
training half: the flow-matching emulator, results_emulators_gpu.json). It simulates
``--n-base`` spectra once, tiles them with fresh noise to ``--n`` model inputs, then times on
``--device`` (warm: one batch first), for float32 and ``--precision`` (bfloat16 by default):

* the classifier alone (probabilities, "unknown" distance), spectra/s;
* the classifier plus the redshift posterior (exact quantiles, 24-node moments) and its calibration, spectra/s;

and checks that the reduced precision gives the float32 class (fraction equal). The card's
name, torch's version and the settings go into the JSON. Without a GPU it runs on the CPU
(what the numbers are then says so in ``device``).

    python benchmarks/gpu_predict.py --device cuda --out benchmarks/results_gpu_predict.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sim2sky.cases.spectra import SpectraPipeline, simulate_spectra, to_inputs
from sim2sky.core.atomic import write_text
from sim2sky.core.runtime import set_runtime
from sim2sky.nn.device import device_name, torch_device


def inputs(n: int, n_base: int, seed: int = 11):
    d = simulate_spectra(max(1, n_base // 13), seed=seed)
    x, _, snr, cov = to_inputs(d["flux"], d["ivar"])
    rng = np.random.default_rng(seed)
    reps = -(-n // len(x))
    big = np.tile(x, (reps, 1, 1))[:n]
    big[:, 0] += 0.02 * rng.standard_normal(big[:, 0].shape).astype(np.float32)
    return big, np.tile(snr, reps)[:n], np.tile(cov, reps)[:n]


def timed(fn, *args, repeats=2, **kw):
    fn(*args, **kw)                                   # warm: kernels, caches, the copy on the device
    best = np.inf
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn(*args, **kw)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="bfloat16")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--n-base", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=16_384)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    dev = torch_device(args.device)
    res = {"settings": vars(args) | {"out": str(args.out)}, "device": device_name(dev), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "runs": []}
    x, snr, cov = inputs(args.n, args.n_base)
    pipe = SpectraPipeline()
    ref = None
    for precision in ("float32", args.precision):
        set_runtime(args.device, precision)
        secs, out = timed(pipe.classifier.predict_all, x, batch=args.batch)
        row = {"precision": precision, "classifier_s": secs, "classifier_per_s": len(x) / secs}
        n_z = min(len(x), 20_000)
        secs_z, _ = timed(pipe.classify, x[:n_z], snr[:n_z], cov[:n_z], repeats=1)
        row |= {"n_with_z": n_z, "with_z_s": secs_z, "with_z_per_s": n_z / secs_z}
        if ref is None:
            ref = out["proba"].argmax(1)
        else:
            row["same_class_as_float32"] = float(np.mean(out["proba"].argmax(1) == ref))
        res["runs"].append(row)
        print(f"{res['device']} {precision}: classifier {row['classifier_per_s']:,.0f} spectra/s; with the redshift "
              f"posterior {row['with_z_per_s']:,.0f} spectra/s" +
              (f"; same class as float32 {row['same_class_as_float32']:.4f}" if "same_class_as_float32" in row else ""),
              flush=True)
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
