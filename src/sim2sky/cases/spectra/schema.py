"""The survey-spectra case's vocabulary, declared once: classes, grids, parameters, units, thresholds.

Classes follow the SDSS/GaSNet-II scheme (Zhong et al. 2024, arXiv:2311.04146): stellar
spectral types, galaxy activity subclasses and quasars. SDSS conventions kept here: a
star-forming galaxy is a STARBURST when its rest-frame EW(Hα) exceeds 50 Å; AGN include
Seyferts and LINERs (Bolton et al. 2012, arXiv:1207.7326). QSO_BROADLINE are quasars whose broad
Balmer/MgII lines lie in the optical (z < 1.6, redrock "LOZ" eigenspectra), QSO the higher-z ones
(Lyα/CIV, "HIZ").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLASSES", "STAR_CLASSES", "GALAXY_CLASSES", "QSO_CLASSES", "UNKNOWN", "WAVE_MIN", "WAVE_MAX", "N_PIX",
           "model_wave", "StarParameter", "STAR_PARAMETERS", "STAR_KEYS", "STARBURST_EW", "Z_RANGE",
           "STAR_GRID_MIN", "STAR_GRID_MAX", "FLAG_DESCRIPTION", "FLAG_LOW_SNR", "FLAG_COVERAGE", "FLAG_UNKNOWN",
           "MIN_SNR"]

STAR_CLASSES = ("STAR_B", "STAR_A", "STAR_F", "STAR_G", "STAR_K", "STAR_M", "STAR_WD")
GALAXY_CLASSES = ("GALAXY_PASSIVE", "GALAXY_STARFORMING", "GALAXY_STARBURST", "GALAXY_AGN")
QSO_CLASSES = ("QSO_BROADLINE", "QSO")
CLASSES = STAR_CLASSES + GALAXY_CLASSES + QSO_CLASSES
UNKNOWN = "unknown"

#: The classifier's wavelength grid: vacuum Å, log-spaced (a 4MOST-LRS / SDSS-like range).
WAVE_MIN, WAVE_MAX, N_PIX = 3600.0, 9800.0, 1024


def model_wave() -> np.ndarray:
    """Pixel centres (N_PIX,) of the classifier grid [vacuum Å]; 293 km/s per pixel."""
    return np.exp(np.linspace(np.log(WAVE_MIN), np.log(WAVE_MAX), N_PIX))


#: Redshift ranges simulated per class family (stars: radial velocities of +-500 km/s).
Z_RANGE = {"star": (-0.0017, 0.0017), "galaxy": (0.0, 0.35), "QSO_BROADLINE": (0.05, 1.6), "QSO": (1.6, 4.0)}
STARBURST_EW = 50.0            # Å, rest frame

#: Low-resolution grid of the stellar-parameter model (the ATLAS9 sampling, 20 Å): vacuum Å.
STAR_GRID_MIN, STAR_GRID_MAX = 3550.0, 7410.0


@dataclass(frozen=True)
class StarParameter:
    key: str
    label: str
    unit: str


STAR_PARAMETERS = (StarParameter("TEFF", "T_eff", "K"), StarParameter("LOGG", "log g", "dex"),
                   StarParameter("FEH", "[Fe/H]", "dex"))
STAR_KEYS = tuple(p.key for p in STAR_PARAMETERS)

#: median S/N per pixel below which a spectrum is flagged (its class may still be right)
MIN_SNR = 2.0
FLAG_LOW_SNR, FLAG_COVERAGE, FLAG_UNKNOWN = "low_snr", "partial_coverage", "unlike_training"
FLAG_DESCRIPTION = "ok | low_snr (median S/N < 2) | partial_coverage (< 50% of the grid) | unlike_training"
