"""Theory for survey spectra, shipped in ``data/templates.npz`` (provenance in ``data/README.md``).

* stars: DESI redrock star templates (PCA bases + archetype coefficients, types B A F G K M WD);
  a star is an archetype (a row of coefficients) with its coefficients perturbed by 5%;
* quasars: redrock QSO eigenspectra (SDSS DR16Q, Brodzeller et al. 2023, arXiv:2305.10422);
  redrock ships no coefficient distribution, so coefficients are drawn around the mean
  spectrum with relative amplitudes 0.3, 0.15, 0.1 of the mean's norm (our assumption) and
  spectra with negative flux are redrawn;
* galaxy continua: BC03 (MPA-JHU set) and BPASS binary SSPs;
* stellar atmospheres for parameters: Castelli & Kurucz (2004) ATLAS9 fluxes;
* emission lines: wavelengths of the MAPPINGS grid lines of the nebula case.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from .grid import air_to_vacuum

__all__ = ["templates", "star_spectra", "qso_spectra", "ssp_library", "atlas9_grid", "sky_variance",
           "GALAXY_LINES_AIR", "galaxy_line_waves"]

#: Air wavelengths [Å] of the optical lines of the MAPPINGS grids (NebulaBayes line list), plus the
#: weak doublet members whose ratio atomic physics fixes.
GALAXY_LINES_AIR = {
    "OII3726": 3726.03, "OII3729": 3728.82, "NeIII3869": 3868.76, "HeI3889": 3888.65, "NeIII3967": 3967.47,
    "Hdelta": 4101.74, "Hgamma": 4340.47, "OIII4363": 4363.21, "HeI4472": 4471.48, "HeII4686": 4685.71,
    "ArIV4711": 4711.26, "ArIV4740": 4740.12, "Hbeta": 4861.33, "OIII4959": 4958.91, "OIII5007": 5006.84,
    "HeI5016": 5015.68, "NI5198": 5197.90, "NI5200": 5200.26, "NII5755": 5754.59, "HeI5876": 5875.62,
    "OI6300": 6300.30, "SIII6312": 6312.06, "OI6364": 6363.78, "HeII6560": 6560.10, "NII6548": 6548.05,
    "Halpha": 6562.80, "NII6583": 6583.45, "HeI6678": 6678.15, "SII6716": 6716.44, "SII6731": 6730.82,
    "HeI7065": 7065.19, "OII7320": 7319.99, "OII7330": 7329.66, "SIII9069": 9068.60, "SIII9531": 9530.60,
}


@lru_cache(maxsize=1)
def templates() -> dict:
    """All arrays of ``templates.npz`` (loaded once, read-only)."""
    with resources.files(__package__).joinpath("data").joinpath("templates.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    for v in out.values():
        v.flags.writeable = False
    return out


def galaxy_line_waves(names) -> np.ndarray:
    """Vacuum rest wavelengths [Å] of emission lines by name."""
    return air_to_vacuum(np.array([GALAXY_LINES_AIR[n] for n in names]))


def star_spectra(kind: str, n: int, rng, jitter: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rest-frame spectra of stellar type ``kind``: ``(wave (L,) vacuum Å, flux (n, L) >= 0)``."""
    t = templates()
    coeff = t[f"star_{kind}_coeff"][rng.integers(0, len(t[f"star_{kind}_coeff"]), n)].astype(np.float64)
    coeff = coeff * (1 + jitter * rng.standard_normal(coeff.shape))
    flux = coeff @ t[f"star_{kind}_basis"].astype(np.float64)
    return t["star_wave"], np.clip(flux, 0, None)


def qso_spectra(kind: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rest-frame quasar spectra from the LOZ or HIZ eigenspectra: ``(wave, flux (n, L))``."""
    t = templates()
    basis = t[f"qso_{kind}_basis"].astype(np.float64)
    wave = 10 ** t[f"qso_{kind}_loglam"]
    norms = np.linalg.norm(basis, axis=1)
    rel = np.array([0.3, 0.15, 0.1])[: len(basis) - 1] * norms[0] / norms[1:]
    out = np.empty((n, basis.shape[1]))
    todo = np.arange(n)
    for _ in range(20):
        c = np.concatenate([np.ones((len(todo), 1)), rng.standard_normal((len(todo), len(rel))) * rel], 1)
        f = c @ basis
        ok = (f < -0.02 * np.median(np.abs(f), axis=1, keepdims=True)).mean(1) < 0.01
        out[todo[ok]] = f[ok]
        todo = todo[~ok]
        if not len(todo):
            break
    out[todo] = basis[0]
    return wave, np.clip(out, 0, None)


def ssp_library() -> dict:
    """SSP spectra: ``wave`` (vacuum Å), ``flux`` (m, L) unit median (NaN outside each model's range),
    ``age_gyr``, ``z`` (metal mass fraction), ``library`` (0 BC03, 1 BPASS)."""
    t = templates()
    return {"wave": t["ssp_wave"], "flux": t["ssp_flux"], "age_gyr": t["ssp_age_gyr"], "z": t["ssp_z"],
            "library": t["ssp_library"]}


def atlas9_grid() -> dict:
    """ATLAS9 models: ``wave`` (371,) [Å, vacuum below 2000 Å, air above as distributed],
    ``params`` (3808, 3) Teff [K], log g, [M/H], ``logflux`` (3808, 371) log10 F_λ."""
    t = templates()
    return {"wave": t["atlas9_wave"], "params": t["atlas9_params"].astype(np.float64),
            "logflux": t["atlas9_logflux"].astype(np.float64)}


@lru_cache(maxsize=4)
def _sky_lines(seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    # the bright optical sky lines (vacuum) and a schematic OH Meinel forest that densifies and
    # brightens to the red (Osterbrock et al. 1996, PASP 108, 277; Hanuschik 2003, A&A 407, 1157):
    # positions are fixed pseudo-random draws, strengths follow the observed rise beyond 7000 Å
    rng = np.random.default_rng(seed)
    bright = np.array([5578.9, 5891.6, 5897.6, 6302.0, 6365.5, 6865.0])
    strength = np.array([12.0, 3.0, 3.0, 6.0, 2.0, 1.5])
    oh = np.sort(rng.uniform(6800, 10000, 220))
    oh_s = rng.lognormal(0, 0.8, len(oh)) * (1 + 3 * (oh - 6800) / 3200)
    return np.concatenate([bright, oh]), np.concatenate([strength, oh_s])


def sky_variance(wave: np.ndarray, resolution: float = 2500.0) -> np.ndarray:
    """A sky-like variance spectrum (relative units, median ~1) on ``wave`` (vacuum Å)."""
    wave = np.asarray(wave, float)
    cont = 0.6 + 0.8 * (wave / 6000.0) ** 1.5
    lines, strength = _sky_lines()
    sigma = lines / resolution / 2.355
    prof = strength[None, :] * np.exp(-0.5 * ((wave[:, None] - lines[None, :]) / np.maximum(sigma, 1.0)) ** 2)
    v = cont + prof.sum(1)
    return v / np.median(v)
