"""Simulation-budget curves: C2ST vs simulations for amortised NPE and truncated sequential NPE
(TSNPE, Deistler et al. 2022, arXiv:2210.04815), sim2sky vs sbi in the same run.

For each task, observation and budget B (total simulations): NPE trains once on B prior
simulations; TSNPE runs 4 rounds of B/4 simulations, each later round drawn from the prior
truncated to the 1 - 1e-4 highest-probability region of the current posterior at the
observation. sbi: ``NPE(density_estimator="nsf")`` and its TSNPE recipe (``RestrictedPrior``
+ ``get_density_thresholder(quantile=1e-4)``, ``force_first_round_loss=True``). C2ST is
sbibm's against the stored reference posterior (10^4 samples). For sim2sky's TSNPE the
expected coverage of the final posterior is checked on 300 simulations from the final
truncated prior (what the truncated posterior is trained to be calibrated on).

    python benchmarks/sequential.py --tasks two_moons --observations 1 2 3 --budgets 1000 3000 10000 \
        --out benchmarks/results_sequential_two_moons.json
    python benchmarks/sequential.py --observations 1 --budgets 100000 --methods npe   # the 10^5 point
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (the shared data mirror)
from sim2sky.cases.sbibm import get_task, load_reference, truncated_prior_coverage
from sim2sky.infer import NPE, TSNPE, BoxUniform, TrainConfig, c2st, coverage_error

ROUNDS, EPSILON = 4, 1e-4


def sbi_prior(task):
    from sbi.utils import BoxUniform as SbiBox

    if isinstance(task.prior, BoxUniform):
        return SbiBox(task.prior.low, task.prior.high)
    return torch.distributions.Independent(torch.distributions.Normal(task.prior.loc, task.prior.scale), 1)


def sbi_run(task, xo, budget, sequential, seed):
    from sbi.inference import NPE as SbiNPE
    from sbi.utils import RestrictedPrior, get_density_thresholder

    torch.manual_seed(seed)
    prior = sbi_prior(task)
    inf = SbiNPE(prior=prior, density_estimator="nsf", show_progress_bars=False)
    proposal, rounds = prior, (ROUNDS if sequential else 1)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(rounds):
        theta = proposal.sample((budget // rounds,))
        x = task.simulate(theta, gen)
        inf.append_simulations(theta, x).train(force_first_round_loss=True)
        post = inf.build_posterior().set_default_x(torch.as_tensor(xo)[None])
        if sequential:
            accept = get_density_thresholder(post, quantile=EPSILON)
            proposal = RestrictedPrior(prior, accept, sample_with="rejection")
    return post.sample((10_000,), show_progress_bars=False).numpy()


def ours_run(task, xo, budget, sequential, seed):
    if sequential:
        ts = TSNPE(task.prior, task.simulate, rounds=ROUNDS, simulations_per_round=budget // ROUNDS, epsilon=EPSILON,
                   train_config=TrainConfig(seed=seed)).fit(xo, seed=seed)
        return ts.posterior_.sample(xo, 10_000, seed=seed + 1), ts
    theta, x = task.sample_joint(budget, seed=seed)
    npe = NPE(task.prior, train_config=TrainConfig(seed=seed)).fit(theta.numpy(), x.numpy())
    return npe.posterior_.sample(xo, 10_000, seed=seed + 1), None


def table(results: dict) -> str:
    """Markdown: per task and budget, C2ST mean +- sd over observations and mean seconds, per method."""
    cols = [("npe", "sim2sky"), ("npe", "sbi"), ("tsnpe", "sim2sky"), ("tsnpe", "sbi")]
    lines = ["| task | simulations | " + " | ".join(f"{m.upper()} {lib}: C2ST (s)" for m, lib in cols)
             + " | TSNPE sim2sky coverage at 68% |", "|---" * (len(cols) + 3) + "|"]
    keys = [k.split("/") for k in results]
    for task in dict.fromkeys(k[0] for k in keys):
        for budget in sorted({int(k[2]) for k in keys if k[0] == task}):
            cells, cover = [], []
            for method, lib in cols:
                rows = [v for k, v in results.items() if k.startswith(f"{task}/") and k.endswith(f"/{budget}/{method}/{lib}")
                        and "c2st" in v]
                if not rows:
                    cells.append("—")
                    continue
                c = np.array([r["c2st"] for r in rows])
                cells.append(f"{c.mean():.3f} ± {c.std():.3f} ({np.mean([r['seconds'] for r in rows]):.0f} s, n={len(c)})")
                cover += [r["coverage_68"] for r in rows if "coverage_68" in r]
            lines.append(f"| {task} | {budget} | " + " | ".join(cells) + f" | {np.mean(cover):.2f} |" if cover
                         else f"| {task} | {budget} | " + " | ".join(cells) + " | — |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["two_moons"])
    ap.add_argument("--observations", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--budgets", nargs="+", type=int, default=[1000, 3000, 10000])
    ap.add_argument("--methods", nargs="+", default=["npe", "tsnpe"], choices=["npe", "tsnpe"])
    ap.add_argument("--skip-sbi", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_sequential.json"))
    ap.add_argument("--table", action="store_true", help="print the README table of --out and exit")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.tasks:
        task = get_task(name)
        for obs in args.observations:
            ref = load_reference(name, obs)
            xo, reference = np.asarray(ref["x"], np.float32).ravel(), np.asarray(ref["samples"])[:10_000]
            for budget in args.budgets:
                for method in args.methods:
                    for lib in ("sim2sky", "sbi"):
                        key = f"{name}/{obs}/{budget}/{method}/{lib}"
                        if key in results or (lib == "sbi" and args.skip_sbi):
                            continue
                        t0 = time.perf_counter()
                        try:
                            if lib == "sbi":
                                samples, ts = sbi_run(task, xo, budget, method == "tsnpe", seed=obs), None
                            else:
                                samples, ts = ours_run(task, xo, budget, method == "tsnpe", seed=obs)
                        except Exception as exc:    # report, do not lose the other rows
                            results[key] = {"error": repr(exc)}
                            print(f"{key}: failed {exc!r}")
                            continue
                        seconds = time.perf_counter() - t0
                        row = {"c2st": c2st(samples, reference), "seconds": seconds}
                        if ts is not None:
                            row["rounds"] = ts.rounds_
                            levels, cov = truncated_prior_coverage(ts, task, 300, seed=0)
                            row["coverage_error_truncated_prior"] = coverage_error(levels, cov)
                            row["coverage_68"] = float(np.interp(0.68, levels, cov))
                        results[key] = row
                        print(f"{key}: C2ST {row['c2st']:.3f} in {seconds:.0f} s"
                              + (f", coverage(68%) {row['coverage_68']:.2f}" if "coverage_68" in row else ""), flush=True)
                        args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
