"""Reference posteriors by importance resampling where the likelihood is known but sbibm's files are not here.

The proposal is a defensive mixture: 10% the prior, 90% a Gaussian mixture fitted to pooled
samples of the posteriors being compared, with its covariances inflated 4x. Because the prior
component covers the whole support, resampling by ``prior x likelihood / proposal`` is exact
in the limit whatever the fitted part looks like; the effective sample size says whether the
finite sample is good enough (Owen 2013, ch. 9: defensive importance sampling).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from ...core.errors import InputError

__all__ = ["importance_reference"]


def importance_reference(task, x_obs, pilot: np.ndarray, n: int = 10_000, draws: int = 200_000,
                         components: int = 8, iterations: int = 5, seed: int = 0) -> tuple[np.ndarray, float]:
    """``(samples (n, d), effective sample size of the last iteration)`` of the posterior at ``x_obs``.

    ``pilot`` (m, d): samples from approximate posteriors that shape the first proposal; each
    further iteration refits the proposal to the previous resampled set (population Monte
    Carlo, Cappé et al. 2004), which recovers from a poor pilot.
    """
    if task.log_likelihood is None:
        raise InputError(f"task {task.name!r} has no tractable likelihood for a reference posterior")
    for it in range(iterations):
        samples, ess = _one_pass(task, x_obs, pilot, n, draws, components, 4.0 if it == 0 else 2.0, seed + it)
        pilot = samples
    return samples, ess


def _one_pass(task, x_obs, pilot, n, draws, components, inflate, seed):

    rng = np.random.default_rng(seed)
    gmm = GaussianMixture(min(components, len(pilot) // 50 or 1), covariance_type="full", random_state=seed,
                          reg_covar=1e-5).fit(pilot)
    cov = gmm.covariances_ * inflate
    gmm.covariances_ = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    gmm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(gmm.covariances_))
    n_prior = draws // 10
    g = torch.Generator().manual_seed(seed)
    theta = np.concatenate([task.prior.sample(n_prior, g).numpy(), gmm.sample(draws - n_prior)[0]]).astype(np.float32)
    t = torch.as_tensor(theta)
    log_prior = task.prior.log_prob(t).numpy().astype(float)
    inside = np.isfinite(log_prior)
    log_q = np.logaddexp(np.log(0.1) + log_prior, np.log(0.9) + gmm.score_samples(theta))
    log_w = np.full(len(theta), -np.inf)
    with torch.no_grad():
        log_w[inside] = (log_prior[inside] + task.log_likelihood(t[inside], torch.as_tensor(x_obs).ravel()).numpy()
                         - log_q[inside])
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w ** 2))
    return theta[rng.choice(len(theta), n, p=w)], ess
