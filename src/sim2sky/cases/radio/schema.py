"""Vocabulary of the radio-galaxy case: classes, surveys, the model grid, the output columns.

Declared once; the simulator, the preprocessing, the networks, the CLI and the benchmark read it.

References: Fanaroff & Riley 1974 (MNRAS 167, 31P); Becker, White & Helfand 1995 (FIRST, ApJ 450,
559); Condon et al. 1998 (NVSS, AJ 115, 1693); Miraghaei & Best 2017 (MNRAS 466, 4346);
Porter & Scaife 2023 (MiraBest, arXiv:2305.11108).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGE_FEATURE", "CLASSES", "SIM_CLASSES", "Survey", "SURVEYS", "GRID", "Grid", "CLIP_SIGMA", "OUTPUT_UNITS",
           "MIRABEST_PRIORS", "CLASS_PRIOR_PRESETS"]

#: The classifier's classes; anything else (hybrids, double-doubles, artefacts) should come out "unknown".
CLASSES = ("FRI", "FRII", "Bent", "Compact")

#: What the simulator can draw: the classes plus hybrids (one FRI arm, one FRII arm), which the
#: classifier never sees in training and which test its "unknown" outcome.
SIM_CLASSES = CLASSES + ("Hybrid",)


@dataclass(frozen=True)
class Survey:
    """A radio continuum survey: pixel and beam FWHM [arcsec], image rms [Jy/beam]."""

    name: str
    pixel_arcsec: float
    beam_arcsec: float
    rms_jy: float


#: Surveys known by the FITS ``SURVEY`` keyword (SkyView writes it) when a header has no BMAJ.
SURVEYS = {
    "FIRST": Survey("FIRST", 1.8, 5.4, 0.15e-3),          # Becker et al. 1995
    "NVSS": Survey("NVSS", 15.0, 45.0, 0.45e-3),          # Condon et al. 1998
    "VLASS": Survey("VLASS", 1.0, 2.5, 0.12e-3),          # Lacy et al. 2020, arXiv:1907.01981
    "LOTSS": Survey("LOTSS", 1.5, 6.0, 0.07e-3),          # Shimwell et al. 2022, arXiv:2202.11733
}


@dataclass(frozen=True)
class Grid:
    """The networks' grid: ``size`` x ``size`` pixels of ``pixel_arcsec``, at a working resolution
    of ``beam_arcsec`` (inputs with a finer beam are smoothed to it first, so a FIRST cutout and an
    8" survey look alike; coarser beams are kept as they are)."""

    size: int = 64
    pixel_arcsec: float = 1.8
    beam_arcsec: float = 5.4

    @property
    def fov_arcsec(self) -> float:
        return self.size * self.pixel_arcsec


#: 64 x 1.8" = 115" at FIRST's beam: the central part of the MiraBest cutouts. Scaife & Porter 2021
#: (arXiv:2102.08252) classify MiraBest on the central 50 x 50 pixels (90"); a 4.2"-pixel grid with an
#: 8.4" working beam (269") was tried first and lost the hotspots of the small FRIIs (theory-only
#: FRI/FRII accuracy 0.56 on the MiraBest test split).
GRID = Grid()

#: Pixels below this many noise sigmas are set to zero (MiraBest's and Radio Galaxy Zoo's
#: preprocessing: Aniyan & Thorat 2017, arXiv:1705.03413; Porter & Scaife 2023).
CLIP_SIGMA = 3.0

#: Class fractions of a MiraBest-like sample (``--class-priors mirabest``): the 732 non-hybrid images
#: of MiraBest's training split (FRI 317, FRII 377, bent 38; Porter & Scaife 2023), a sample
#: selected for extended FR sources, so no compact ones. A FIRST catalogue as a whole is mostly
#: compact sources: use this preset only for samples selected like MiraBest.
MIRABEST_PRIORS = {"FRI": 0.433, "FRII": 0.515, "Bent": 0.052, "Compact": 0.0}

#: Named class-prior presets of ``--class-priors`` (``trained`` = as trained: no re-weighting).
CLASS_PRIOR_PRESETS = {"mirabest": MIRABEST_PRIORS, "trained": None}

#: The feature name a radio classifier's folder records: ``sim2sky explain`` reads cutouts for it.
IMAGE_FEATURE = "radio_grid"

#: Units of the numeric columns of ``predict`` (probabilities and distances are dimensionless).
OUTPUT_UNITS = {"ra": "deg", "dec": "deg", "pixel_scale": "arcsec", "beam": "arcsec", "peak_snr": ""}
