"""The survey-spectra case: 1-D fibre spectra classified (stars, galaxies, quasars, "unknown"),
redshifts and stellar parameters with posteriors — trained on theory, tested on real spectra.

Theory (redrock star/QSO templates, BC03/BPASS SSPs + the nebula case's emission-line grids,
ATLAS9 atmospheres) -> survey-like spectra (:mod:`.forward`) -> a calibrated ResNet-1d
classifier, a redshift NPE, a stellar-parameter NPE (:mod:`.training`) -> real files
(:mod:`.io`, :mod:`.pipeline`). Vocabulary in :mod:`.schema`.
"""

from .grid import air_to_vacuum, resample, resample_matrix, to_inputs, vacuum_to_air
from .io import SpectrumSet, estimate_ivar, iter_spectra, read_spectra, spectrum_set
from .pipeline import (DEFAULT_MODEL_DIR, SpectraPipeline, classify_files, model_inputs, star_grid_inputs,
                       stars_files)
from .schema import CLASSES, STAR_CLASSES, STAR_KEYS, STAR_PARAMETERS, model_wave
from .forward import SurveyConditions, render, simulate_spectra
from .stars import StarObservation, continuum_normalise, emulate_atlas9, simulate_stars, star_inputs, star_wave
from .training import (classifier_network, evaluate_classifier, train_classifier, train_redshift, train_spectra,
                       train_stars)

from .case import SpectraCase, load, simulate, train

__all__ = [
    "simulate", "train", "load", "SpectraCase",
    "air_to_vacuum", "resample", "resample_matrix", "to_inputs", "vacuum_to_air",
    "SpectrumSet", "estimate_ivar", "iter_spectra", "read_spectra", "spectrum_set",
    "DEFAULT_MODEL_DIR", "SpectraPipeline", "classify_files", "model_inputs", "star_grid_inputs", "stars_files",
    "CLASSES", "STAR_CLASSES", "STAR_KEYS", "STAR_PARAMETERS", "model_wave",
    "SurveyConditions", "render", "simulate_spectra",
    "StarObservation", "continuum_normalise", "emulate_atlas9", "simulate_stars", "star_inputs", "star_wave",
    "classifier_network", "evaluate_classifier", "train_classifier", "train_redshift", "train_spectra", "train_stars",
]
