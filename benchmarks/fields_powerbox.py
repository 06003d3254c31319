"""Our Gaussian and log-normal field generators against an independent one, powerbox (Murray 2018,
doi:10.21105/joss.00850), for the same P(k) (issue 34).

For each kind (gaussian, lognormal) and dimension (2-D slabs, 3-D boxes) at the default grid and three
parameter points: n fields from each generator, then
* P(k) per shell: z = (mean_ours - mean_powerbox) / standard error, chi^2 over the shells and its p-value
  (fields are independent, so the per-field scatter gives the sample variance exactly);
* one-point PDF: per-field variance, skewness and kurtosis, z of the difference of their means, and
  :func:`sim2sky.cases.fields.stats.compare_fields` (P(k), PDF and peak errors against a second set of our
  own fields, the sample-variance floor);
* the exact-likelihood posterior (:func:`~sim2sky.cases.fields.gaussian_posterior_samples`) on powerbox
  Gaussian maps with parameters drawn from the prior: 68% / 95% coverage per parameter, beside the same on
  our own maps.

    python benchmarks/fields_powerbox.py --out benchmarks/results_fields_powerbox.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import powerbox
import torch
from scipy import stats

from sim2sky.cases.fields import gaussian_fields, gaussian_posterior_samples, lognormal_fields
from sim2sky.cases.fields.power import linear_power
from sim2sky.cases.fields.schema import kind_spec
from sim2sky.cases.fields.stats import compare_fields
from sim2sky.nn.fourier import power_spectrum

DEPTH = 20.0
THETAS = [(0.15, 0.65), (0.30, 0.80), (0.45, 0.95)]


def powerbox_fields(kind: str, theta, n: int, size: int, dim: int, box: float, seed: int) -> np.ndarray:
    om, s8 = theta

    def pk(k):
        p = linear_power(k, om, s8)[0]
        return p / DEPTH if dim == 2 else p

    cls = powerbox.PowerBox if kind == "gaussian" else powerbox.LogNormalPowerBox
    return np.stack([cls(shape=(size,) * dim, pk=pk, size=(box,) * dim, seed=seed + i, ensure_physical=False).delta_x()
                     for i in range(n)]).astype(np.float64)


def ours(kind: str, theta, n: int, size: int, dim: int, box: float, seed: int) -> np.ndarray:
    f = gaussian_fields if kind == "gaussian" else lognormal_fields
    return f(np.tile(theta, (n, 1)), size, dim, box, DEPTH, rng=seed).astype(np.float64)


def pk_test(a: np.ndarray, b: np.ndarray, dim: int, box: float) -> dict:
    k, pa = power_spectrum(torch.as_tensor(a), dim, box=box)
    _, pb = power_spectrum(torch.as_tensor(b), dim, box=box)
    pa, pb, k = pa.numpy(), pb.numpy(), k.numpy()
    keep = k > 0
    se = np.sqrt(pa.var(0, ddof=1) / len(pa) + pb.var(0, ddof=1) / len(pb))
    z = (pa.mean(0) - pb.mean(0))[keep] / se[keep]
    chi2 = float((z ** 2).sum())
    return {"k": k[keep].tolist(), "ratio": (pa.mean(0) / pb.mean(0))[keep].tolist(), "z": z.tolist(),
            "chi2": chi2, "dof": int(keep.sum()), "p_value": float(stats.chi2.sf(chi2, keep.sum())),
            "max_abs_z": float(np.abs(z).max())}


def moments_test(a: np.ndarray, b: np.ndarray) -> dict:
    out = {}
    for name, fn in (("variance", lambda f: f.reshape(len(f), -1).var(1)),
                     ("skewness", lambda f: stats.skew(f.reshape(len(f), -1), axis=1)),
                     ("kurtosis", lambda f: stats.kurtosis(f.reshape(len(f), -1), axis=1))):
        x, y = fn(a), fn(b)
        se = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        out[name] = {"ours": float(x.mean()), "powerbox": float(y.mean()), "z": float((x.mean() - y.mean()) / se)}
    return out


def coverage(fields: np.ndarray, thetas: np.ndarray, low, high, box: float, seed: int) -> dict:
    hits = {0.68: [], 0.95: []}
    for i, (f, t) in enumerate(zip(fields, thetas)):
        s = gaussian_posterior_samples(f, 2000, low, high, box, DEPTH, rng=seed + i)
        for level in hits:
            lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], axis=0)
            hits[level].append((t >= lo) & (t <= hi))
    return {f"{int(level * 100)}": np.mean(h, 0).tolist() for level, h in hits.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="fields per generator, parameter point and grid")
    ap.add_argument("--n-posterior", type=int, default=200, help="maps for the posterior coverage")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    res = {"powerbox_version": powerbox.__version__, "n": args.n, "comparisons": []}
    t0 = time.perf_counter()
    for kind in ("gaussian", "lognormal"):
        spec = kind_spec(kind)
        for dim in (2, 3):
            size, box = spec.size[dim], spec.box[dim]
            for j, theta in enumerate(THETAS):
                try:
                    b = powerbox_fields(kind, theta, args.n, size, dim, box, seed=10_000 * (j + 1))
                except ValueError as err:
                    # powerbox refuses a log-normal field whose Gaussian power has negative modes; ours sets
                    # them to zero (forward.lognormal_fields), so the two differ exactly there
                    res["comparisons"].append({"kind": kind, "dim": dim, "size": size, "box": box, "theta": theta,
                                               "powerbox_refused": str(err).split(";")[0]})
                    print(f"{kind} {dim}-D theta {theta}: powerbox refuses: {str(err).split(';')[0]}", flush=True)
                    continue
                a = ours(kind, theta, args.n, size, dim, box, seed=100 + j)
                a2 = ours(kind, theta, args.n, size, dim, box, seed=200 + j)
                cf = compare_fields(b, a, dim, simulated_again=powerbox_fields(kind, theta, args.n, size, dim, box,
                                                                                seed=50_000 * (j + 1)))
                row = {"kind": kind, "dim": dim, "size": size, "box": box, "theta": theta,
                       "pk": pk_test(a, b, dim, box), "pk_ours_vs_ours": pk_test(a, a2, dim, box)["p_value"],
                       "moments": moments_test(a, b),
                       "errors_vs_powerbox": {k: cf[k] for k in ("pk_max_error", "pdf_max_error", "peaks_max_error")},
                       "errors_floor": {k: cf[k + "_floor"] for k in ("pk_max_error", "pdf_max_error",
                                                                         "peaks_max_error")}}
                res["comparisons"].append(row)
                m = row["moments"]
                print(f"{kind} {dim}-D theta {theta}: P(k) chi2 {row['pk']['chi2']:.1f}/{row['pk']['dof']} "
                      f"(p {row['pk']['p_value']:.3f}, max |z| {row['pk']['max_abs_z']:.2f}); z variance "
                      f"{m['variance']['z']:+.2f}, skewness {m['skewness']['z']:+.2f}, kurtosis {m['kurtosis']['z']:+.2f}; "
                      f"PDF error {cf['pdf_max_error']:.3f} (floor {cf['pdf_max_error_floor']:.3f})", flush=True)
    spec = kind_spec("gaussian")
    size, box = spec.size[2], spec.box[2]
    rng = np.random.default_rng(7)
    thetas = rng.uniform(spec.low, spec.high, size=(args.n_posterior, 2))
    pb = np.stack([powerbox_fields("gaussian", t, 1, size, 2, box, seed=70_000 + i)[0] for i, t in enumerate(thetas)])
    own = np.stack([gaussian_fields(t[None], size, 2, box, DEPTH, rng=90_000 + i)[0] for i, t in enumerate(thetas)])
    res["posterior_coverage"] = {"maps": args.n_posterior, "parameters": list(spec.parameters),
                                 "powerbox": coverage(pb, thetas, spec.low, spec.high, box, 1),
                                 "ours": coverage(own, thetas, spec.low, spec.high, box, 2)}
    print("exact posterior coverage (omega_m, sigma_8):", res["posterior_coverage"], flush=True)
    res["seconds"] = time.perf_counter() - t0
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
        print(f"results in {args.out}")


if __name__ == "__main__":
    main()
