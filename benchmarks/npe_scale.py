"""NPE at scale: training from 10^6 simulations streamed from disk, and amortised sampling of 10^6
observations locally vs on a dask.distributed cluster.

1. ``stream``: two_moons parameters with 100-feature observations (the 2 two_moons features plus
   98 standard-normal nuisance features, 400 MB as float32) written to ``.npy`` files; NPE trains
   for ``--epochs`` epochs (a) from ``numpy.memmap`` views of the files (streamed in shuffled
   65,536-row blocks) and (b) from the arrays loaded in memory. Each run is a fresh process;
   we report its peak resident memory (``ru_maxrss``; memmap pages count there), the anonymous
   and file-backed parts at the end, wall time, and the final validation loss.
2. ``sample``: a model folder trained on 10^4 two_moons simulations; 10 samples for each of 10^6
   observations with ``sample_observations`` locally and on a 2-worker ``LocalCluster``: wall time
   and whether the samples are bit-identical.

    python benchmarks/npe_scale.py --out benchmarks/results_npe_scale.json [--n 1000000] [--epochs 2] [--n-obs 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sim2sky.cases.sbibm import get_task
from sim2sky.infer import NPE, TrainConfig, save_posterior
from sim2sky.infer.api import sample_observations

FEATURES = 100


def write_simulations(folder: Path, n: int, block: int = 100_000) -> None:
    task = get_task("two_moons")
    theta_f = np.lib.format.open_memmap(folder / "theta.npy", "w+", np.float32, (n, 2))
    x_f = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (n, FEATURES))
    rng = np.random.default_rng(0)
    for i in range(0, n, block):
        theta, x = task.sample_joint(min(block, n - i), seed=i)
        theta_f[i:i + len(theta)] = theta.numpy()
        x_f[i:i + len(theta), :2] = x.numpy()
        x_f[i:i + len(theta), 2:] = rng.standard_normal((len(theta), FEATURES - 2), dtype=np.float32)
    theta_f.flush()
    x_f.flush()


def train_child(folder: str, mode: str, epochs: int) -> None:
    """Runs in a fresh process: train and print a JSON line with time, peak RSS and validation loss."""
    mmap = "r" if mode == "stream" else None
    theta = np.load(Path(folder) / "theta.npy", mmap_mode=mmap)
    x = np.load(Path(folder) / "x.npy", mmap_mode=mmap)
    t0 = time.perf_counter()
    npe = NPE(get_task("two_moons").prior, train_config=TrainConfig(max_epochs=epochs, seed=0)).fit(theta, x)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    print(json.dumps({"mode": mode, "train_s": time.perf_counter() - t0,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      # memmap pages count in RSS but are clean file pages the kernel can drop; the
                      # anonymous part is what the process really holds
                      "rss_anon_mb_at_end": float(status.get("RssAnon", "0 kB").split()[0]) / 1024,
                      "rss_file_mb_at_end": float(status.get("RssFile", "0 kB").split()[0]) / 1024,
                      "val_loss": npe.history_["best_val_loss"], "epochs": npe.history_["epochs"]}))


def section_stream(n: int, epochs: int) -> dict:
    out = {"n": n, "features": FEATURES, "bytes": n * (FEATURES + 2) * 4}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_simulations(Path(tmp), n)
        out["write_s"] = time.perf_counter() - t0
        for mode in ("stream", "memory"):
            res = subprocess.run([sys.executable, __file__, "--child", tmp, mode, str(epochs)], capture_output=True,
                                 text=True, check=True)
            out[mode] = json.loads(res.stdout.strip().splitlines()[-1])
            r = out[mode]
            print(f"  {mode:6s}: {r['train_s']:.0f} s for {r['epochs']} epochs, peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"(at the end: anonymous {r['rss_anon_mb_at_end']:.0f} MB, file-backed {r['rss_file_mb_at_end']:.0f} MB), "
                  f"validation loss {r['val_loss']:.3f}", flush=True)
    return out


def section_sample(n_obs: int) -> dict:
    from dask.distributed import Client, LocalCluster

    task = get_task("two_moons")
    theta, x = task.sample_joint(10_000, seed=0)
    post = NPE(task.prior, train_config=TrainConfig(seed=0)).fit(theta.numpy(), x.numpy()).posterior_
    xs = task.sample_joint(n_obs, seed=1)[1].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        save_posterior(post, Path(tmp) / "model")
        t0 = time.perf_counter()
        local = sample_observations(Path(tmp) / "model", xs, 10, seed=0)
        t_local = time.perf_counter() - t0
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster):
            t0 = time.perf_counter()
            dist = sample_observations(Path(tmp) / "model", xs, 10, seed=0, scheduler=cluster.scheduler_address)
            t_dist = time.perf_counter() - t0
    out = {"observations": n_obs, "samples_each": 10, "local_s": t_local, "cluster_2_workers_s": t_dist,
           "identical": bool(np.array_equal(local, dist))}
    print(f"  10 samples x {n_obs:,} observations: local {t_local:.1f} s, 2-worker cluster {t_dist:.1f} s, "
          f"identical: {out['identical']}", flush=True)
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        torch.set_num_threads(1)
        train_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n-obs", type=int, default=1_000_000, help="observations for the sampling section")
    ap.add_argument("--sections", nargs="+", default=["stream", "sample"])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_npe_scale.json"))
    args = ap.parse_args()
    res = {}
    if "stream" in args.sections:
        print("== stream ==")
        res["stream"] = section_stream(args.n, args.epochs)
    if "sample" in args.sections:
        print("== sample ==")
        res["sample"] = section_sample(args.n_obs)
    if args.out.exists():
        res = {**json.loads(args.out.read_text()), **res}
    args.out.write_text(json.dumps(res, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
