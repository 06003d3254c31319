"""The nebula case's vocabulary, declared once: classes, parameters, units, thresholds, flags, columns.

Every other module of the case (and the CLI) takes these names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLASSES", "FIELD_PRIORS", "CLASS_PRIOR_PRESETS", "UNKNOWN", "NO_SIGNAL", "CUBE_CLASSES", "HIIParameter", "HII_PARAMETERS", "HII_LABELS",
           "HII_KEYS", "HII_UNITS", "DETECTION_SNR", "CATALOGUE_MIN_SNR", "CATALOGUE_MIN_AREA",
           "CUBE_POSTERIOR_SAMPLES", "TABLE_POSTERIOR_SAMPLES", "FLAG_NO_DATA", "FLAG_NO_HALPHA",
           "FLAG_BAD_PIXELS", "FLAG_NO_STAT", "FLAG_DESCRIPTION", "PASSTHROUGH", "DEFAULT_BLOCK"]

#: Training classes of the classifier, in output order (p_HII, p_PN, p_SNR, p_DIG, p_AGN).
CLASSES = ("HII", "PN", "SNR", "DIG", "AGN")
UNKNOWN = "unknown"
NO_SIGNAL = "no-signal"
#: Class fractions of a nearby star-forming galaxy field, the default use of the cube pipeline
#: (``--class-priors field``): catalogues of 19 PHANGS-MUSE galaxies hold ~30,000 HII regions
#: (Groves et al. 2023, MNRAS 520, 4902) against ~900 PNe (Scheuermann et al. 2022, MNRAS 511,
#: 6087) and a few thousand SNR candidates; DIG carries 20-50% of the Hα emission; Seyfert
#: nuclei are at most a few spaxels. Rounded, with room for the rarer classes.
FIELD_PRIORS = {"HII": 0.6, "PN": 0.05, "SNR": 0.1, "DIG": 0.2, "AGN": 0.05}
#: Named class-prior presets of ``--class-priors`` (``balanced`` = as trained: equal fractions).
CLASS_PRIOR_PRESETS = {"field": FIELD_PRIORS, "balanced": None}
#: Codes of the cube class map (classes.fits): 0..4 the classes, 5 unknown, 6 no signal.
CUBE_CLASSES = (*CLASSES, UNKNOWN, NO_SIGNAL)


@dataclass(frozen=True)
class HIIParameter:
    label: str       # name in theory models and model folders
    key: str         # column / FITS-plane stem: <KEY>_mean in tables, <KEY>_MEAN in cubes
    unit: str


#: HII-region parameters inferred by the posterior, in the model's order.
HII_PARAMETERS = (
    HIIParameter("12 + log O/H", "OH", "dex"),
    HIIParameter("log U", "LOGU", "dex"),
    HIIParameter("log P/k", "LOGPK", "dex(K cm-3)"),
    HIIParameter("E(B-V)", "EBV", "mag"),
)
HII_LABELS = tuple(p.label for p in HII_PARAMETERS)
HII_KEYS = tuple(p.key for p in HII_PARAMETERS)
HII_UNITS = tuple(p.unit for p in HII_PARAMETERS)

#: S/N(Hα) below which a row is ``low_snr`` (tables) or ``no-signal`` (cubes).
DETECTION_SNR = 3.0
#: Segmented nebulae: spaxels with S/N(Hα) >= this, regions of at least this many spaxels.
CATALOGUE_MIN_SNR = 5.0
CATALOGUE_MIN_AREA = 3
#: Posterior points (scrambled Sobol, :meth:`Posterior.moments`) per HII object for the mean and std:
#: 16 in cubes (mean to 0.04 sigma, std to ~4% (medians) on mock-cube spaxels; the flow dominates run
#: time), 256 in tables (benchmarks/results_posterior_points.json).
CUBE_POSTERIOR_SAMPLES = 16
TABLE_POSTERIOR_SAMPLES = 256
#: Spatial block size of cube runs [spaxels]; memory per worker ~ block^2 x 10 kB.
DEFAULT_BLOCK = 64

#: FLAGS bits of the line measurement and cube maps.
FLAG_NO_DATA = 1        # no usable pixel in the Hα window (NaN / masked spaxel)
FLAG_NO_HALPHA = 2      # Hα not detected at S/N >= 3
FLAG_BAD_PIXELS = 4     # some pixels in line windows were masked (NaN, DQ, variance <= 0)
FLAG_NO_STAT = 8        # variance estimated from the data (no STAT extension / variance file)
FLAG_DESCRIPTION = "1 no data, 2 no Halpha (S/N<3), 4 masked pixels, 8 noise estimated"

#: Identifier columns copied to the output unchanged (plus TRUE_* and every unrecognised column).
PASSTHROUGH = ("ID", "NAME", "RA", "DEC", "X", "Y", "Z", "REGION")
