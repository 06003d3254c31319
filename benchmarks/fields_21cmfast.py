"""Cross-simulator check of the 21-cm posteriors (issue 34): trained on our simulator, tested on 21cmFAST, and back.

A CNN "1.50x tighter than P(k)" on its own simulator may be learning that simulator's quirks. Here the
same (zeta, log10 T_vir) prior is simulated by 21cmFAST 4 (``sim2sky.cases.fields.cross``: the same
cosmology, redshift, box, grid, bubble radius, 3 mK noise and no wedge) and the posteriors are
evaluated across simulators:

1. **Ours -> both.** P(k), CNN (2-D, line of sight as channels) and hybrid (CNN + P(k)) NPE trained
   exactly as in ``benchmarks/fields.py`` (8,000 of our cubes, seed 20, 25 epochs, patience 8; the
   3-D CNN of that page is not rerun: 3.3x the training time for the same width there), tested on
   our held-out cubes (seed 21, as there) and on 21cmFAST cubes from the same prior: width, bias in
   posterior sd, 68%/95% coverage, RMSE.
2. **The misspecification flag.** :class:`~sim2sky.learn.TrustScore` on each posterior's embedding,
   fitted on 2,000 training cubes (threshold: 99th percentile of held-out simulations), on both test
   sets: the flagged fraction, and the coverage of the unflagged and flagged boxes.
3. **21cmFAST -> both**, with a training set of ``--n-train-21`` 21cmFAST cubes (~1 s each on one
   core), beside ours trained on as many of our cubes (the first n of the 8,000), so the two
   directions compare at the same training size.

Cubes are cached per block in ``--cache`` (an interrupted run resumes) and simulated on ``--jobs``
processes; trained posteriors are cached there too.

    python benchmarks/fields_21cmfast.py --out benchmarks/results_fields_21cmfast.json
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from fields import CNN2D_LOS, posterior_summary, train
from sim2sky.cases.fields import KINDS, simulate_fields, twentyonecmfast_fields
from sim2sky.core.atomic import save_npz, write_text
from sim2sky.infer import BoxUniform
from sim2sky.infer.io import load_posterior, save_posterior
from sim2sky.learn import TrustScore

EMBEDDINGS = {"pk": ("powerspectrum", {}), "cnn": ("cnn2d", CNN2D_LOS), "hybrid": ("cnn2d+powerspectrum", CNN2D_LOS)}
LABELS = {"pk": "P(k)", "cnn": "CNN (2-D, LOS as channels)", "hybrid": "hybrid (CNN + P(k))"}
BLOCK = 20


def _block(args):
    theta, noise, seed, start, path = args
    if not path.exists():
        save_npz(path, x=twentyonecmfast_fields(theta, noise_mk=noise, rng=[seed, start]))
    return start


def cubes_21cmfast(n, seed, args) -> dict:
    """``n`` 21cmFAST cubes with parameters from the reion21cm prior (seeded like simulate_fields)."""
    spec = KINDS["21cmfast"]
    low, high = np.array(spec.low), np.array(spec.high)
    theta = low + (high - low) * np.random.default_rng(seed).random((n, 2))
    args.cache.mkdir(parents=True, exist_ok=True)
    jobs = [(theta[i:i + BLOCK], args.noise_mk, seed, i, args.cache / f"21cmfast_s{seed}_{i:05d}.npz")
            for i in range(0, n, BLOCK)]
    t0 = time.perf_counter()
    todo = [j for j in jobs if not j[-1].exists()]
    with ProcessPoolExecutor(args.jobs) as pool:
        for k, start in enumerate(pool.map(_block, todo)):
            if k % 10 == 9:
                print(f"  21cmFAST seed {seed}: {(k + 1) * BLOCK}/{len(todo) * BLOCK} new cubes, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    x = np.concatenate([np.load(j[-1])["x"] for j in jobs])
    return {"theta": theta.astype(np.float32), "x": x, "new_cubes_s": time.perf_counter() - t0, "new": len(todo) * BLOCK}


def evaluate(post, x, theta, n=500) -> tuple[dict, np.ndarray]:
    """fields.posterior_summary under this file's names (bias in posterior sd), and per-cube 68% coverage."""
    out, in68 = posterior_summary(post, x, theta, n, per_object=True)
    out["bias_in_sd"] = out.pop("bias_in_widths")
    out["median_bias_in_sd"] = out.pop("median_bias_in_widths")
    return out, in68


def trained(label, name, sims, n, prior, args):
    folder = args.cache / f"post_{name}_{label}_{n}"
    if folder.exists():
        try:
            return load_posterior(folder), None
        except Exception as exc:       # a half-written folder from an interrupted run: train again
            print(f"  retraining {folder.name}: {exc}")
    kind, options = EMBEDDINGS[label]
    post, secs, hist = train(sims["theta"][:n], sims["x"][:n], kind, options, prior, args)
    save_posterior(post, folder, history=hist)
    print(f"  trained {label} on {n} {name} cubes: {secs:.0f} s, {hist['epochs']} epochs", flush=True)
    return post, secs


