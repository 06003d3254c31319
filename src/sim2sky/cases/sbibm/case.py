"""The sbibm case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` draws ``(theta, x)`` pairs of a benchmark task (two moons, SLCP, Gaussian linear,
Gaussian mixture, Bernoulli GLM...); ``train`` fits NPE on them with the task's prior;
``load(model).predict(x)`` summarises the posterior of every observation; ``check`` runs the
calibration diagnostics (expected coverage, SBC, TARP) on held-out simulations.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir, save_npz
from ...core.contract import CasePipeline, as_table, check_settings, qtable
from ...core.errors import InputError
from ...infer.api import train_npe_file
from ...infer.checks import run_checks
from ...infer.io import load_posterior
from .tasks import get_task

__all__ = ["simulate", "train", "load", "SbibmCase"]


def simulate(n: int, *, seed: int = 0, task: str = "two_moons") -> QTable:
    """``n`` pairs of ``task`` (see :data:`~.tasks.TASKS`): columns ``theta_1..d`` and ``x_1..k``
    (dimensionless); ``meta`` holds the task name and its prior."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    t = get_task(task)
    theta, x = t.sample_joint(n, seed=seed)
    cols = {f"theta_{i + 1}": theta[:, i].numpy() for i in range(t.theta_dim)}
    cols.update({f"x_{i + 1}": x[:, i].numpy() for i in range(t.x_dim)})
    return qtable(cols, meta={"task": task, "prior": t.prior.to_dict()})


def _split(table) -> tuple[np.ndarray, np.ndarray, list, list]:
    theta_names = [c for c in table.colnames if c.startswith("theta_")]
    x_names = [c for c in table.colnames if c.startswith("x_")]
    if not x_names:
        raise InputError(f"data: no x_1..x_k columns (have {', '.join(table.colnames[:10])})")
    values = lambda names: np.stack([np.asarray(getattr(table[c], "value", table[c]), np.float32) for c in names], 1) \
        if names else None
    return values(theta_names), values(x_names), theta_names, x_names


def train(data_or_config=None, out=None, *, overwrite: bool = False, task: str = "two_moons", n: int = 10_000,
          seed: int = 0, **config) -> Path:
    """Fit NPE on simulations of a task; write the model folder ``out``.

    ``data_or_config``: a table from :func:`simulate` (its ``meta`` names the prior), or None/a
    dict of ``task``, ``n``, ``seed`` (simulated first) and ``architecture``/``training``.
    ``architecture`` and ``training`` (dicts of NPEConfig/TrainConfig settings) go to
    :func:`~sim2sky.infer.api.train_npe_file`.
    """
    if isinstance(data_or_config, dict):
        settings = dict(data_or_config)
        task, n, seed = settings.pop("task", task), settings.pop("n", n), settings.pop("seed", seed)
        check_settings(settings, ("architecture", "training"), "sbibm train")
        config = {**settings, **config}
        data_or_config = None
    table = simulate(n, seed=seed, task=task) if data_or_config is None else as_table(data_or_config, "data")
    prior = table.meta.get("prior") or get_task(table.meta.get("task", task)).prior.to_dict()
    if prior.get("kind") == "box_uniform":
        prior = {"low": prior["low"], "high": prior["high"]}
    theta, x, theta_names, x_names = _split(table)
    if theta is None:
        raise InputError("data: no theta_1..theta_d columns to train on")
    out = check_out_dir(out, overwrite=overwrite, kind="npe")
    with tempfile.TemporaryDirectory() as tmp:
        sims = Path(tmp) / "sims.npz"
        save_npz(sims, theta=theta, x=x, theta_names=np.array(theta_names), x_names=np.array(x_names))
        train_npe_file(sims, out, bounds=prior, log=lambda *a: None, **config)
    return out


def load(model) -> "SbibmCase":
    """The NPE posterior of a model folder (none is shipped: train one, or run ``sim2sky demo``)."""
    return SbibmCase(model)


class SbibmCase(CasePipeline):
    """An amortised NPE posterior: summaries per observation and calibration checks."""

    case = "sbibm"

    def __init__(self, model=None, num_samples: int = 1000):
        if model is None:
            raise InputError("model: no sbibm posterior is shipped; train one with sbibm.train(...) or "
                             "'sim2sky sbibm train'")
        self.model, self.num_samples = model, num_samples
        self.posterior_ = load_posterior(model)

    def predict(self, data, *, seed: int = 0) -> QTable:
        """Posterior ``<theta>_mean``, ``_std``, ``_q16``, ``_q84`` for every row of ``data`` (a table
        with ``x_1..x_k`` columns, or an (n, k) array)."""
        x = _split(as_table(data, "data"))[1] if not isinstance(data, np.ndarray) else np.atleast_2d(data)
        samples = self.posterior_.sample_batched(x, self.num_samples, seed=seed)
        cols = {}
        units = dict(zip(self.posterior_.theta_names, getattr(self.posterior_, "theta_units", None) or []))
        col_units = {}
        for j, name in enumerate(self.posterior_.theta_names):
            s = samples[..., j]
            q16, q84 = np.quantile(s, [0.16, 0.84], axis=1)
            for key, v in (("mean", s.mean(1)), ("std", s.std(1)), ("q16", q16), ("q84", q84)):
                cols[f"{name}_{key}"] = v
                col_units[f"{name}_{key}"] = units.get(name) or ""
        return qtable(cols, col_units)

    def check(self, data=None, *, n: int = 200, seed: int = 1, task: str = "two_moons") -> dict:
        """Expected coverage, SBC and TARP (:func:`~sim2sky.infer.checks.run_checks`) on held-out
        simulations: ``data`` with ``theta_*`` and ``x_*`` columns, or ``n`` fresh ``task``
        simulations when None."""
        if data is None:
            data = simulate(n, seed=seed, task=task)
        theta, x, _, _ = _split(as_table(data, "data"))
        if theta is None:
            raise InputError("data: check needs the true theta_1..theta_d columns")
        with tempfile.TemporaryDirectory() as tmp:
            report = run_checks(self.posterior_, theta, x, tmp, num_sims=len(theta), num_samples=500, seed=seed)
        return json.loads(json.dumps(report, default=float))
