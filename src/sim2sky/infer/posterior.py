"""Posterior object: sampling, densities and summaries for one or many observations.

Amortised sampling over many observations runs in chunks of observations under
``torch.inference_mode`` so memory is bounded by ``max_rows`` samples in flight, whatever the
number of observations.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.special import ndtri

from ..core.errors import InputError
from ..core.progress import progress as progress_bar
from ..nn.device import cache_rows, placed

__all__ = ["Posterior"]


class Posterior:
    """Posterior ``q(theta | x)`` of a trained :class:`~sim2sky.infer.npe.NPEEstimator`.

    Parameters
    ----------
    estimator : NPEEstimator
    prior : BoxUniform or Gaussian, optional
    theta_names, x_names : list of str, optional
    theta_units : list of str, optional
    x_range : (array (k,), array (k,)), optional
        Training range of each feature, used to flag observations outside it.
    """

    def __init__(self, estimator, prior=None, theta_names=None, x_names=None, theta_units=None, x_range=None):
        self.estimator = estimator.eval()
        self.prior = prior
        d, k = estimator.theta_dim, estimator.x_dim
        self.theta_names = list(theta_names or [f"theta_{i}" for i in range(d)])
        self.x_names = list(x_names or [f"x_{i}" for i in range(k)])
        self.theta_units = list(theta_units or [""] * d)
        self.provenance: dict = {}
        self.x_range = None if x_range is None else (np.asarray(x_range[0], np.float32), np.asarray(x_range[1], np.float32))

    # ------------------------------------------------------------------ validation
    def check_x(self, x, allow_out_of_range: bool = False) -> np.ndarray:
        """Validate observations: shape (m, *x_shape), finite, inside the training range."""
        x = np.asarray(x, dtype=np.float32)
        shape = tuple(self.estimator.x_shape)
        if x.shape == shape:
            x = x[None]
        if x.shape[1:] != shape:
            what = f"the model's features {self.x_names}" if len(shape) == 1 and len(self.x_names) < 50 else "the model"
            raise InputError(f"observations must have shape (m, {', '.join(map(str, shape))}) to match {what}; got {x.shape}")
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(1)
        if bad.any():
            raise InputError(f"{bad.sum()} observation rows contain NaN or inf (first rows: {np.flatnonzero(bad)[:5].tolist()})")
        logged = self.estimator.x_log.numpy()
        if logged.any() and (x[:, logged] <= 0).any():
            rows, cols = np.nonzero(x[:, logged] <= 0)
            name = np.asarray(self.x_names)[logged][cols[0]]
            raise InputError(f"{len(set(rows.tolist()))} observations have a feature <= 0 that was positive in all "
                             f"training simulations and is modelled as its log (first row {rows[0]}: {name}); "
                             "check the units, or train with NPEConfig(x_log='none')")
        if self.x_range is not None and not allow_out_of_range:
            lo, hi = self.x_range
            span = hi - lo
            outside = (x < lo - 0.05 * span) | (x > hi + 0.05 * span)
            if outside.any():
                rows, cols = np.nonzero(outside)
                feats = sorted({self.x_names[c] for c in cols})
                raise InputError(
                    f"{len(set(rows.tolist()))} observations lie outside the training range of feature(s) "
                    f"{feats} (first row {rows[0]}: {self.x_names[cols[0]]}={x[rows[0], cols[0]]:.4g}, trained on "
                    f"[{lo[cols[0]]:.4g}, {hi[cols[0]]:.4g}]); the posterior would be an extrapolation. "
                    "Simulate a wider training set, or allow it explicitly (--allow-out-of-range)"
                )
        return x

    # ------------------------------------------------------------------ sampling
    @torch.inference_mode()
    def sample(self, x, num_samples: int, seed: int | None = None) -> np.ndarray:
        """Samples for one observation ``x`` (*x_shape): array (num_samples, d)."""
        x = np.asarray(x, np.float32).reshape(1, *self.estimator.x_shape)
        return self.sample_batched(x, num_samples, seed=seed)[0]

    @torch.inference_mode()
    def sample_batched(self, x, num_samples: int, seed: int | None = None, max_rows: int = 1 << 14,
                       progress: bool = False, out: np.ndarray | None = None,
                       generator: torch.Generator | None = None) -> np.ndarray:
        """Samples for each of m observations: array (m, num_samples, d).

        Observations are processed in chunks so that at most ``max_rows`` samples are in flight.
        ``generator`` draws the base noise from a private RNG instead of torch's global one, so
        concurrent threads sampling with their own generators stay reproducible.
        """
        x = self.check_x(x, allow_out_of_range=True)
        m, d = x.shape[0], self.estimator.theta_dim
        if out is None:
            out = np.empty((m, num_samples, d), dtype=np.float32)
        if seed is not None:
            torch.manual_seed(seed)
        estimator, dev = placed(self, self.estimator)     # sim2sky --device
        # rows per pass from max_rows only: the draws of a row depend on the chunking
        chunk = max(1, max_rows // max(num_samples, 1))
        with progress_bar(m, "sampling", progress) as bar:
            for i in range(0, m, chunk):
                xs = torch.from_numpy(x[i : i + chunk]).to(dev)
                s = estimator.sample(xs, num_samples, generator)    # (n, c, d)
                out[i : i + chunk] = s.transpose(0, 1).cpu().numpy()
                bar.advance(len(xs))
        return out

    @property
    def base_points(self) -> bool:
        """Whether :meth:`at_base` applies: one flow without a rejection box (any number of parameters)."""
        e = self.estimator
        return hasattr(e, "at_base") and not getattr(e, "rejection_box", False)

    @property
    def exact_quantiles(self) -> bool:
        """Whether :meth:`quantiles` applies (one parameter, one flow, no rejection box)."""
        return self.base_points and self.estimator.theta_dim == 1

    def _base_passes(self, x, z, max_rows: int):
        """(rows, theta (k, rows, d) tensor) at base points ``z`` (k,) or (k, d), observations in
        cache-sized chunks of at most ``max_rows // k``."""
        if not self.base_points:
            raise InputError("points of the base space need a posterior of one flow without a rejection box")
        x = self.check_x(x, allow_out_of_range=True)
        z = torch.as_tensor(np.asarray(z, np.float64).reshape(-1, self.estimator.theta_dim), dtype=torch.float32)
        estimator, dev = placed(self, self.estimator)     # sim2sky --device
        chunk = max(1, max_rows // max(len(z), 1))
        if len(x):           # the embedding network in cache-sized passes (nn.cache_rows)
            chunk = min(chunk, _cache_rows(self.estimator, x.shape[1:], chunk, dev))
        for i in range(0, len(x), chunk):
            xs = torch.from_numpy(x[i : i + chunk]).to(dev)
            yield slice(i, i + len(xs)), estimator.at_base(xs, z.to(dev)).cpu()

    @torch.inference_mode()
    def at_base(self, x, z, max_rows: int = 1 << 16) -> np.ndarray:
        """theta at base-space points ``z`` (k, d), or (k,) for one parameter, for observations
        x (m, *x_shape): array (m, k, d) (:meth:`NPEEstimator.at_base`)."""
        out = np.empty((len(x), len(z), self.estimator.theta_dim), np.float32)
        for rows, theta in self._base_passes(x, z, max_rows):
            out[rows] = theta.transpose(0, 1).numpy()
        return out

    @torch.inference_mode()
    def moments(self, x, n: int, seed: int = 0, max_rows: int = 1 << 13) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation, arrays (m, d), of observations x (m, *x_shape).

        Randomised quasi-Monte Carlo where the flow allows (:attr:`base_points`): the same ``n``
        points of a scrambled Sobol sequence (Owen 1995; torch's ``SobolEngine`` scrambled with
        ``seed``; n a power of two) mapped to the base Gaussian and through the flow, reduced per
        chunk (no (m, n, d) array). Otherwise ``n`` draws from a private generator. ``max_rows``
        points per pass: 2^13 keeps a pass in cache (16 points of the HII posterior, one thread:
        33 us per observation at 2^13, 42 us at 2^16).

        Why: on the 2,000 HII spaxels of a mock MUSE cube (the 4-parameter HII posterior, against
        8,192 draws), 16 Sobol points gave the mean to 0.026-0.037 sigma and the std to 4.4-4.7%
        (medians over spaxels), 32 random draws to 0.120 sigma and 8.8-9.0%, at 2.3x the cost
        (``benchmarks/posterior_points.py``, ``results_posterior_points.json``).
        """
        d = self.estimator.theta_dim
        if not self.base_points:
            s = self.sample_batched(x, n, generator=torch.Generator().manual_seed(seed), max_rows=max_rows)
            return s.mean(1), s.std(1)
        u = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed).draw(n, dtype=torch.float64).numpy()
        z = ndtri(np.clip(u, 0.5 / 2**30, 1 - 0.5 / 2**30))
        mean, std = np.empty((len(x), d), np.float32), np.empty((len(x), d), np.float32)
        for rows, theta in self._base_passes(x, z, max_rows):
            mean[rows], std[rows] = theta.mean(0).numpy(), theta.std(0, correction=0).numpy()
        return mean, std

    def quantiles(self, x, probs: Sequence[float], max_rows: int = 1 << 16) -> np.ndarray:
        """Exact posterior quantiles at ``probs`` (k,) in (0, 1) of a one-parameter posterior for
        observations x (m, *x_shape): array (m, k, 1). No draws: the inverse flow at the base
        Gaussian's quantiles (:meth:`at_base`)."""
        p = np.asarray(probs, np.float64).ravel()
        if not ((p > 0) & (p < 1)).all():
            raise InputError(f"probs: expected values in (0, 1), got {p.tolist()}")
        if not self.exact_quantiles:
            raise InputError("exact quantiles need a one-parameter posterior of one flow without a rejection box")
        return self.at_base(x, ndtri(p), max_rows)

    @torch.inference_mode()
    def embed(self, x, batch: int = 8192) -> np.ndarray:
        """The flow's context for observations x (m, *x_shape): array (m, e), the embedding the
        misspecification score (:class:`~sim2sky.learn.trust.TrustScore`) works in; for an
        ensemble, all members' embeddings side by side."""
        x = self.check_x(x, allow_out_of_range=True)
        members = getattr(self.estimator, "members", [self.estimator])
        batch = _cache_rows(self.estimator, x.shape[1:], batch, torch.device("cpu")) if len(x) else batch
        return np.concatenate([np.concatenate([m.embed(torch.from_numpy(x[i:i + batch])).numpy() for m in members], 1)
                               for i in range(0, len(x), batch)]) if len(x) else np.zeros((0, 0), np.float32)

    @torch.inference_mode()
    def log_prob(self, theta, x) -> np.ndarray:
        """log q(theta | x); theta (..., d) broadcast against x (..., k)."""
        t = torch.as_tensor(np.asarray(theta, np.float32))
        xx = torch.as_tensor(np.asarray(x, np.float32))
        return self.estimator(xx).log_prob(t).numpy()

    # ------------------------------------------------------------------ summaries
    def summarize(self, samples: np.ndarray, quantiles: Sequence[float] = (0.16, 0.5, 0.84)) -> dict:
        """Mean, std and quantiles over the sample axis of samples (m, n, d) -> dict of (m, d)."""
        out = {"mean": samples.mean(1), "std": samples.std(1, ddof=1)}
        qs = np.quantile(samples, quantiles, axis=1)
        for q, v in zip(quantiles, qs):
            out[f"q{int(round(100 * q)):02d}"] = v
        return out

    def credible_interval(self, samples: np.ndarray, level: float = 0.68) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed interval containing ``level`` of the mass, per parameter."""
        a = (1 - level) / 2
        lo, hi = np.quantile(samples, [a, 1 - a], axis=-2)
        return lo, hi

    def map(self, x, num_samples: int = 2000, steps: int = 100, seed: int = 0) -> np.ndarray:
        """Maximum a posteriori estimate for one observation (d,).

        Starts from the most probable of ``num_samples`` draws and climbs log q by Adam in
        unbounded space (so a box or positive prior is respected).
        """
        x = torch.as_tensor(self.check_x(x, allow_out_of_range=True)[0])
        s = torch.as_tensor(self.sample(x.numpy(), num_samples, seed=seed))
        with torch.no_grad():
            lp = self.estimator(x).log_prob(s)
        start = s[lp.argmax()]
        support = self.estimator.support_transform
        u = (support()(start) if support is not None else start).clone().requires_grad_(True)
        opt = torch.optim.Adam([u], lr=1e-2)
        for _ in range(steps):
            theta = support().inv(u) if support is not None else u
            loss = -self.estimator(x).log_prob(theta)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return (support().inv(u) if support is not None else u).numpy()


def _cache_rows(estimator, row_shape, upper: int, device) -> int:
    """Rows per pass such that every member's embedding network runs in cache (:func:`~sim2sky.nn.cache_rows`)."""
    return min(cache_rows(m, m.embed, row_shape, upper, device) for m in getattr(estimator, "members", [estimator]))