def direction(name, sims, n, tests, prior, args) -> dict:
    out = {"train_simulator": name, "n_train": n}
    for label in EMBEDDINGS:
        post, secs = trained(label, name, sims, n, prior, args)
        trust = TrustScore().fit(post.embed(sims["x"][:2000]))
        row = {"train_s": secs}
        for test_name, test in tests.items():
            r, in68 = evaluate(post, test["x"], test["theta"])
            flag = trust.flag(post.embed(test["x"]))
            both = in68.all(1)
            r.update(flagged=float(flag.mean()),
                     coverage68_unflagged=in68[~flag].mean(0).tolist() if (~flag).any() else None,
                     coverage68_flagged=in68[flag].mean(0).tolist() if flag.any() else None,
                     missed68_flagged=float(flag[~both].mean()) if (~both).any() else None)
            row[test_name] = r
            print(f"  {name}({n}) {label:6s} on {test_name:8s}: width {np.round(r['width'], 3)}, bias/sd "
                  f"{np.round(r['median_bias_in_sd'], 2)}, cov68 {np.round(r['coverage68'], 2)}, cov95 "
                  f"{np.round(r['coverage95'], 2)}, flagged {r['flagged']:.2f}", flush=True)
        out[label] = row
    for test_name in tests:
        out[f"hybrid_over_pk_{test_name}"] = {
            "width_ratio_pk_over_hybrid": (np.array(out["pk"][test_name]["width"]) /
                                           np.array(out["hybrid"][test_name]["width"])).tolist(),
            "rmse_ratio_pk_over_hybrid": (np.array(out["pk"][test_name]["rmse"]) /
                                          np.array(out["hybrid"][test_name]["rmse"])).tolist()}
    return out


def table(res):
    print("\n| trained on (n) | summary | tested on | width zeta, log Tvir | median bias/sd | cov 68% | cov 95% | flagged | cov 68% unflagged |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in ("ours_8000", "ours_small", "21cmfast_small"):
        d = res.get(key)
        if not d:
            continue
        for label in EMBEDDINGS:
            for test in ("ours", "21cmfast"):
                r = d[label][test]
                cu = r["coverage68_unflagged"]
                print(f"| {d['train_simulator']} ({d['n_train']}) | {LABELS[label]} | {test} | {r['width'][0]:.2f}, "
                      f"{r['width'][1]:.3f} | {r['median_bias_in_sd'][0]:+.2f}, {r['median_bias_in_sd'][1]:+.2f} | "
                      f"{r['coverage68'][0]:.2f}, {r['coverage68'][1]:.2f} | {r['coverage95'][0]:.2f}, "
                      f"{r['coverage95'][1]:.2f} | {r['flagged']:.2f} | "
                      f"{'-' if cu is None else f'{cu[0]:.2f}, {cu[1]:.2f}'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=8000, help="our training cubes (as benchmarks/fields.py)")
    ap.add_argument("--n-train-21", type=int, default=1500, help="21cmFAST training cubes (and ours at that size)")
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--noise-mk", type=float, default=3.0)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2, help="processes simulating 21cmFAST cubes")
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/fields21"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_train_21, args.n_test, args.epochs = 600, 200, 60, 3
        args.cache = args.cache.with_name(args.cache.name + "_quick")
    torch.set_num_threads(args.threads)
    import py21cmfast
    res = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "out"},
           "versions": {"21cmFAST": py21cmfast.__version__}}
    t_all = time.perf_counter()
    prior = BoxUniform(KINDS["reion21cm"].low, KINDS["reion21cm"].high)
    test21 = cubes_21cmfast(args.n_test, 41, args)
    train21 = cubes_21cmfast(args.n_train_21, 40, args)
    if train21["new"] >= 100:
        res["seconds_per_21cmfast_cube"] = train21["new_cubes_s"] * args.jobs / train21["new"]
    t0 = time.perf_counter()
    ours = simulate_fields("reion21cm", args.n_train, noise=args.noise_mk, seed=20)
    res["seconds_per_our_cube"] = (time.perf_counter() - t0) / args.n_train     # 1 process, same cores as above
    tests = {"ours": simulate_fields("reion21cm", args.n_test, noise=args.noise_mk, seed=21), "21cmfast": test21}
    res["mean_tb_mk"] = {k: float(v["x"].mean()) for k, v in tests.items()}

    def save():
        res["wall_s"] = time.perf_counter() - t_all
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))

    res["ours_8000"] = direction("ours", ours, args.n_train, tests, prior, args)
    save()
    res["ours_small"] = direction("ours", ours, args.n_train_21, tests, prior, args)
    save()
    res["21cmfast_small"] = direction("21cmfast", train21, args.n_train_21, tests, prior, args)
    save()
    table(res)


if __name__ == "__main__":
    main()
