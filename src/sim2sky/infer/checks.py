"""One call that runs the calibration diagnostics on held-out simulations and writes plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import kstest

from ..core.errors import InputError
from ..report.plots import coverage_plot, pair_plot, rank_histograms
from .diagnostics import coverage_error, expected_coverage, tarp

__all__ = ["run_checks"]


def run_checks(posterior, theta, x, out_dir, num_sims: int = 500, num_samples: int = 1000, seed: int = 0) -> dict:
    """Expected coverage (HPD), SBC ranks and TARP on held-out ``(theta, x)``.

    Writes ``coverage.png``, ``sbc_ranks.png``, ``pair_example.png`` and ``check.json`` into
    ``out_dir`` and returns the numbers.
    """
    theta = np.asarray(theta, np.float32)
    d = posterior.estimator.theta_dim
    if theta.ndim != 2 or theta.shape[1] != d:
        raise InputError(f"held-out theta must have shape (n, {d}) for parameters {posterior.theta_names}; got {theta.shape}")
    x = posterior.check_x(x, allow_out_of_range=True)
    if len(theta) != len(x):
        raise InputError(f"theta has {len(theta)} rows but x has {len(x)}")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(theta), size=min(num_sims, len(theta)), replace=False)
    theta, x = theta[idx], x[idx]
    if len(theta) < 20:
        raise InputError(f"need at least 20 held-out simulations for calibration checks, got {len(theta)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    levels, cov = expected_coverage(posterior, theta, x, num_samples=num_samples, seed=seed)
    samples = posterior.sample_batched(x, num_samples, seed=seed + 1)
    ranks = (samples < theta[:, None, :]).sum(1)
    tl, ecp = tarp(samples, theta, seed=seed)
    ks = {name: float(kstest((ranks[:, i] + rng.uniform(0, 1, len(ranks))) / (num_samples + 1), "uniform").pvalue)
          for i, name in enumerate(posterior.theta_names)}
    coverage_plot({"HPD (expected coverage)": (levels, cov), "TARP": (tl, ecp)}, out_dir / "coverage.png")
    rank_histograms(ranks, num_samples, posterior.theta_names, out_dir / "sbc_ranks.png")
    pair_plot(samples[0], posterior.theta_names, truth=theta[0], path=out_dir / "pair_example.png",
              title="posterior of one held-out simulation (star: truth)")
    report = {
        "num_sims": int(len(theta)), "num_samples": num_samples,
        "levels": levels.tolist(), "coverage": cov.tolist(), "coverage_max_error": coverage_error(levels, cov),
        "tarp_ecp": ecp.tolist(), "tarp_max_error": coverage_error(tl, ecp),
        "sbc_ks_pvalue": ks,
    }
    (out_dir / "check.json").write_text(json.dumps(report, indent=1))
    return report
