"""The two ODE tasks of sbibm: the SIR epidemic and Lotka-Volterra predator-prey.

sbibm solves each simulation's ODE with Julia (diffeqtorch), one parameter vector at a time.
Here the n systems of a batch are stacked into one system of ``k n`` equations and solved by
scipy's adaptive DOP853 (rtol 1e-8): they share one step-size sequence, so a batch of 10^4
costs one solve (0.1 s for SIR, 0.7 s for Lotka-Volterra on one core) instead of 10^4 calls.
The solutions agree with per-system solves to the tolerance (tested), far below the
observation noise. The observation models (what the reference posteriors condition on) are
sbibm's: SIR keeps the infected fraction on 10 days (every 17th of 0..160) and observes
Binomial(1000, I/N) counts; Lotka-Volterra keeps both populations at 10 times (every 2.1 of
0..20) and observes them with log-normal noise of 0.1.

References
----------
Lueckmann et al. 2021, arXiv:2101.04653 (sbibm, tasks "sir" and "lotka_volterra").
Kermack & McKendrick 1927 (SIR); Stan case study "Predator-prey population dynamics" (Carpenter 2018).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor

__all__ = ["SIR_DAYS", "LV_TIMES", "sir_infected", "lotka_volterra_populations", "simulate_sir",
           "sir_log_likelihood", "simulate_lotka_volterra", "lotka_volterra_log_likelihood",
           "SIR_PRIOR", "LV_PRIOR"]

SIR_DAYS = np.arange(0.0, 160.0, 17.0)          # days 0, 17, ..., 153 (sbibm: saveat 1, every 17th)
LV_TIMES = np.arange(10) * 2.1                   # 0, 2.1, ..., 18.9 (sbibm: saveat 0.1, every 21st)
SIR_POPULATION, SIR_COUNT, LV_NOISE = 1e6, 1000, 0.1
# log-normal priors, (loc, scale) of log theta: SIR (beta, gamma), Lotka-Volterra (alpha, beta, gamma, delta)
SIR_PRIOR = ([math.log(0.4), math.log(0.125)], [0.5, 0.2])
LV_PRIOR = ([-0.125, -3.0, -0.125, -3.0], [0.5] * 4)
_CHUNK = 10_000          # systems per stacked solve: the stiffest member sets everyone's step


def _solve_stacked(rhs, y0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Solve ``k`` equations for each of n systems; y0 (k, n) -> states (k, n, len(times)), NaN if it fails."""
    k, n = y0.shape
    sol = solve_ivp(lambda t, y: rhs(y.reshape(k, n)).ravel(), (0.0, float(times[-1])), y0.ravel(),
                    method="DOP853", t_eval=times, rtol=1e-8, atol=1e-12)
    if sol.status != 0 or sol.y.shape[1] != len(times):
        return np.full((k, n, len(times)), np.nan)
    return sol.y.reshape(k, n, len(times))


def _chunked(solve_one, theta: np.ndarray, width: int) -> np.ndarray:
    if len(theta) == 0:
        return np.zeros((0, width))
    return np.concatenate([solve_one(theta[i:i + _CHUNK]) for i in range(0, len(theta), _CHUNK)])


def sir_infected(theta) -> np.ndarray:
    """Infected fraction I/N (n, 10) on :data:`SIR_DAYS` for (beta, gamma) (n, 2), in 1/day."""
    theta = np.asarray(theta, np.float64)

    def one(th):
        beta, gamma = th[:, 0], th[:, 1]

        def rhs(y):                     # fractions s, i (r = 1 - s - i is not needed)
            new = beta * y[0] * y[1]
            return np.stack([-new, new - gamma * y[1]])

        y0 = np.stack([np.full(len(th), 1.0 - 1.0 / SIR_POPULATION), np.full(len(th), 1.0 / SIR_POPULATION)])
        return _solve_stacked(rhs, y0, SIR_DAYS)[1]

    return _chunked(one, theta, len(SIR_DAYS))


def lotka_volterra_populations(theta) -> np.ndarray:
    """Prey then predator populations (n, 20) on :data:`LV_TIMES` for (alpha, beta, gamma, delta) (n, 4)."""
    theta = np.asarray(theta, np.float64)

    def one(th):
        a, b, c, d = th.T

        def rhs(y):
            return np.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])

        u = _solve_stacked(rhs, np.stack([np.full(len(th), 30.0), np.full(len(th), 1.0)]), LV_TIMES)
        return np.concatenate([u[0], u[1]], axis=-1)

    return _chunked(one, theta, 2 * len(LV_TIMES))


def simulate_sir(theta: Tensor, g: torch.Generator | None) -> Tensor:
    """Binomial(1000, I/N) counts (n, 10) on :data:`SIR_DAYS`."""
    p = torch.as_tensor(sir_infected(theta.numpy()), dtype=torch.float32).clamp(0.0, 1.0)
    ok = torch.isfinite(p).all(-1, keepdim=True)
    counts = torch.binomial(torch.full_like(p, SIR_COUNT), torch.where(ok, p, 0.0), generator=g)
    return torch.where(ok, counts, torch.nan)


def sir_log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
    """log p(x | theta) (m,) of one observation x (10,) for theta (m, 2)."""
    p = torch.as_tensor(sir_infected(theta.detach().numpy()), dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    x = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
    return torch.distributions.Binomial(SIR_COUNT, probs=p).log_prob(x).sum(-1).to(theta.dtype)


def _lv_log_means(theta: np.ndarray) -> Tensor:
    return torch.log(torch.as_tensor(lotka_volterra_populations(theta), dtype=torch.float64).clamp(1e-10, 1e4))


def simulate_lotka_volterra(theta: Tensor, g: torch.Generator | None) -> Tensor:
    """Log-normally observed populations (n, 20): prey on :data:`LV_TIMES`, then predators."""
    log_mean = _lv_log_means(theta.numpy())
    eps = torch.randn(log_mean.shape, generator=g, dtype=torch.float64)
    return torch.exp(log_mean + LV_NOISE * eps).float()


def lotka_volterra_log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
    """log p(x | theta) (m,) of one observation x (20,) for theta (m, 4)."""
    log_mean = _lv_log_means(theta.detach().numpy())
    x = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
    return torch.distributions.LogNormal(log_mean, LV_NOISE).log_prob(x).sum(-1).to(theta.dtype)
