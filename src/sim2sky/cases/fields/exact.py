"""The exact posterior of a Gaussian field's cosmological parameters: the reference for NPE.

A Gaussian field plus white noise has independent Fourier modes with variance
``S_k = P(|k|; theta) / V_cell + noise^2`` (grid units), so the exact log-likelihood is

    log L(theta) = -1/2 sum_k [ |F_k|^2 / (N S_k) + log S_k ]

over all N modes of the grid but k = 0 (F = FFT of the field; the mean is not modelled). Modes are grouped in shells of equal
integer |k|^2, so a 2-D grid of theta costs O(grid x shells). The posterior under the box
prior is evaluated on a coarse grid, then on a fine grid around its mass, and sampled with
uniform jitter inside cells.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .power import linear_power
from .forward import grid_wavenumbers

__all__ = ["gaussian_log_likelihood", "gaussian_posterior_samples"]


def _shells(field: np.ndarray, box: float):
    dim, size = field.ndim, field.shape[0]
    n = field.size
    power = np.abs(np.fft.fftn(field)) ** 2
    k = grid_wavenumbers(size, dim, box)
    k2 = np.round((k * box / (2 * np.pi)) ** 2).astype(np.int64).ravel()
    uniq, inv, counts = np.unique(k2, return_inverse=True, return_counts=True)
    q = np.bincount(inv, weights=power.ravel())
    return np.sqrt(uniq) * 2 * np.pi / box, q, counts, n


def gaussian_log_likelihood(field: np.ndarray, omega_m, sigma_8, box: float, depth: float = 20.0,
                            noise: float = 0.0) -> np.ndarray:
    """Exact log L for arrays ``omega_m``, ``sigma_8`` (same shape) of one field (size,)*dim."""
    dim, size = field.ndim, field.shape[0]
    kshell, q, counts, n = _shells(np.asarray(field, float), box)
    # the k = 0 mode (the field's mean) has no power in the model and carries no information on P(k): left
    # in, a float32 rounding of the mean alone made log L ~ -1e14 everywhere (found on powerbox fields)
    kshell, q, counts = kshell[1:], q[1:], counts[1:]
    om, s8 = np.broadcast_arrays(np.asarray(omega_m, float), np.asarray(sigma_8, float))
    flat_om, flat_s8 = om.ravel(), s8.ravel()
    cell = (box / size) ** dim
    out = np.empty(flat_om.size)
    uniq_om, idx = np.unique(flat_om, return_inverse=True)
    shape_p = linear_power(kshell, uniq_om, 1.0)                      # (U, shells) for sigma_8 = 1
    if dim == 2:
        shape_p = shape_p / depth
    for j in range(len(uniq_om)):
        sel = idx == j
        s = flat_s8[sel, None] ** 2 * shape_p[j][None] / cell + noise**2          # (m, shells)
        s = np.maximum(s, 1e-30)
        out[sel] = -0.5 * ((q / n) / s + counts * np.log(s)).sum(1)
    return out.reshape(om.shape)


def gaussian_posterior_samples(field: np.ndarray, num: int, low, high, box: float, depth: float = 20.0,
                               noise: float = 0.0, grid: int = 160, rng=None) -> np.ndarray:
    """``num`` exact posterior samples (num, 2) of (omega_m, sigma_8) under the box prior [low, high]."""
    rng = np.random.default_rng(rng)
    low, high = np.asarray(low, float), np.asarray(high, float)
    lo, hi = low.copy(), high.copy()
    for _ in range(2):                      # coarse grid, then a fine grid around the posterior mass
        a = np.linspace(lo[0], hi[0], grid + 1)
        b = np.linspace(lo[1], hi[1], grid + 1)
        ca, cb = 0.5 * (a[1:] + a[:-1]), 0.5 * (b[1:] + b[:-1])
        om, s8 = np.meshgrid(ca, cb, indexing="ij")
        logp = gaussian_log_likelihood(field, om, s8, box, depth, noise)
        p = np.exp(logp - logsumexp(logp))
        mass = np.argwhere(p > 1e-7 * p.max())
        i0, i1 = mass.min(0), mass.max(0)
        new_lo = np.array([a[max(i0[0] - 2, 0)], b[max(i0[1] - 2, 0)]])
        new_hi = np.array([a[min(i1[0] + 3, grid)], b[min(i1[1] + 3, grid)]])
        if np.allclose(new_lo, lo) and np.allclose(new_hi, hi):
            break
        lo, hi = np.maximum(new_lo, low), np.minimum(new_hi, high)
    cells = rng.choice(p.size, size=num, p=p.ravel())
    ia, ib = np.unravel_index(cells, p.shape)
    return np.stack([a[ia] + rng.random(num) * (a[1] - a[0]), b[ib] + rng.random(num) * (b[1] - b[0])], 1)
