"""Truncated sequential NPE (TSNPE) for one observation.

Round 1 draws parameters from the prior; every later round draws them from the prior
truncated to the (1 - epsilon) highest-probability region of the current posterior at the
observation, simulates, and retrains the flow on all simulations so far with the ordinary NPE
loss. Because the proposal is the prior restricted to a region that holds all but epsilon of
the posterior mass, the posterior at ``x_obs`` stays unbiased without the atomic/APT loss
corrections of SNPE-C (Deistler, Goncalves & Macke 2022, arXiv:2210.04815).

The truncated prior is sampled exactly by rejection: for a box prior, uniform draws in the
box that bounds the posterior samples (widened by half its size, clipped to the prior box),
kept when ``log q(theta | x_obs)`` exceeds the threshold; for other priors, prior draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from .estimator import NPEConfig
from .npe import NPE
from .priors import BoxUniform, as_prior
from .train import TrainConfig

__all__ = ["TruncatedPrior", "TSNPE"]


@dataclass
class TruncatedPrior:
    """The prior restricted to ``{theta: log q(theta | x_obs) >= threshold}``.

    Attributes
    ----------
    acceptance : float
        Last rejection-sampling acceptance rate.
    volume_fraction : float
        Estimated prior mass of the region (box fraction x acceptance for box priors).
    """

    prior: object
    posterior: object
    x_obs: np.ndarray
    threshold: float
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None
    acceptance: float = 1.0
    volume_fraction: float = 1.0

    def _propose(self, n, generator):
        if self.low is None:
            return self.prior.sample(n, generator)
        u = torch.rand((n, len(self.low)), generator=generator)
        return self.low + u * (self.high - self.low)

    def inside(self, theta: torch.Tensor) -> torch.Tensor:
        x = np.repeat(self.x_obs[None], len(theta), axis=0)
        return torch.as_tensor(self.posterior.log_prob(theta.numpy(), x) >= self.threshold)

    def sample(self, n: int, generator: torch.Generator | None = None, max_draws: int = 50_000_000) -> torch.Tensor:
        """n parameters (n, d) from the truncated prior; InputError if acceptance is hopeless."""
        kept, drawn, got = [], 0, 0
        batch = max(4 * n, 10_000)
        while got < n:
            theta = self._propose(batch, generator)
            theta = theta[self.inside(theta)]
            kept.append(theta)
            got += len(theta)
            drawn += batch
            if drawn > max_draws:
                raise InputError(f"truncated prior: only {got} of {n} draws accepted out of {drawn}; "
                                 "increase epsilon or the simulations of the first round")
        self.acceptance = got / drawn
        box = 1.0 if self.low is None else float(((self.high - self.low) / (self.prior.high - self.prior.low)).prod())
        self.volume_fraction = box * self.acceptance
        return torch.cat(kept)[:n]


class TSNPE:
    """Truncated sequential NPE for one observation ``x_obs``.

    Parameters
    ----------
    prior : BoxUniform or Gaussian
    simulator : callable
        ``simulator(theta (n, d) tensor, generator) -> x (n, k)`` tensor or array (e.g.
        :meth:`sim2sky.cases.sbibm.Task.simulate`).
    rounds : int
    simulations_per_round : int or sequence of int
    epsilon : float
        Posterior mass left outside the truncation region (the paper's 1e-4).
    config, train_config : NPEConfig, TrainConfig
        As for :class:`~.npe.NPE` (every round retrains from scratch on all simulations).
    threshold_samples : int
        Posterior samples used to set the log-density threshold.

    Attributes
    ----------
    posterior_ : Posterior
    proposal_ : TruncatedPrior
        The last round's proposal (simulate from it for coverage checks of the final posterior).
    rounds_ : list of dict
        Per round: simulations so far, the acceptance and prior volume of the proposal that drew
        that round's parameters (1 for the prior), train seconds.
    theta_, x_ : ndarray
        All simulations.
    """

    def __init__(self, prior, simulator, rounds: int = 4, simulations_per_round=1000, epsilon: float = 1e-4,
                 config: NPEConfig = NPEConfig(), train_config: TrainConfig | None = None,
                 threshold_samples: int = 20_000, progress: bool = False):
        self.prior, self.simulator, self.rounds, self.simulations_per_round = prior, simulator, rounds, simulations_per_round
        self.epsilon, self.config, self.train_config = epsilon, config, train_config
        self.threshold_samples, self.progress = threshold_samples, progress

    def _budget(self, r):
        per = self.simulations_per_round
        return int(per[r]) if np.ndim(per) else int(per)

    def fit(self, x_obs, seed: int = 0) -> "TSNPE":
        """Run the rounds for observation ``x_obs`` (*x_shape)."""
        if self.rounds < 1 or not 0 < self.epsilon < 1:
            raise InputError(f"TSNPE: rounds must be >= 1 and 0 < epsilon < 1 (got {self.rounds}, {self.epsilon})")
        x_obs = np.asarray(x_obs, np.float32)
        prior = as_prior(self.prior)
        gen = torch.Generator().manual_seed(seed)
        tcfg = self.train_config or TrainConfig(seed=seed)
        proposal, thetas, xs, self.rounds_ = prior, [], [], []
        for r in range(self.rounds):
            theta = proposal.sample(self._budget(r), gen)
            record = {"round": r + 1, "acceptance": getattr(proposal, "acceptance", 1.0),
                      "prior_volume": getattr(proposal, "volume_fraction", 1.0)}
            x = np.asarray(self.simulator(theta, gen), np.float32)
            ok = np.isfinite(x.reshape(len(x), -1)).all(1)
            thetas.append(theta.numpy()[ok])
            xs.append(x[ok])
            t0 = time.time()
            npe = NPE(prior, self.config, tcfg, progress=self.progress).fit(np.concatenate(thetas),
                                                                                  np.concatenate(xs))
            post = npe.posterior_
            samples = post.sample(x_obs, self.threshold_samples, seed=seed + r)
            logq = post.log_prob(samples, np.repeat(x_obs[None], len(samples), axis=0))
            threshold = float(np.quantile(logq, self.epsilon))
            low = high = None
            if isinstance(prior, BoxUniform):
                lo, hi = torch.as_tensor(samples.min(0)), torch.as_tensor(samples.max(0))
                pad = 0.5 * (hi - lo)
                low, high = torch.maximum(lo - pad, prior.low), torch.minimum(hi + pad, prior.high)
            proposal = TruncatedPrior(prior, post, x_obs, threshold, low, high)
            record.update(simulations=int(sum(len(t) for t in thetas)), train_s=time.time() - t0)
            self.rounds_.append(record)
        self.posterior_, self.proposal_, self.estimator_ = post, proposal, npe.estimator_
        self.theta_, self.x_ = np.concatenate(thetas), np.concatenate(xs)
        return self
