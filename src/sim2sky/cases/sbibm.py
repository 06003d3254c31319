"""The sbibm benchmark tasks, reimplemented from their published definitions.

Each task is a prior plus a vectorised simulator ``simulate(theta, generator) -> x``. The
reference observations and posterior samples are read from the sbibm 1.1.0 data shipped in
``../shared/data/sbibm`` (see :func:`load_reference`).

References
----------
Lueckmann et al. 2021, "Benchmarking Simulation-Based Inference", AISTATS, arXiv:2101.04653.
Greenberg et al. 2019 (two moons), arXiv:1905.07488.
"""

from __future__ import annotations

import bz2
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError, suggest
from ..infer.priors import BoxUniform, Gaussian

__all__ = ["Task", "TASKS", "get_task", "gaussian_linear_task", "load_reference", "shared_data_dir"]


@dataclass(frozen=True)
class Task:
    """A benchmark task: a prior and a simulator, plus an analytic posterior when one exists."""

    name: str
    prior: object
    simulator: Callable[[Tensor, torch.Generator | None], Tensor]
    x_dim: int
    analytic_posterior: Callable[[Tensor], torch.distributions.Distribution] | None = None

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


def _gaussian_mixture(theta: Tensor, g: torch.Generator | None) -> Tensor:
    narrow = torch.rand(theta.shape[0], 1, generator=g) < 0.5
    scale = torch.where(narrow, torch.tensor(0.1), torch.tensor(1.0))
    return theta + scale * torch.randn(theta.shape, generator=g)


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
    ),
    "gaussian_linear_uniform": Task(
        "gaussian_linear_uniform", BoxUniform([-1.0] * 10, [1.0] * 10), _gaussian_linear, 10
    ),
    "gaussian_mixture": Task(
        "gaussian_mixture", BoxUniform([-10.0] * 2, [10.0] * 2), _gaussian_mixture, 2
    ),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}{suggest(name, TASKS)}; choose from {sorted(TASKS)}")
    return TASKS[name]


def shared_data_dir() -> Path | None:
    """The shared reference-data folder (``$SIM2SKY_DATA`` or ``../shared/data``), if present."""
    candidates = [os.environ.get("SIM2SKY_DATA")]
    here = Path(__file__).resolve()
    candidates += [str(p / "shared" / "data") for p in [Path.cwd().parent, *here.parents]]
    for c in candidates:
        if c and Path(c, "sbibm").is_dir():
            return Path(c)
    return None


def _read_csv(path: Path) -> np.ndarray:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt") as fh:
        return np.loadtxt(fh, delimiter=",", skiprows=1, ndmin=2).astype(np.float32)


def load_reference(task: str, num_observation: int, data_dir: Path | None = None) -> dict:
    """Observation, true parameters, seed and reference posterior samples of one sbibm case.

    Returns
    -------
    dict with ``x`` (1, k), ``theta`` (1, d), ``seed`` (int) and ``samples`` (10000, d).
    """
    data_dir = data_dir or shared_data_dir()
    if data_dir is None:
        raise InputError("sbibm reference data not found: set SIM2SKY_DATA to the shared data folder")
    folder = Path(data_dir) / "sbibm" / task / f"num_observation_{num_observation}"
    if not folder.is_dir():
        raise InputError(f"no sbibm reference folder {folder}")
    return {
        "x": _read_csv(folder / "observation.csv"),
        "theta": _read_csv(folder / "true_parameters.csv"),
        "seed": int(_read_csv(folder / "observation_seed.csv")[0, 0]),
        "samples": _read_csv(folder / "reference_posterior_samples.csv.bz2"),
    }
