"""Observational effects: theory line fluxes -> MUSE-like spectra with real noise.

The same rendering serves the training sets (chunks of spectra) and the mock cubes. Line
fluxes are then *measured* from these spectra with :func:`sim2sky.cases.nebulae.measure.measure_lines`,
the code the cube pipeline runs, so a classifier sees the measurement errors real data has.

Noise: variance spectra of 64 random spaxels of the STAT extension of the real MUSE cube of
Abell 478 (shipped in ``mpdaf``, BSD; ``muse_noise.npz``, log10 variance as float16), rescaled so
that each spectrum has the requested S/N(Hα) and optionally tilted in wavelength.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erf

from .lines import C_KMS, LINE_WAVES, ccm89_k, data_file, line_index, muse_lsf_fwhm

__all__ = ["ObservationModel", "noise_library", "render_spectra", "render_lines", "gaussian_lines"]

_HA = line_index("HA6563")
_HB = line_index("HB4861")


@lru_cache(maxsize=1)
def noise_library() -> tuple[np.ndarray, np.ndarray]:
    """``(wave (3681,) [Angstrom], variance (64, 3681))`` from the real MUSE STAT extension."""
    with data_file("muse_noise.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        wave, var = np.asarray(data["wave"], float), 10 ** np.asarray(data["log10_var"], np.float32)
    wave.flags.writeable = var.flags.writeable = False      # cached: shared by every caller
    return wave, var


@dataclass(frozen=True)
class ObservationModel:
    """How a nebula is observed. Ranges are sampled uniformly (S/N and EW log-uniformly).

    Attributes
    ----------
    r_v : float
        R_V of the Cardelli et al. (1989) extinction law.
    ebv : (low, high)
        E(B-V) range [mag].
    lsf_scale : float
        Multiplies the MUSE LSF FWHM (Bacon et al. 2017); a domain-shift knob.
    sn_halpha : (low, high)
        S/N of the Hα flux for an optimal (matched-filter) measurement.
    velocity_kms : (low, high)
        Local line-of-sight velocity relative to the systemic redshift [km/s].
    dig_probability, dig_fraction : float, (low, high)
        Probability that DIG lies along the line of sight, and its share of the Hα flux (up to
        ~1/3 in HII-region apertures of nearby spirals; Belfiore et al. 2022, arXiv:2111.14876).
    balmer_absorption_ew : (low, high)
        Stellar Balmer absorption equivalent width under Hα and Hβ [Angstrom].
    noise_tilt : float
        Noise sigma multiplied by (λ / 7000 Å)^noise_tilt; a domain-shift knob.
    """

    r_v: float = 3.1
    ebv: tuple[float, float] = (0.0, 0.8)
    lsf_scale: float = 1.0
    sn_halpha: tuple[float, float] = (3.0, 300.0)
    velocity_kms: tuple[float, float] = (-250.0, 250.0)
    dig_probability: float = 0.5
    dig_fraction: tuple[float, float] = (0.0, 0.35)
    balmer_absorption_ew: tuple[float, float] = (0.0, 3.0)
    noise_tilt: float = 0.0


def gaussian_lines(wave, centers, sigmas, fluxes, out) -> np.ndarray:
    """Add pixel-integrated Gaussians to ``out`` (n, L) in place, touching only nearby channels.

    centers, sigmas, fluxes : (n, m) [Angstrom, Angstrom, flux]; ``wave`` (L,) uniform grid.
    """
    step = wave[1] - wave[0]
    for j in range(centers.shape[1]):
        c, s, f = centers[:, j], sigmas[:, j], fluxes[:, j]
        lo = np.searchsorted(wave, np.min(c - 6 * s)) - 1
        hi = np.searchsorted(wave, np.max(c + 6 * s)) + 1
        lo, hi = max(lo, 0), min(hi, len(wave))
        if hi <= lo:
            continue
        edges = wave[lo:hi] - step / 2
        a = (edges[None, :] - c[:, None]) / (np.sqrt(2) * s[:, None])
        b = (edges[None, :] + step - c[:, None]) / (np.sqrt(2) * s[:, None])
        out[:, lo:hi] += (0.5 * (erf(b) - erf(a)) * f[:, None] / step).astype(out.dtype)
    return out


def render_lines(wave, observed, velocity, sigma_kms, continuum, slope, absorption_ew, z=0.0, lsf_scale=1.0):
    """Noiseless spectra (n, L) float32 of observed line fluxes on a power-law continuum.

    observed : (n, 15) line fluxes; velocity, sigma_kms : (n,) [km/s]; continuum : (n,) flux
    density at Hα; slope : (n,) power-law index; absorption_ew : (n,) Balmer absorption EW [Å].
    Returns ``(spectra, centers, sigmas)`` with line centers and widths in Angstrom.
    """
    n = len(observed)
    centers = LINE_WAVES[None, :] * (1 + z) * (1 + np.asarray(velocity)[:, None] / C_KMS)
    lsf_sigma = lsf_scale * muse_lsf_fwhm(centers) / 2.3548
    sigmas = np.sqrt((centers * np.asarray(sigma_kms)[:, None] / C_KMS) ** 2 + lsf_sigma**2)
    spec = (continuum[:, None] * (wave[None, :] / (6563 * (1 + z))) ** slope[:, None]).astype(np.float32)
    absorption = absorption_ew * continuum
    gaussian_lines(wave, centers[:, [_HB, _HA]], np.full((n, 2), 8.0), -np.stack([absorption] * 2, 1), spec)
    gaussian_lines(wave, centers, sigmas, observed, spec)
    return spec, centers, sigmas


def render_spectra(fluxes, sigma_kms, ew_halpha, obs: ObservationModel, rng, z: float = 0.0,
                   dig_fluxes=None, sn_halpha=None, wave=None, noise_var=None):
    """Render intrinsic line fluxes into noisy MUSE-like spectra.

    Parameters
    ----------
    fluxes : (n, 15) intrinsic fluxes relative to Hβ (from a :class:`NebulaModel`).
    sigma_kms : (n,) intrinsic velocity dispersion [km/s].
    ew_halpha : (n,) Hα emission equivalent width [Angstrom] (sets the continuum level).
    obs : ObservationModel
    z : float
        Systemic redshift.
    dig_fluxes : (n, 15), optional
        DIG spectra to mix in (with probability ``obs.dig_probability``).
    sn_halpha : (n,), optional
        Requested S/N(Hα); drawn from ``obs.sn_halpha`` when None. ``inf`` gives no noise.

    Returns
    -------
    dict with ``flux`` and ``var`` (n, L) float32 [units of the Hα flux per Angstrom],
    ``wave`` (L,), and the truth: ``ebv``, ``velocity``, ``sn_halpha``, ``dig_fraction``,
    ``line_flux`` (n, 15) observed (reddened) fluxes.
    """
    fluxes = np.asarray(fluxes, float)
    n = len(fluxes)
    if wave is None or noise_var is None:
        wave, noise_var = noise_library()
    ebv = rng.uniform(*obs.ebv, n)
    dig_frac = np.where(rng.random(n) < obs.dig_probability, rng.uniform(*obs.dig_fraction, n), 0.0)
    total = fluxes.copy()
    if dig_fluxes is not None:
        scale = dig_frac / np.maximum(1 - dig_frac, 1e-3) * fluxes[:, _HA] / dig_fluxes[:, _HA]
        total += scale[:, None] * dig_fluxes
    att = 10 ** (-0.4 * ccm89_k(LINE_WAVES, obs.r_v)[None, :] * ebv[:, None])
    observed = total * att
    observed /= observed[:, _HA:_HA + 1]           # Hα flux = 1
    velocity = rng.uniform(*obs.velocity_kms, n)
    continuum = 1.0 / np.asarray(ew_halpha, float)              # per Angstrom, at Hα
    spec, centers, sigmas = render_lines(wave, observed, velocity, sigma_kms, continuum, rng.uniform(-1.5, 0.5, n),
                                         rng.uniform(*obs.balmer_absorption_ew, n), z=z, lsf_scale=obs.lsf_scale)

    pick = rng.integers(0, len(noise_var), n)
    var = noise_var[pick].astype(np.float64)
    if obs.noise_tilt:
        var = var * (wave[None, :] / 7000.0) ** (2 * obs.noise_tilt)
    sn = 10 ** rng.uniform(*np.log10(obs.sn_halpha), n) if sn_halpha is None else np.broadcast_to(sn_halpha, (n,)).astype(float)
    # matched-filter error of the Hα flux for unit noise scale, then rescale the noise to hit S/N
    profile = np.zeros((n, len(wave)))
    gaussian_lines(wave, centers[:, [_HA]], sigmas[:, [_HA]], np.ones((n, 1)), profile)
    sigma_f = 1.0 / np.sqrt(np.sum(profile**2 / var, axis=1))
    scale = np.where(np.isfinite(sn), (1.0 / sn) ** 2 / sigma_f**2, 0.0)
    var *= scale[:, None]
    spec += (rng.standard_normal(spec.shape) * np.sqrt(var)).astype(np.float32)
    return {"flux": spec, "var": np.maximum(var, 1e-30).astype(np.float32), "wave": wave, "ebv": ebv,
            "velocity": velocity, "sn_halpha": sn, "dig_fraction": dig_frac, "line_flux": observed}
