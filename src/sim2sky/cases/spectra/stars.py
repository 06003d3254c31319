"""Stellar parameters from theory: an ATLAS9 emulator, mock observations and the low-resolution grid.

Theory: the Castelli & Kurucz (2004, arXiv:astro-ph/0405087) ATLAS9 model fluxes (3,808 models,
T_eff 3,500-50,000 K, log g 0-5, [M/H] -2.5..+0.5), the only synthetic library that installs
offline here (redrock's star templates carry no parameters). They are tabulated at 20 Å in
the optical (opacity-distribution fluxes: bin averages), so the parameter model works at that
resolution: every spectrum — theory or real — is bin-averaged onto the ATLAS9 wavelengths
between 3550 and 7410 Å (air), the MILES range.

The emulator is linear interpolation in log flux over a Delaunay triangulation of
(log T_eff, log g, [M/H]) — the grid is irregular (hot low-gravity models do not exist) —
and parameters outside the grid's convex hull are redrawn. Observational nuisances: dust
(E(B-V) 0-0.6, the MILES stars are reddened), a smooth flux-calibration error, noise, partial
coverage. Optional *continuum normalisation* divides every spectrum by a smooth pseudo-continuum
(upper envelope, then a low-order fit), which removes dust and calibration slopes from theory
and data alike: one of the two adaptations compared on MILES.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from ...infer.model_error import remove_smooth
from ..nebulae import ccm89_k
from .schema import STAR_GRID_MAX, STAR_GRID_MIN
from .templates import atlas9_grid

__all__ = ["star_wave", "StarObservation", "simulate_stars", "star_inputs", "continuum_normalise", "STAR_PRIOR",
           "emulate_atlas9", "theory_mismatch", "posterior_mismatch"]

#: Prior of the stellar-parameter model: T_eff [K] (log-uniform), log g [dex], [Fe/H] [dex].
STAR_PRIOR = {"TEFF": (3500.0, 30000.0), "LOGG": (0.0, 5.0), "FEH": (-2.5, 0.5)}


def star_wave() -> np.ndarray:
    """Bin centres (air Å) of the stellar-parameter grid: the ATLAS9 wavelengths in 3550-7410 Å."""
    w = atlas9_grid()["wave"]
    return w[(w >= STAR_GRID_MIN) & (w <= STAR_GRID_MAX)]


def _coords(params: np.ndarray) -> np.ndarray:
    """Scaled coordinates for interpolation: log T_eff x 10 (0.1 dex ~ 1 unit), log g, [M/H]."""
    p = np.atleast_2d(params)
    return np.stack([10 * np.log10(p[:, 0]), p[:, 1], p[:, 2]], 1)


@lru_cache(maxsize=1)
def _emulator():
    g = atlas9_grid()
    sel = (g["wave"] >= STAR_GRID_MIN) & (g["wave"] <= STAR_GRID_MAX)
    return LinearNDInterpolator(_coords(g["params"]), g["logflux"][:, sel])


def emulate_atlas9(params: np.ndarray) -> np.ndarray:
    """log10 F_λ (n, len(star_wave())) at parameters (n, 3) = (T_eff, log g, [M/H]); NaN outside the grid."""
    return _emulator()(_coords(params))


def _draw_parameters(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    out_p, out_f = [], []
    got = 0
    while got < n:
        m = 2 * (n - got) + 16
        teff = np.exp(rng.uniform(*np.log(STAR_PRIOR["TEFF"]), m))
        p = np.stack([teff, rng.uniform(*STAR_PRIOR["LOGG"], m), rng.uniform(*STAR_PRIOR["FEH"], m)], 1)
        f = emulate_atlas9(p)
        ok = np.isfinite(f).all(1)
        out_p.append(p[ok]), out_f.append(f[ok])
        got += int(ok.sum())
    return np.concatenate(out_p)[:n], np.concatenate(out_f)[:n]


class StarObservation:
    """Nuisances of an observed stellar spectrum on the low-resolution grid."""

    def __init__(self, ebv=(0.0, 0.6), snr=(20.0, 400.0), calibration: float = 0.05, coverage_probability: float = 0.2):
        self.ebv, self.snr, self.calibration, self.coverage_probability = ebv, snr, calibration, coverage_probability


def simulate_stars(n: int, seed: int = 0, obs: StarObservation = StarObservation(), model_error=None,
                   augment_noise: float = 0.0) -> dict:
    """``n`` mock stars: ``theta`` (n, 3) = T_eff [K], log g, [Fe/H]; ``flux``, ``ivar`` (n, L) on
    :func:`star_wave`; ``ebv``, ``snr``.

    ``model_error``: a :class:`~sim2sky.infer.model_error.ResidualErrorModel` in ln flux,
    conditioned on log T_eff; one draw multiplies every theory spectrum. ``augment_noise``:
    instead (or as well), independent ln-flux noise of this rms per pixel (plain augmentation,
    the comparison in the stars table).
    """
    rng = np.random.default_rng(seed)
    theta, logf = _draw_parameters(n, rng)
    wave = star_wave()
    flux = 10 ** (logf - logf.mean(1, keepdims=True))
    if model_error is not None:
        flux *= np.exp(model_error.sample(np.log10(theta[:, 0]), np.random.default_rng([seed, 1])))
    if augment_noise > 0:
        flux *= np.exp(augment_noise * np.random.default_rng([seed, 2]).standard_normal(flux.shape))
    ebv = rng.uniform(*obs.ebv, n)
    flux *= 10 ** (-0.4 * ccm89_k(wave)[None, :] * ebv[:, None])
    x = np.linspace(-1, 1, len(wave))
    poly = np.polynomial.legendre.legvander(x, 3)[:, 1:] @ rng.normal(0, obs.calibration / 1.5, (3, n))
    flux *= np.exp(poly.T)
    flux /= flux.mean(1, keepdims=True)
    snr = np.exp(rng.uniform(*np.log(obs.snr), n))
    sigma = np.sqrt(np.clip(flux, 1e-3, None)) / snr[:, None] * np.sqrt(np.mean(np.clip(flux, 1e-3, None), 1))[:, None]
    noisy = flux + rng.standard_normal(flux.shape) * sigma
    ivar = 1.0 / sigma**2
    for i in np.flatnonzero(rng.random(n) < obs.coverage_probability):
        cut = rng.integers(len(wave) // 10, len(wave) // 3)
        if rng.random() < 0.5:
            ivar[i, :cut] = 0
        else:
            ivar[i, -cut:] = 0
    return {"theta": theta, "flux": noisy.astype(np.float32), "ivar": ivar.astype(np.float32), "ebv": ebv, "snr": snr}


def continuum_normalise(flux: np.ndarray, ivar: np.ndarray, width: int = 15) -> np.ndarray:
    """Divide spectra (n, L) by a pseudo-continuum: a running maximum over ``width`` bins (the
    upper envelope, robust to absorption lines), smoothed; masked bins are interpolated first."""
    flux = np.array(flux, np.float64)
    good = ivar > 0
    for i in range(len(flux)):
        if good[i].sum() >= 2 and not good[i].all():
            idx = np.arange(flux.shape[1])
            flux[i, ~good[i]] = np.interp(idx[~good[i]], idx[good[i]], flux[i, good[i]])
    env = maximum_filter1d(flux, width, axis=1, mode="nearest")
    env = uniform_filter1d(env, 2 * width + 1, axis=1, mode="nearest")
    return flux / np.maximum(env, 1e-12)


def star_inputs(flux: np.ndarray, ivar: np.ndarray, normalise: str = "mean") -> np.ndarray:
    """Network inputs (n, 2, L): normalised flux and an S/N weight (0 where masked).

    ``normalise``: ``mean`` (divide by the mean flux: the SED shape is kept) or ``continuum``
    (divide by a pseudo-continuum: only line depths remain).
    """
    flux = np.asarray(flux, np.float64)
    ivar = np.asarray(ivar, np.float64)
    good = (ivar > 0) & np.isfinite(flux)
    if normalise == "continuum":
        f = continuum_normalise(np.where(good, flux, 0.0), np.where(good, ivar, 0.0))
        scale = np.ones(len(flux))
    elif normalise == "mean":
        f = flux
        scale = np.array([np.mean(flux[i, good[i]]) if good[i].any() else 1.0 for i in range(len(flux))])
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    else:
        raise ValueError(f"normalise must be 'mean' or 'continuum', got {normalise!r}")
    x = np.zeros((len(flux), 2, flux.shape[1]), np.float32)
    sig = np.where(good, 1 / np.sqrt(np.where(good, ivar, 1.0)), np.inf)
    x[:, 0] = np.where(good, f / scale[:, None], 0.0)
    x[:, 1] = np.where(good, np.minimum(scale[:, None] / sig, 500.0) / 500.0, 0.0)
    if normalise == "continuum":
        x[:, 1] = np.where(good, np.minimum(np.abs(flux) / np.where(good, sig, 1.0), 500.0) / 500.0, 0.0)
    return x


def theory_mismatch(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Posterior-predictive residual (n,): rms of ln(data / ATLAS9 at ``params``) over the measured
    bins of mean-normalised stellar-grid inputs ``x`` (n, 2, L), after a cubic Legendre term per
    star (dust, flux calibration) is removed. ``params`` (n, 3): T_eff [K], log g, [Fe/H].
    Inf where the parameters fall outside the ATLAS9 grid."""
    theory = emulate_atlas9(params)
    inside = np.isfinite(theory).all(1)
    f = 10 ** (np.where(inside[:, None], theory, 0.0) - np.where(inside[:, None], theory, 0.0).mean(1, keepdims=True))
    f /= f.mean(1, keepdims=True)
    good = x[:, 1] > 0
    r = remove_smooth(np.where(good, np.log(np.clip(x[:, 0], 1e-3, None) / f), 0.0), 3, good.astype(float))
    rms = np.sqrt((r**2 * good).sum(1) / np.maximum(good.sum(1), 1))
    return np.where(inside, rms, np.inf)


def posterior_mismatch(x: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """:func:`theory_mismatch` at the posterior median of ``draws`` (n, S, 3), model space."""
    p = np.median(draws, axis=1)
    p[:, 0] = 10 ** p[:, 0]
    return theory_mismatch(x, p)
