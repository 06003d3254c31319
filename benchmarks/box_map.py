"""How a box prior is mapped to unbounded space: tails of the box map vs sbi's rejection, same run.

sim2sky's flows live in unbounded space: a box prior is mapped by
:class:`sim2sky.nn.flows.BoxLogitTransform` (linear core, stretched edges). Where the prior cuts
the posterior (gaussian_linear_uniform: N(x, 0.1 I) inside [-1, 1]^10, most observations near an
edge) the shape of the stretched edge decides what the flow must learn. For each variant, on the
same 10^4 simulations (seed 1):

- gaussian_linear_uniform: C2ST to the sbibm reference posteriors of observations 1-3 and the
  held-out KL(p || q) over the prior predictive (2,000 pairs, exact truncated-Gaussian density);
- two_moons: C2ST over the 10 reference observations (the crescents reach the box edge too).

The peer is sbi 0.27 ``NPE(density_estimator="nsf")`` with rejection of samples outside the box.

    python benchmarks/box_map.py [--tasks gaussian_linear_uniform two_moons] [--out results_box_map.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (the shared data mirror)
from sim2sky.cases.sbibm import get_task, load_reference
from sim2sky.infer import NPE, NPEConfig, TrainConfig, c2st

VARIANTS = {   # name -> NPEConfig keyword arguments (the tail/core pair of the box map)
    "exp, core 0.9": {"box_tail": "exp", "box_core": 0.9},
    "gauss, core 0.7": {"box_tail": "gauss", "box_core": 0.7},
    "gauss, core 0.5": {"box_tail": "gauss", "box_core": 0.5},
    "probit (gauss, core 0)": {"box_tail": "gauss", "box_core": 0.0},
}


def glu_log_posterior(theta, x, sd=math.sqrt(0.1)):
    unit = torch.distributions.Normal(0.0, 1.0)
    return (torch.distributions.Normal(x, sd).log_prob(theta).sum(-1)
            - (unit.cdf((1 - x) / sd) - unit.cdf((-1 - x) / sd)).log().sum(-1))


def sbi_sampler_and_density(task, theta, x):
    from sbi.inference import NPE as SbiNPE
    from sbi.utils import BoxUniform as SbiBox

    torch.manual_seed(1)
    inf = SbiNPE(prior=SbiBox(task.prior.low, task.prior.high), density_estimator="nsf", show_progress_bars=False)
    de = inf.append_simulations(theta, x).train()
    post = inf.build_posterior(de)
    de.eval()

    def sample(xo, n, seed):
        torch.manual_seed(seed)
        return post.sample((n,), x=torch.as_tensor(xo).reshape(1, -1), show_progress_bars=False).numpy()

    @torch.no_grad()
    def log_q(t, xs):      # truncated to the box: divide by the accepted mass, estimated per observation
        inside = lambda s: ((s >= task.prior.low) & (s <= task.prior.high)).all(-1)
        mass = inside(de.sample((500,), condition=xs)).float().mean(0).clamp_min(1e-3)
        return de.log_prob(t[None], condition=xs)[0] - mass.log()

    return sample, log_q


def evaluate(task, sample, log_q, n_obs):
    scores = []
    for k in range(1, n_obs + 1):
        ref = load_reference(task.name, k)
        scores.append(c2st(ref["samples"], sample(ref["x"][0], 10_000, k + 1)))
    row = {"c2st": float(np.mean(scores)), "c2st_per_obs": scores}
    if task.name == "gaussian_linear_uniform":
        t, xt = task.sample_joint(2000, seed=7)
        row["kl"] = float((glu_log_posterior(t, xt) - log_q(t, xt)).mean())
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["gaussian_linear_uniform", "two_moons"])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_box_map.json"))
    ap.add_argument("--skip-sbi", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    results = {}
    for name in args.tasks:
        task = get_task(name)
        n_obs = 3 if task.theta_dim > 2 else 10
        theta, x = task.sample_joint(10_000, seed=1)
        results[name] = {}
        for label, kwargs in VARIANTS.items():
            t0 = time.perf_counter()
            npe = NPE(task.prior, NPEConfig(**kwargs), TrainConfig(seed=1)).fit(theta.numpy(), x.numpy())
            train_s = time.perf_counter() - t0
            post = npe.posterior_
            with torch.no_grad():
                row = evaluate(task, lambda xo, n, s: post.sample(xo, n, seed=s),
                               lambda t, xs: npe.estimator_(xs).log_prob(t), n_obs)
            results[name][label] = {**row, "train_s": train_s}
            print(name, label, {k: v for k, v in results[name][label].items() if k != "c2st_per_obs"}, flush=True)
        if not args.skip_sbi:
            t0 = time.perf_counter()
            sample, log_q = sbi_sampler_and_density(task, theta, x)
            train_s = time.perf_counter() - t0
            results[name]["sbi NSF (rejection)"] = {**evaluate(task, sample, log_q, n_obs), "train_s": train_s}
            print(name, "sbi", results[name]["sbi NSF (rejection)"]["c2st"], flush=True)
        args.out.write_text(json.dumps(results, indent=1))

    print("\n| task | box map | C2ST | vs sbi | held-out KL (nats) | train s |\n|---|---|---|---|---|---|")
    for name, rows in results.items():
        peer = rows.get("sbi NSF (rejection)", {}).get("c2st", float("nan"))
        for label, r in rows.items():
            print(f"| {name} | {label} | {r['c2st']:.3f} | {r['c2st'] - peer:+.3f} | "
                  f"{r.get('kl', float('nan')):.3f} | {r['train_s']:.0f} |")


if __name__ == "__main__":
    main()
