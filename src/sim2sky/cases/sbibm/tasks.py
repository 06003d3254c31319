"""The sbibm benchmark tasks, reimplemented from their published definitions.

Each task is a prior plus a vectorised simulator ``simulate(theta, generator) -> x``. The
reference observations and posterior samples are the sbibm 1.1.0 files of the data registry's
``sbibm`` dataset (see :func:`load_reference`; ``sim2sky data fetch sbibm``).

References
----------
Lueckmann et al. 2021, "Benchmarking Simulation-Based Inference", AISTATS, arXiv:2101.04653.
Greenberg et al. 2019 (two moons), arXiv:1905.07488.
Gonçalves et al. 2020 (Bernoulli GLM), arXiv:1907.00770.
The ODE tasks (sir, lotka_volterra) are in :mod:`.ode`.
"""

from __future__ import annotations

import bz2
import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ...core.atomic import save_npz, write_text
from ...core.data import dataset_root
from ...core.errors import InputError, suggest
from ...infer.priors import BoxUniform, Gaussian, LogNormal
from .ode import (LV_PRIOR, SIR_PRIOR, lotka_volterra_log_likelihood, simulate_lotka_volterra, simulate_sir,
                  sir_log_likelihood)

__all__ = ["Task", "TASKS", "get_task", "gaussian_linear_task", "load_reference", "simulate_task_file"]


