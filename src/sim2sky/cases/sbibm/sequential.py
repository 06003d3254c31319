"""Truncated sequential NPE on a benchmark task's observation: posterior folder, rounds, coverage, C2ST."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ...core.atomic import write_text
from ...core.modelio import seal_folder
from ...core.errors import InputError
from ...infer import TSNPE, TrainConfig, c2st, coverage_error, expected_coverage, save_posterior
from .tasks import get_task, load_reference

__all__ = ["run_tsnpe_task", "truncated_prior_coverage"]


def truncated_prior_coverage(ts, task, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Expected coverage ``(levels, coverage)`` of a fitted TSNPE's posterior on ``n`` simulations
    drawn from its final truncated prior (where a TSNPE posterior is meant to be calibrated)."""
    theta = ts.proposal_.sample(n, torch.Generator().manual_seed(seed + 99))
    x = task.simulate(theta, torch.Generator().manual_seed(seed + 98)).numpy()
    return expected_coverage(ts.posterior_, theta.numpy(), x, num_samples=500, seed=seed)


def run_tsnpe_task(task_name: str, observation: int, out, rounds: int = 4, simulations_per_round: int = 1000,
                   epsilon: float = 1e-4, seed: int = 0, coverage_sims: int = 300, data_dir=None,
                   progress: bool = False) -> dict:
    """TSNPE for sbibm observation ``observation`` (1-10) of ``task_name``; writes a model folder.

    ``out/`` gets the posterior (``sim2sky npe sample`` reads it) and ``sequential.json``: the
    rounds (simulations, acceptance, prior volume of the truncation region), the expected-coverage
    error on ``coverage_sims`` simulations from the final truncated prior, and the C2ST against the
    sbibm reference posterior when the data mirror has it.
    """
    task = get_task(task_name)
    if not 1 <= observation <= 10:
        raise InputError(f"observation: sbibm tasks have observations 1-10, got {observation}")
    ref = load_reference(task_name, observation, data_dir)
    x_obs = np.asarray(ref["x"], np.float32).ravel()
    ts = TSNPE(task.prior, task.simulate, rounds=rounds, simulations_per_round=simulations_per_round, epsilon=epsilon,
               train_config=TrainConfig(seed=seed), progress=progress).fit(x_obs, seed=seed)
    levels, cov = truncated_prior_coverage(ts, task, coverage_sims, seed)
    report = {"task": task_name, "observation": observation, "rounds": ts.rounds_,
              "coverage_levels": levels.tolist(), "coverage": cov.tolist(),
              "coverage_max_error_truncated_prior": coverage_error(levels, cov)}
    if "samples" in ref:
        samples = ts.posterior_.sample(x_obs, 10_000, seed=seed + 1)
        report["c2st"] = c2st(samples, np.asarray(ref["samples"])[:10_000])
    # saved only now, so that a failure above leaves no model behind; the report is sealed with it
    save_posterior(ts.posterior_, out, provenance={"method": "TSNPE", "task": task_name, "observation": observation,
                                                   "seed": seed})
    write_text(Path(out) / "sequential.json", json.dumps(report, indent=1))
    seal_folder(out)
    return report
