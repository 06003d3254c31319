"""sim2sky NPE vs sbi NPE (NSF, defaults) on the sbibm tasks, in one run, same simulations.

For each task: 10^4 simulations from the task's prior and simulator (one seed, shared by both
methods); both estimators trained; then
  - C2ST against the 10 sbibm reference posteriors (10^4 samples each), sbibm's definition;
  - training wall time;
  - amortised sampling: 1000 samples for each of 1000 observations (sbi: ``sample_batched``).
Prints one table with the ratios and writes it as JSON (``--out``).

    python benchmarks/npe_vs_sbi.py [--tasks two_moons ...] [--threads 1] [--out results.json]

Needs the ``bench`` extra (``pip install -e .[bench]``) and ../shared/data/sbibm.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch

import _data  # noqa: F401  (the shared data mirror)
from sim2sky.cases.sbibm import TASKS, get_task, load_reference
from sim2sky.core.atomic import write_text
from sim2sky.infer.diagnostics import c2st
from sim2sky.infer.npe import NPE, NPEConfig
from sim2sky.infer.priors import BoxUniform, LogNormal
from sim2sky.infer.train import TrainConfig


def run_sim2sky(task, theta, x, seed):
    t0 = time.perf_counter()
    npe = NPE(prior=task.prior, train_config=TrainConfig(seed=seed)).fit(theta.numpy(), x.numpy())
    train_s = time.perf_counter() - t0
    post = npe.posterior_
    return train_s, (lambda xo, n, s: post.sample(xo[0], n, seed=s)), (lambda xs, n: post.sample_batched(xs, n, seed=0))


def run_sbi(task, theta, x, seed):
    from sbi.inference import NPE as SbiNPE
    from sbi.utils import BoxUniform as SbiBox

    torch.manual_seed(seed)
    if isinstance(task.prior, BoxUniform):
        prior = SbiBox(task.prior.low, task.prior.high)
    elif isinstance(task.prior, LogNormal):
        prior = torch.distributions.Independent(torch.distributions.LogNormal(task.prior.loc, task.prior.scale), 1)
    elif task.prior.covariance is not None:
        prior = torch.distributions.MultivariateNormal(task.prior.loc, task.prior.covariance)
    else:
        prior = torch.distributions.Independent(torch.distributions.Normal(task.prior.loc, task.prior.scale), 1)
    t0 = time.perf_counter()
    inf = SbiNPE(prior=prior, density_estimator="nsf", show_progress_bars=False)
    inf.append_simulations(theta, x)
    de = inf.train()
    train_s = time.perf_counter() - t0
    post = inf.build_posterior(de)

    def one(xo, n, s):
        torch.manual_seed(s)
        return post.sample((n,), x=torch.as_tensor(xo), show_progress_bars=False).numpy()

    def batched(xs, n):
        return post.sample_batched((n,), x=torch.as_tensor(xs), show_progress_bars=False).numpy()

    return train_s, one, batched


def evaluate(name, runner, task, theta, x, refs, seed, n_obs_batched, with_c2st=True):
    train_s, one, batched = runner(task, theta, x, seed)
    scores = [c2st(r["samples"], one(r["x"], 10_000, i + 1)) for i, r in enumerate(refs)] if with_c2st else [float("nan")]
    sample_s = float("nan")
    if n_obs_batched:
        xs = task.simulate(task.prior.sample(n_obs_batched, torch.Generator().manual_seed(99)),
                           torch.Generator().manual_seed(98)).numpy()
        t0 = time.perf_counter()
        try:
            out = batched(xs, 1000)
            sample_s = time.perf_counter() - t0
            assert out.shape[-1] == task.theta_dim
        except Exception as exc:  # sbi can fail by memory or leakage; report, do not crash the table
            sample_s = float("nan")
            print(f"  {name}: batched sampling failed: {type(exc).__name__}: {exc}")
    return {"c2st": float(np.mean(scores)), "c2st_per_obs": scores, "train_s": train_s, "sample_s": sample_s,
            "train_seed": seed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--num-simulations", type=int, default=10_000)
    ap.add_argument("--num-observations", type=int, default=10)
    ap.add_argument("--batched-observations", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulations (and of training, by default)")
    ap.add_argument("--train-seed", type=int, default=None,
                    help="another training seed on the same simulations (spread of a library over its own randomness)")
    ap.add_argument("--skip-sampling", action="store_true", help="no 1000 x 1000 amortised-sampling timing")
    ap.add_argument("--skip-sbi", action="store_true")
    ap.add_argument("--skip-sim2sky", action="store_true", help="sbi only (e.g. to finish a table in a second process)")
    ap.add_argument("--skip-c2st", action="store_true", help="Timing only (C2ST takes ~25 s per observation).")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    # each finished task is written at once (atomically): a run of several hours that is
    # interrupted keeps what it measured, and a rerun with the same --out adds to the file
    train_seed = args.seed if args.train_seed is None else args.train_seed
    n_batched = 0 if args.skip_sampling else args.batched_observations
    results = {}
    if args.out and os.path.exists(args.out):
        with open(args.out) as fh:
            results = json.load(fh)
    for name in args.tasks:
        task = get_task(name)
        theta, x = task.sample_joint(args.num_simulations, seed=args.seed)
        refs = [load_reference(name, i) for i in range(1, args.num_observations + 1)]
        results.setdefault(name, {})
        if not args.skip_sim2sky:
            results[name]["sim2sky"] = evaluate("sim2sky", run_sim2sky, task, theta, x, refs, train_seed, n_batched, not args.skip_c2st)
            print(name, "sim2sky", {k: v for k, v in results[name]["sim2sky"].items() if k != "c2st_per_obs"}, flush=True)
        if not args.skip_sbi:
            results[name]["sbi"] = evaluate("sbi", run_sbi, task, theta, x, refs, train_seed, n_batched, not args.skip_c2st)
            print(name, "sbi", {k: v for k, v in results[name]["sbi"].items() if k != "c2st_per_obs"}, flush=True)
        if args.out:
            write_text(args.out, json.dumps(results, indent=1))

    print()
    print(f"NPE at {args.num_simulations} simulations, {args.threads} thread(s); C2ST mean over {args.num_observations} reference observations")
    print("| task | C2ST sim2sky | C2ST sbi | train s sim2sky | train s sbi | train ratio | 1000x1000 sampling s sim2sky | sbi | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.tasks:
        r = results[name]
        nan = {"c2st": float("nan"), "train_s": float("nan"), "sample_s": float("nan")}
        a, b = r.get("sim2sky", nan), r.get("sbi", {})
        bc, bt, bs = b.get("c2st", float("nan")), b.get("train_s", float("nan")), b.get("sample_s", float("nan"))
        print(f"| {name} | {a['c2st']:.3f} | {bc:.3f} | {a['train_s']:.1f} | {bt:.1f} | {a['train_s'] / bt:.2f} | "
              f"{a['sample_s']:.2f} | {bs:.1f} | {bs / a['sample_s']:.0f}x |")


if __name__ == "__main__":
    main()
