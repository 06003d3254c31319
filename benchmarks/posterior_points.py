"""How many posterior points the HII parameter means and standard deviations need (issue 35).

The cube pipeline summarises the 4-parameter HII posterior of every HII spaxel by its mean and
standard deviation. This compares the ways of getting them against a reference of 8,192 draws per
spaxel, on the HII spaxels of a mock MUSE cube (``sim2sky cube simulate``, 80 x 80): random draws
(32 in cubes and 300 in tables before this change), scrambled Sobol points
(:meth:`sim2sky.infer.Posterior.moments`: 16 in cubes, 256 in tables now) and the 8-point
unscented transform. Errors: |mean - reference| / reference std and |std / reference std - 1|,
median, 95th percentile and maximum over spaxels; the median std ratio per parameter shows a
bias; the cost is microseconds per spaxel on one thread (as in the cube's worker threads).

    python benchmarks/posterior_points.py --out benchmarks/results_posterior_points.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _cold import SIM2SKY
from sim2sky.apply.fitscube import open_cube, read_block
from sim2sky.cases.nebulae import cube as cube_mod
from sim2sky.cases.nebulae.features import line_features, measured_to_table
from sim2sky.cases.nebulae.measure import measure_lines, needed_channels
from sim2sky.core.atomic import write_text


def hii_inputs(cube: Path, limit: int) -> np.ndarray:
    """Classifier features of the spaxels the shipped pipeline calls HII."""
    spec = open_cube(cube, workdir=tempfile.mkdtemp())
    z = cube_mod.cube_redshift(spec, None)
    pipe = cube_mod._pipeline(None)
    flux, var, wave, _ = read_block(spec, slice(0, spec.shape[1]), slice(0, spec.shape[2]), needed_channels(spec.wave, z))
    table = measured_to_table(measure_lines(flux, var, wave, z=z))
    label = pipe.predict(table, len(flux))["label"]
    x, _ = line_features(table, len(flux))
    return x[label == "HII"][:limit], pipe.posterior


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/speed_cube"))
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--reference", type=int, default=8192)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cube = args.cache / "mock_80.fits"
    if not cube.exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([SIM2SKY, "cube", "simulate", "--out", str(cube), "--size", "80", "80", "--seed", "1"], check=True)
    torch.set_num_threads(1)
    x, post = hii_inputs(cube, args.rows)
    d = post.estimator.theta_dim
    ref = post.sample_batched(x, args.reference, generator=torch.Generator().manual_seed(12345))
    ref_mean, ref_std = ref.mean(1), ref.std(1)

    def draws(n, seed):
        s = post.sample_batched(x, n, generator=torch.Generator().manual_seed(seed))
        return s.mean(1), s.std(1)

    def unscented():
        pts = np.concatenate([np.eye(d), -np.eye(d)]) * np.sqrt(d)     # 2d points, weights 1/(2d): kappa = 0
        th = post.at_base(x, pts)
        return th.mean(1), th.std(1)

    rules = [("draws", 32, 0, lambda: draws(32, 0)), ("draws", 32, 1, lambda: draws(32, 1)),
             ("sobol", 16, 0, lambda: post.moments(x, 16, seed=0)), ("sobol", 16, 1, lambda: post.moments(x, 16, seed=1)),
             ("sobol", 32, 0, lambda: post.moments(x, 32, seed=0)), ("unscented", 2 * d, 0, unscented),
             ("draws", 300, 0, lambda: draws(300, 0)), ("sobol", 256, 0, lambda: post.moments(x, 256, seed=0))]
    rows = []
    for rule, n, seed, fn in rules:
        t = time.perf_counter()
        mean, std = fn()
        dt = time.perf_counter() - t
        em, es = np.abs(mean - ref_mean) / ref_std, np.abs(std / ref_std - 1)
        q = lambda a: {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}
        rows.append({"rule": rule, "points": n, "seed": seed, "us_per_spaxel": dt / len(x) * 1e6,
                     "mean_error_sigma": q(em), "std_rel_error": q(es),
                     "std_ratio_median_per_parameter": np.round(np.median(std / ref_std, 0), 4).tolist()})
        r = rows[-1]
        print(f"{rule:9s} {n:4d} seed {seed}: mean err {r['mean_error_sigma']['median']:.3f}/{r['mean_error_sigma']['p95']:.3f}"
              f"/{r['mean_error_sigma']['max']:.2f} sigma, std err {r['std_rel_error']['median']:.3f}/"
              f"{r['std_rel_error']['p95']:.3f}/{r['std_rel_error']['max']:.2f}, std ratio "
              f"{r['std_ratio_median_per_parameter']}, {r['us_per_spaxel']:.1f} us/spaxel")
    res = {"cube": "sim2sky cube simulate --size 80 80 --seed 1", "hii_spaxels": int(len(x)), "parameters": post.theta_names,
           "reference_draws": args.reference, "threads": 1,
           "columns": "errors against the reference as median / 95th percentile / max over spaxels",
           "rules": {f"{r['rule']} {r['points']} (seed {r['seed']})": r for r in rows}}
    if args.out:
        write_text(args.out, json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
