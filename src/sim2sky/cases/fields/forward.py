"""Field simulators: Gaussian and log-normal density fields, 21-cm reionisation cubes, phase shuffles.

All are vectorised over a batch of parameter vectors, seeded, pure numpy. Conventions: a field
of ``size`` pixels per side in a periodic box of side ``box`` [Mpc/h]; Fourier modes use numpy's
unnormalised FFT and the estimator ``P(k) = |FFT(f)_k|^2 V / N^2`` (:func:`sim2sky.nn.fourier.power_spectrum`
with ``box``), so a Gaussian field drawn with P(k) measures P(k) back.

References: Coles & Jones 1991 (log-normal fields); Agrawal et al. 2017, arXiv:1706.09195
(xi_G = ln(1 + xi) on the grid); Furlanetto, Zaldarriaga & Hernquist 2004, arXiv:astro-ph/0403697
and Mesinger, Furlanetto & Cen 2011 (21cmFAST), arXiv:1003.3878 (excursion-set bubbles);
Barkana & Loeb 2001, arXiv:astro-ph/0010468 (virial temperature -> halo mass).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import erfc

from .power import growth_factor, linear_power, sigma_tophat, tophat_window
from .schema import PLANCK, REION_REDSHIFT

__all__ = ["observe_21cm", "grid_wavenumbers", "gaussian_fields", "lognormal_fields", "reion21cm_fields", "phase_randomize",
           "grid_power", "virial_mass", "CHUNK"]

CHUNK = 256          # fields per FFT batch (bounded memory)


def grid_wavenumbers(size: int, dim: int, box: float) -> np.ndarray:
    """|k| [h/Mpc] of every mode of the FFT grid (size,)*dim."""
    f = np.fft.fftfreq(size, d=box / size) * 2 * np.pi
    return np.sqrt(sum(a**2 for a in np.meshgrid(*([f] * dim), indexing="ij")))


def grid_power(theta: np.ndarray, size: int, dim: int, box: float, depth: float) -> np.ndarray:
    """Variance per Fourier mode, P(k) N / V_cell... as used by the generators: (B, *grid).

    Returns ``P(|k|) / V_cell`` where V_cell is the pixel area/volume; k = 0 is set to 0 (zero
    mean). 2-D maps are slabs of ``depth`` [Mpc/h] projected: ``P_2D(k) = P_3D(k) / depth``
    (valid for k >> 1/depth).
    """
    k = grid_wavenumbers(size, dim, box)
    p = linear_power(k, theta[:, 0], theta[:, 1])
    if dim == 2:
        p = p / depth
    p = p / (box / size) ** dim
    p[(slice(None),) + (0,) * dim] = 0.0
    return p


def _colour(white: np.ndarray, power: np.ndarray, dim: int) -> np.ndarray:
    axes = tuple(range(-dim, 0))
    return np.fft.ifftn(np.fft.fftn(white, axes=axes) * np.sqrt(power), axes=axes).real


def gaussian_fields(theta, size: int, dim: int, box: float, depth: float = 20.0, noise: float = 0.0,
                    rng=None) -> np.ndarray:
    """Gaussian density contrast with the linear P(k) of (omega_m, sigma_8) per row of theta.

    Returns float32 of shape ``(B, *(size,) * dim)``; ``noise`` adds white noise of that rms per pixel.
    """
    rng = np.random.default_rng(rng)
    theta = np.atleast_2d(np.asarray(theta, float))
    out = np.empty((len(theta),) + (size,) * dim, np.float32)
    for i in range(0, len(theta), CHUNK):
        t = theta[i:i + CHUNK]
        white = rng.standard_normal((len(t),) + (size,) * dim)
        out[i:i + CHUNK] = _colour(white, grid_power(t, size, dim, box, depth), dim)
        if noise > 0:
            out[i:i + CHUNK] += noise * rng.standard_normal(out[i:i + CHUNK].shape)
    return out


def lognormal_fields(theta, size: int, dim: int, box: float, depth: float = 20.0, noise: float = 0.0,
                     rng=None) -> np.ndarray:
    """Log-normal density contrast ``exp(g - var_g / 2) - 1`` whose P(k) is the linear one.

    The Gaussian field g gets ``P_G = FFT(ln(1 + xi))`` with ``xi = IFFT(P)`` on the grid. Negative
    P_G (no log-normal field with this P(k) exists on the grid) are set to 0, with a warning when they
    hold more than 0.01% of the power (powerbox refuses such fields).
    """
    rng = np.random.default_rng(rng)
    theta = np.atleast_2d(np.asarray(theta, float))
    axes = tuple(range(-dim, 0))
    n = size**dim
    out = np.empty((len(theta),) + (size,) * dim, np.float32)
    for i in range(0, len(theta), CHUNK):
        t = theta[i:i + CHUNK]
        power = grid_power(t, size, dim, box, depth)
        xi = np.fft.ifftn(power, axes=axes).real                       # correlation on the grid
        xi_g = np.log1p(np.maximum(xi, -0.999))
        power_g = np.fft.fftn(xi_g, axes=axes).real
        power_g[(slice(None),) + (0,) * dim] = 0.0
        flat = power_g.reshape(len(t), -1)
        negative = -np.clip(flat, None, 0.0).sum(1) / np.abs(flat).sum(1)
        if (negative > 1e-4).any():
            # no log-normal field has this P(k) on this grid (powerbox refuses it); zeroing the negative
            # modes returns a field whose P(k) is close to, but not, the requested one
            warnings.warn(f"lognormal_fields: for {(negative > 1e-4).sum()} parameter vector(s) the Gaussian power "
                          f"needed has negative modes holding up to {negative.max():.2%} of it (xi(0) up to "
                          f"{xi.reshape(len(t), -1)[:, 0].max():.2g}); they are set to zero, so P(k) is not exactly "
                          "the requested one", stacklevel=2)
        power_g = np.maximum(power_g, 0.0)
        var_g = power_g.reshape(len(t), n).sum(1) / n
        g = _colour(rng.standard_normal((len(t),) + (size,) * dim), power_g, dim)
        f = np.exp(g - 0.5 * var_g.reshape(-1, *([1] * dim))) - 1.0
        if noise > 0:
            f = f + noise * rng.standard_normal(f.shape)
        out[i:i + CHUNK] = f
    return out


def virial_mass(tvir, z: float, mu: float = 0.59, h: float = PLANCK["h"]) -> np.ndarray:
    """Halo mass [M_sun/h] of virial temperature ``tvir`` [K] at redshift z (Barkana & Loeb 2001, eq. 26)."""
    return 1e8 / h * (np.asarray(tvir) / 1.98e4) ** 1.5 * (mu / 0.6) ** -1.5 * ((1 + z) / 10.0) ** -1.5 * h


def reion21cm_fields(theta, size: int = 32, box: float = 128.0, noise_mk: float = 0.0, wedge: float | None = None,
                     z: float = REION_REDSHIFT, n_radii: int = 12, r_max: float = 40.0, rng=None,
                     return_xhi: bool = False):
    """21-cm brightness-temperature cubes [mK] from excursion-set reionisation, per (zeta, log10 T_vir).

    A linear density field at z (Planck cosmology) is smoothed with top-hats from ``r_max`` down to
    the cell size; a cell is ionised when ``zeta * f_coll(R) >= 1`` at any R, with the extended
    Press-Schechter ``f_coll = erfc((delta_c - delta_R) / sqrt(2 (sigma_min^2 - sigma_R^2)))``
    and sigma_min that of the halo mass with virial temperature T_vir; cells left neutral are
    partially ionised by ``zeta f_coll`` at the cell scale. Then
    ``dT_b = 27 mK x_HI (1 + delta) sqrt((1+z)/10 * 0.15/(Omega_m h^2)) (Omega_b h^2/0.023)``.

    Parameters
    ----------
    theta : array (B, 2): zeta, log10 T_vir [K]
    size, box : cube of size^3 cells, side ``box`` [Mpc/h]; axis 0 is the line of sight (frequency)
    noise_mk : white thermal noise rms per voxel [mK] (SKA-Low 1000 h at these scales: a few mK)
    wedge : foreground avoidance: remove modes with ``|k_par| < wedge * |k_perp| + 0.05`` h/Mpc
        (e.g. 1.0); None keeps all modes
    return_xhi : also return the neutral fraction cubes

    Returns
    -------
    float32 (B, size, size, size) [mK] (and x_HI of the same shape)
    """
    rng = np.random.default_rng(rng)
    theta = np.atleast_2d(np.asarray(theta, float))
    om, s8, h = PLANCK["omega_m"], PLANCK["sigma_8"], PLANCK["h"]
    growth = growth_factor(z, om)
    cell = box / size
    radii = np.geomspace(r_max, cell, n_radii)
    sigma_r = sigma_tophat(radii, om, s8) * growth
    rho_m = 2.775e11 * om                                           # (M_sun/h) / (Mpc/h)^3
    m_min = virial_mass(10 ** theta[:, 1], z)
    sigma_min = sigma_tophat((3 * m_min / (4 * np.pi * rho_m)) ** (1 / 3), om, s8) * growth
    k = grid_wavenumbers(size, 3, box)
    axes = (-3, -2, -1)
    t21 = 27.0 * np.sqrt((1 + z) / 10 * 0.15 / (om * h**2)) * (PLANCK["ombh2"] / 0.023)
    power = grid_power(np.array([[om, s8]]), size, 3, box, 1.0)[0] * growth**2     # fixed cosmology
    out = np.empty((len(theta), size, size, size), np.float32)
    xhi_out = np.empty_like(out) if return_xhi else None
    for i in range(0, len(theta), CHUNK):
        sl = slice(i, i + CHUNK)
        zeta, smin = theta[sl, 0].reshape(-1, 1, 1, 1), sigma_min[sl].reshape(-1, 1, 1, 1)
        dk = np.fft.fftn(rng.standard_normal((len(zeta), size, size, size)), axes=axes) * np.sqrt(power)
        delta = np.fft.ifftn(dk, axes=axes).real
        ionised = np.zeros(delta.shape, bool)
        for r, sr in zip(radii, sigma_r):
            delta_r = delta if r <= cell else np.fft.ifftn(dk * tophat_window(k * r), axes=axes).real
            var = np.maximum(smin**2 - sr**2, 1e-6)
            f_coll = erfc((1.686 - delta_r) / np.sqrt(2 * var))
            ionised |= zeta * f_coll >= 1.0
        x_hi = np.where(ionised, 0.0, 1.0 - np.minimum(zeta * f_coll, 1.0))    # f_coll at the cell scale
        out[sl] = observe_21cm(t21 * x_hi * (1.0 + np.maximum(delta, -0.99)), box, noise_mk, wedge, rng)
        if return_xhi:
            xhi_out[sl] = x_hi
    return (out, xhi_out) if return_xhi else out


def observe_21cm(tb: np.ndarray, box: float, noise_mk: float = 0.0, wedge: float | None = None,
                 rng=None) -> np.ndarray:
    """The observation model of every 21-cm simulator here: foreground wedge removed, then thermal noise.

    Parameters
    ----------
    tb : array (B, n, n, n) [mK], axis 1 the line of sight
    box : side [Mpc/h]
    noise_mk : white noise rms per voxel [mK]
    wedge : slope of the removed wedge ``|k_par| < wedge |k_perp| + 0.05`` h/Mpc; None keeps all modes
    rng : numpy Generator or seed

    Returns
    -------
    array of tb's shape [mK]
    """
    if wedge is not None:
        tb = _avoid_wedge(tb, box, wedge)
    if noise_mk > 0:
        tb = tb + noise_mk * np.random.default_rng(rng).standard_normal(tb.shape)
    return tb


def _avoid_wedge(cubes: np.ndarray, box: float, slope: float, buffer: float = 0.05) -> np.ndarray:
    size = cubes.shape[-1]
    f = np.fft.fftfreq(size, d=box / size) * 2 * np.pi
    kpar, kx, ky = np.meshgrid(f, f, f, indexing="ij")
    keep = np.abs(kpar) >= slope * np.sqrt(kx**2 + ky**2) + buffer
    return np.fft.ifftn(np.fft.fftn(cubes, axes=(-3, -2, -1)) * keep, axes=(-3, -2, -1)).real


def phase_randomize(fields: np.ndarray, dim: int, rng=None) -> np.ndarray:
    """Copies with the same Fourier amplitudes (so exactly the same P(k)) and random phases.

    The morphology (bubbles, filaments, peaks) is destroyed; the power spectrum is untouched:
    the pair of fields that shows what P(k) misses.
    """
    rng = np.random.default_rng(rng)
    fields = np.asarray(fields)
    axes = tuple(range(-dim, 0))
    out = np.empty(fields.shape, np.float32)
    for i in range(0, len(fields), CHUNK):
        f = fields[i:i + CHUNK]
        phase = np.fft.fftn(rng.standard_normal(f.shape), axes=axes)
        phase /= np.maximum(np.abs(phase), 1e-30)
        phase[(slice(None),) + (0,) * dim] = 1.0                   # keep the mean
        out[i:i + CHUNK] = np.fft.ifftn(np.fft.fftn(f, axes=axes) * phase, axes=axes).real
    return out
