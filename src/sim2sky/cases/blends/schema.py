"""Vocabulary of the deblending case: survey image settings, galaxy population, catalogue columns.

An LSST/Euclid-like ground-based i band: 0.2" pixels, a Moffat PSF of 0.7" FWHM, sky-limited
noise; galaxies are Sersic profiles with magnitude-dependent sizes. Declared once; the
simulator, the deblender, the CLI and the benchmark read it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Survey", "SURVEY", "POPULATION", "STAMP", "CATALOGUE_COLUMNS", "SERSIC_N"]


@dataclass(frozen=True)
class Survey:
    """Image settings: pixel [arcsec], Moffat PSF (FWHM [arcsec], beta), zero point, sky noise [counts/pixel]."""

    pixel_arcsec: float = 0.2
    psf_fwhm_arcsec: float = 0.7
    psf_beta: float = 3.5
    zero_point: float = 31.0          # magnitude of one count
    noise: float = 10.0               # rms counts per pixel (background-subtracted sky)

    def flux(self, mag):
        return 10 ** (-0.4 * (mag - self.zero_point))


SURVEY = Survey()

#: Sersic indices are drawn from this set (galsim caches one profile table per index).
SERSIC_N = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)

POPULATION = {
    "mag": (19.5, 24.5),                 # uniform magnitudes (S/N ~ 5 to 500 at the default noise)
    "re_at_22": 0.55, "re_slope": -0.12, "re_scatter_dex": 0.15,   # half-light radius [arcsec]: log r_e = log 0.55 - 0.12 (m - 22)
    "re_range": (0.15, 2.0),
    "e_max": 0.6,                        # |e| = (1 - q) / (1 + q), uniform in the disc |e| < e_max
    "separation": (0.3, 3.0),            # primary-companion separation [arcsec], uniform
}

#: Stamp side [pixels] the deblender sees around each object.
STAMP = 48

CATALOGUE_COLUMNS = ("id", "x", "y", "ra", "dec", "flux", "flux_err", "mag", "e1", "e2", "score")