@dataclass(frozen=True)
class Task:
    """A benchmark task: a prior and a simulator, plus an analytic posterior when one exists."""

    name: str
    prior: object
    simulator: Callable[[Tensor, torch.Generator | None], Tensor]
    x_dim: int
    analytic_posterior: Callable[[Tensor], torch.distributions.Distribution] | None = None
    log_likelihood: Callable[[Tensor, Tensor], Tensor] | None = None

    @property
    def theta_dim(self) -> int:
        return self.prior.dim

    def simulate(self, theta: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.simulator(theta, generator)

    def sample_joint(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """Draw ``n`` pairs ``(theta, x)`` from prior x simulator with a fixed seed."""
        g = torch.Generator().manual_seed(seed)
        theta = self.prior.sample(n, generator=g)
        return theta, self.simulate(theta, g)


def _two_moons(theta: Tensor, g: torch.Generator | None) -> Tensor:
    n = theta.shape[0]
    a = (torch.rand(n, generator=g) - 0.5) * math.pi  # U(-pi/2, pi/2)
    r = 0.1 + 0.01 * torch.randn(n, generator=g)
    p = torch.stack([r * torch.cos(a) + 0.25, r * torch.sin(a)], dim=-1)
    shift = torch.stack(
        [-(theta[:, 0] + theta[:, 1]).abs(), -theta[:, 0] + theta[:, 1]], dim=-1
    ) / math.sqrt(2.0)
    return p + shift


def _gaussian_linear(theta: Tensor, g: torch.Generator | None) -> Tensor:
    # sbibm: simulator covariance 0.1 * I (precision_matrix = inverse(0.1 I))
    return theta + math.sqrt(0.1) * torch.randn(theta.shape, generator=g)


def _gaussian_linear_posterior(x: Tensor) -> torch.distributions.Distribution:
    # prior N(0, 0.1 I), likelihood N(theta, 0.1 I)  ->  N(x / 2, 0.05 I)
    x = torch.as_tensor(x, dtype=torch.float32).reshape(-1)
    return torch.distributions.MultivariateNormal(x / 2.0, 0.05 * torch.eye(x.numel()))


def _gaussian_linear_log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
    x = torch.as_tensor(x, dtype=theta.dtype).reshape(1, -1)
    return torch.distributions.Normal(theta, math.sqrt(0.1)).log_prob(x).sum(-1)


def _gaussian_mixture(theta: Tensor, g: torch.Generator | None) -> Tensor:
    narrow = torch.rand(theta.shape[0], 1, generator=g) < 0.5
    scale = torch.where(narrow, torch.tensor(0.1), torch.tensor(1.0))
    return theta + scale * torch.randn(theta.shape, generator=g)


def _slcp_moments(theta: Tensor) -> tuple[Tensor, Tensor]:
    s1, s2, rho = theta[:, 2] ** 2, theta[:, 3] ** 2, torch.tanh(theta[:, 4])
    cov = torch.stack([torch.stack([s1 ** 2, rho * s1 * s2], -1), torch.stack([rho * s1 * s2, s2 ** 2], -1)], -2)
    return theta[:, :2], cov + 1e-8 * torch.eye(2)


def _slcp(theta: Tensor, g: torch.Generator | None) -> Tensor:
    # simple likelihood, complex posterior: 4 draws of a 2-D Gaussian whose mean, scales and
    # correlation are the 5 parameters (sbibm "slcp"; Papamakarios et al. 2019, arXiv:1805.07226)
    mean, cov = _slcp_moments(theta)
    eps = torch.randn(theta.shape[0], 4, 2, generator=g)
    return (mean[:, None] + eps @ torch.linalg.cholesky(cov).transpose(-1, -2)).reshape(-1, 8)


def _slcp_log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
    """log p(x | theta) (m,) of one observation x (8,) for parameters theta (m, 5)."""
    mean, cov = _slcp_moments(theta)
    dist = torch.distributions.MultivariateNormal(mean, cov)
    return dist.log_prob(torch.as_tensor(x, dtype=theta.dtype).reshape(4, 1, 2)).sum(0)


def _glm_design() -> Tensor:
    # sbibm's frozen white-noise stimulus (numpy seed 42, 100 bins) and its 9-lag design matrix
    # with an offset column; identical to sbibm's design_matrix.pt (checked to 0.0)
    stim = np.random.RandomState(42).randn(100).astype(np.float32)
    design = np.zeros((100, 10), np.float32)
    design[:, 0] = 1.0
    for lag in range(9):
        design[lag:, 1 + lag] = stim[: 100 - lag]
    return torch.from_numpy(design)


_GLM_DESIGN = _glm_design()


def _glm_prior() -> Gaussian:
    # sbibm: precision 0.5 on the offset, a smoothness prior F^T F on the 9 filter weights
    m = 9
    d = torch.eye(m, dtype=torch.float64) - torch.diag(torch.ones(m - 1, dtype=torch.float64), -1)
    f = d @ d + torch.diag(torch.arange(m, dtype=torch.float64) / m) ** 0.5
    precision = torch.zeros(m + 1, m + 1, dtype=torch.float64)
    precision[0, 0] = 0.5
    precision[1:, 1:] = f.T @ f
    return Gaussian(torch.zeros(m + 1), covariance=torch.linalg.inv(precision))


def _bernoulli_glm(theta: Tensor, g: torch.Generator | None) -> Tensor:
    # spikes y_t ~ Bernoulli(sigmoid(design @ theta)), summarised by the sufficient statistics
    # design^T y (spike count, then the 9 lags of the spike-triggered stimulus sum)
    rate = torch.sigmoid(theta @ _GLM_DESIGN.T)                       # (n, 100)
    spikes = (torch.rand(rate.shape, generator=g) < rate).float()
    return spikes @ _GLM_DESIGN


def _bernoulli_glm_log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
    """log p(x | theta) up to a theta-independent constant: x = design^T y is sufficient for the GLM."""
    x = torch.as_tensor(x, dtype=theta.dtype).reshape(-1)
    return theta @ x - torch.nn.functional.softplus(theta @ _GLM_DESIGN.T.to(theta.dtype)).sum(-1)


def gaussian_linear_task(dim: int = 10, uniform: bool = False) -> Task:
    """Gaussian-linear task of any dimension (sbibm's is 10-D); analytic posterior if not uniform."""
    if uniform:
        return Task(f"gaussian_linear_uniform_{dim}d", BoxUniform([-1.0] * dim, [1.0] * dim), _gaussian_linear, dim)
    return Task(f"gaussian_linear_{dim}d", Gaussian([0.0] * dim, [math.sqrt(0.1)] * dim), _gaussian_linear, dim,
                _gaussian_linear_posterior)


TASKS: dict[str, Task] = {
    "two_moons": Task("two_moons", BoxUniform([-1.0] * 2, [1.0] * 2), _two_moons, 2),
    "gaussian_linear": Task(
        "gaussian_linear",
        Gaussian([0.0] * 10, [math.sqrt(0.1)] * 10),
        _gaussian_linear,
        10,
        _gaussian_linear_posterior,
        _gaussian_linear_log_likelihood,
    ),
    "gaussian_linear_uniform": Task(
        "gaussian_linear_uniform", BoxUniform([-1.0] * 10, [1.0] * 10), _gaussian_linear, 10
    ),
    "gaussian_mixture": Task(
        "gaussian_mixture", BoxUniform([-10.0] * 2, [10.0] * 2), _gaussian_mixture, 2
    ),
    "slcp": Task("slcp", BoxUniform([-3.0] * 5, [3.0] * 5), _slcp, 8, log_likelihood=_slcp_log_likelihood),
    "bernoulli_glm": Task("bernoulli_glm", _glm_prior(), _bernoulli_glm, 10,
                          log_likelihood=_bernoulli_glm_log_likelihood),
    "sir": Task("sir", LogNormal(*SIR_PRIOR), simulate_sir, 10, log_likelihood=sir_log_likelihood),
    "lotka_volterra": Task("lotka_volterra", LogNormal(*LV_PRIOR), simulate_lotka_volterra, 20,
                           log_likelihood=lotka_volterra_log_likelihood),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}{suggest(name, TASKS)}; choose from {sorted(TASKS)}")
    return TASKS[name]


_MIRRORED = ("two_moons", "gaussian_linear", "gaussian_linear_uniform", "gaussian_mixture")


def _parse_csv(raw: bytes, compressed: bool) -> np.ndarray:
    text = (bz2.decompress(raw) if compressed else raw).decode()
    return np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2).astype(np.float32)


def _read_csv(path: Path) -> np.ndarray:
    return _parse_csv(path.read_bytes(), path.suffix == ".bz2")


def load_reference(task: str, num_observation: int, data_dir=None) -> dict:
    """Observation, true parameters, seed and reference posterior samples of one sbibm case.

    The four tasks of the ``sbibm`` dataset are read from its folder; the others (bernoulli_glm,
    slcp, ...) from inside the sbibm wheel of the ``sbibm-pypi`` dataset (CSV files only; nothing
    is imported or unpickled from it).

    Returns
    -------
    dict with ``x`` (1, k), ``theta`` (1, d), ``seed`` (int) and ``samples`` (10000, d).
    ``data_dir`` overrides the data registry's search (see :mod:`sim2sky.core.data`).
    """
    names = {"x": "observation.csv", "theta": "true_parameters.csv", "seed": "observation_seed.csv",
             "samples": "reference_posterior_samples.csv.bz2"}
    if task in _MIRRORED:
        folder = dataset_root("sbibm", data_dir) / "sbibm" / task / f"num_observation_{num_observation}"
        if not folder.is_dir():
            raise InputError(f"no sbibm reference folder {folder}")
        out = {k: _read_csv(folder / name) for k, name in names.items()}
    else:
        wheel = dataset_root("sbibm-pypi", data_dir) / "sbibm-pypi" / "sbibm-1.1.0-py2.py3-none-any.whl"
        prefix = f"sbibm/tasks/{task}/files/num_observation_{num_observation}/"
        with zipfile.ZipFile(wheel) as zf:
            if prefix + names["x"] not in zf.namelist():
                raise InputError(f"sbibm has no reference for task {task!r}, observation {num_observation} (1-10)")
            out = {k: _parse_csv(zf.read(prefix + name), name.endswith(".bz2")) for k, name in names.items()}
    out["seed"] = int(out["seed"][0, 0])
    return out


def simulate_task_file(task: str, out, num: int = 10_000, seed: int = 0, bounds_out=None,
                       observations_out=None) -> dict:
    """Simulate ``num`` pairs of an sbibm task into ``out`` (.npz: theta, x and their names).

    Optionally write the prior as JSON (``bounds_out``: ``{low, high}`` for a box, else with its
    ``kind``; ``npe train --bounds`` reads either) and the 10 reference observations
    (``observations_out``, needs the ``sbibm`` dataset). Files are written atomically.
    """
    t = get_task(task)
    if num < 1:
        raise InputError("--num must be positive")
    refs = [load_reference(task, i) for i in range(1, 11)] if observations_out is not None else None
    theta, x = t.sample_joint(num, seed=seed)
    save_npz(out, theta=theta.numpy(), x=x.numpy(), theta_names=np.array([f"theta_{i + 1}" for i in range(t.theta_dim)]),
             x_names=np.array([f"x_{i + 1}" for i in range(t.x_dim)]))
    if bounds_out is not None:
        spec = t.prior.to_dict()
        if spec["kind"] == "box_uniform":
            spec = {"low": spec["low"], "high": spec["high"]}
        write_text(bounds_out, json.dumps(spec))
    if refs is not None:
        save_npz(observations_out, x=np.concatenate([r["x"] for r in refs]),
                 theta=np.concatenate([r["theta"] for r in refs]))
    return {"task": task, "num": num, "theta_dim": t.theta_dim, "x_dim": t.x_dim}
