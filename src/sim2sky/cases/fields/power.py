"""Linear matter power spectra from the shipped CAMB table, growth factors and sigma(R).

``P(k; Omega_m, sigma_8) = sigma_8^2 P_1(k; Omega_m)``, with ``P_1`` tabulated by CAMB on a
grid of Omega_m (``data/linear_pk.npz``, built by ``tools/build_power_spectra.py``) and
interpolated in log P: no CAMB and no download at run time. k in h/Mpc, P in (Mpc/h)^3.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.integrate import quad

from ...core.errors import InputError

__all__ = ["linear_power", "growth_factor", "sigma_tophat", "tophat_window", "TABLE"]

TABLE = Path(__file__).with_name("data") / "linear_pk.npz"


@lru_cache(maxsize=1)
def _table():
    d = np.load(TABLE)
    return d["omega_m"], np.log(d["k"]), np.log(d["pk_sigma8_1"])


def linear_power(k, omega_m, sigma_8) -> np.ndarray:
    """Linear z = 0 matter power spectrum.

    Parameters
    ----------
    k : array (...,) [h/Mpc]
    omega_m, sigma_8 : array (B,) or float

    Returns
    -------
    array (B, ...) [(Mpc/h)^3] (the leading axis dropped for scalar parameters); k outside the
    table (1e-4 .. 300 h/Mpc) is extrapolated as a power law.
    """
    om_grid, logk_grid, logp = _table()
    omega_m = np.atleast_1d(np.asarray(omega_m, float))
    sigma_8 = np.broadcast_to(np.asarray(sigma_8, float), omega_m.shape)
    if (omega_m < om_grid[0]).any() or (omega_m > om_grid[-1]).any():
        raise InputError(f"omega_m must lie in [{om_grid[0]:.2f}, {om_grid[-1]:.2f}] (the shipped CAMB table)")
    k = np.asarray(k, float)
    pos = np.interp(omega_m, om_grid, np.arange(len(om_grid)))
    i0 = np.minimum(pos.astype(int), len(om_grid) - 2)
    w = (pos - i0)[:, None]
    rows = (1 - w) * logp[i0] + w * logp[i0 + 1]                       # (B, nk)
    logk = np.log(np.maximum(k, 1e-30)).ravel()
    out = np.empty((len(omega_m), logk.size))
    slope_lo = (rows[:, 1] - rows[:, 0]) / (logk_grid[1] - logk_grid[0])
    slope_hi = (rows[:, -1] - rows[:, -2]) / (logk_grid[-1] - logk_grid[-2])
    for b in range(len(omega_m)):
        out[b] = np.interp(logk, logk_grid, rows[b])
        lo, hi = logk < logk_grid[0], logk > logk_grid[-1]
        out[b, lo] = rows[b, 0] + slope_lo[b] * (logk[lo] - logk_grid[0])
        out[b, hi] = rows[b, -1] + slope_hi[b] * (logk[hi] - logk_grid[-1])
    p = np.exp(out).reshape(len(omega_m), *k.shape) * sigma_8.reshape(-1, *([1] * k.ndim)) ** 2
    p[:, k.reshape(k.shape) <= 0] = 0.0
    return p


def growth_factor(z: float, omega_m: float) -> float:
    """Linear growth D(z) / D(0) in flat LCDM (Heath 1977 integral)."""
    def hubble(a):
        return np.sqrt(omega_m / a**3 + 1.0 - omega_m)

    def d(a):
        return 2.5 * omega_m * hubble(a) * quad(lambda x: 1.0 / (x * hubble(x)) ** 3, 0.0, a)[0]

    return float(d(1.0 / (1.0 + z)) / d(1.0))


def tophat_window(x):
    """Fourier transform of a real-space spherical top-hat, W(kR) (-> 1 at small kR)."""
    x = np.asarray(x, float)
    small = x < 1e-3
    xs = np.where(small, 1.0, x)
    w = 3.0 * (np.sin(xs) - xs * np.cos(xs)) / xs**3
    return np.where(small, 1.0 - x**2 / 10.0, w)


def sigma_tophat(radius, omega_m: float, sigma_8: float) -> np.ndarray:
    """rms linear z = 0 overdensity in spheres of ``radius`` [Mpc/h] (array)."""
    _, logk_grid, _ = _table()
    k = np.exp(logk_grid)
    pk = linear_power(k, omega_m, sigma_8)[0]
    r = np.atleast_1d(np.asarray(radius, float))
    integrand = pk * k**3 * tophat_window(np.outer(r, k)) ** 2 / (2 * np.pi**2)
    return np.sqrt(np.trapezoid(integrand, logk_grid, axis=1)).reshape(np.shape(radius))
