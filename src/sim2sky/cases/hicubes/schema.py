"""Vocabulary of the HI-cube case: instrument, population, catalogue columns and their units.

Declared once; the simulator, the finders, the characterisation network and the CLI read it.
The defaults follow the SKA Science Data Challenge 2 (Hartley et al. 2023, arXiv:2303.07943):
2.8" pixels, a 7" beam, 30 kHz channels near 1.15 GHz (z ~ 0.23).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Instrument", "INSTRUMENT", "HI_REST_HZ", "C_KMS", "CATALOGUE_COLUMNS", "UNITS",
           "POPULATION", "FLAG_NAN", "FLAG_EDGE"]

HI_REST_HZ = 1420.405751e6
C_KMS = 299792.458


@dataclass(frozen=True)
class Instrument:
    """An SKA-like HI survey cube: pixel and beam sizes [arcsec], channels [Hz], noise [Jy/beam]."""

    pixel_arcsec: float = 2.8
    beam_fwhm_arcsec: float = 7.0
    channel_hz: float = 30e3
    freq0_hz: float = 1.15e9          # frequency of the first channel
    noise_jy: float = 30e-6           # rms per channel, after beam convolution
    ra0_deg: float = 0.0
    dec0_deg: float = -30.0
    beam_correlated_noise: bool = True    # radio: noise correlated over the beam; optical IFU: per pixel

    @property
    def beam_sigma_px(self) -> float:
        return self.beam_fwhm_arcsec / self.pixel_arcsec / 2.3548200450309493

    @property
    def beam_area_px(self) -> float:
        """Beam solid angle in pixels (2 pi sigma^2): Jy/beam -> Jy per pixel."""
        return 2 * 3.141592653589793 * self.beam_sigma_px ** 2

    def channel_kms(self, freq_hz: float) -> float:
        return C_KMS * self.channel_hz / freq_hz


INSTRUMENT = Instrument()

#: Galaxy population drawn by the simulator (scaling relations with their scatter).
POPULATION = {
    "log10_mhi": (9.0, 10.8),          # uniform in log HI mass [Msun]
    "size_slope": 0.506, "size_intercept": -3.293, "size_scatter_dex": 0.06,   # Wang et al. 2016 D_HI-M_HI
    "vflat_slope": 0.25, "vflat_at_1e10": 141.0, "vflat_scatter_dex": 0.06,     # HI Tully-Fisher-like
    "dispersion_kms": 8.0,             # gas velocity dispersion
    "cos_i": (0.1, 0.97),              # uniform in cos i: random orientations, no face-on/edge-on extremes
}

CATALOGUE_COLUMNS = ("id", "ra", "dec", "x", "y", "z", "central_freq", "line_flux_integral", "w20", "hi_size",
                     "pa", "i", "snr", "flag")
UNITS = {"ra": "deg", "dec": "deg", "x": "pix", "y": "pix", "z": "chan", "central_freq": "Hz",
         "line_flux_integral": "Jy km/s", "w20": "km/s", "hi_size": "arcsec", "pa": "deg", "i": "deg"}

FLAG_NAN = 1        # the source touches NaN (blanked) voxels
FLAG_EDGE = 2       # the source touches the cube's edge
