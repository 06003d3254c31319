"""Case: HI source finding in 3-D radio cubes — mock SKA-like cubes, a 3-D U-Net finder with NPE
characterisation, and a SoFiA-like peer (our re-implementation of SoFiA-2's smooth-and-clip finder).

:mod:`.forward` makes cubes with a truth catalogue; :mod:`.finder` is the classical peer (SoFiA-like);
:mod:`.detector` the U-Net; :mod:`.characterise` the per-source posteriors (calibrated on
labelled detections by :mod:`.calibration`); :mod:`.measure`
the moment measurements and truth matching; :mod:`.pipeline` runs them on FITS cubes in tiles.
"""

from .api import simulate_hicube_file, truth_table
from .calibration import detection_samples, labelled_cubes, property_truth
from .characterise import (PARAMETER_NAMES, PROPERTIES, calibrated_properties, characterise, cut_stamps,
                           property_samples, train_characteriser)
from .io import read_cube, wcs_instrument
from .detector import detect, network_input, train_detector, training_cubes
from .finder import (channel_noise, integrated_snr, link_sources, noise_level, normalise_cube, reliability,
                     smooth_and_clip, sofia_like_find)
from .measure import match_catalogue, measure_sources
from .pipeline import (METHODS, DetectConfig, cube_instrument, detect_cube_file, find_sources, load_models, models_dir,
                       posterior_calibration)
from .schema import CATALOGUE_COLUMNS, INSTRUMENT, UNITS, Instrument
from .forward import STAMP_SHAPE, cube_header, draw_population, render_source, simulate_cube, source_stamps

from .case import HICubesCase, load, simulate, train

__all__ = ["simulate", "train", "load", "HICubesCase", "simulate_hicube_file", "truth_table", "PARAMETER_NAMES", "characterise", "cut_stamps", "train_characteriser",
           "detect", "network_input", "train_detector", "training_cubes", "channel_noise", "link_sources",
           "normalise_cube", "reliability", "smooth_and_clip", "sofia_like_find", "noise_level", "integrated_snr", "match_catalogue", "measure_sources",
           "METHODS", "DetectConfig", "cube_instrument", "detect_cube_file", "find_sources", "load_models",
           "CATALOGUE_COLUMNS", "INSTRUMENT", "UNITS", "Instrument", "STAMP_SHAPE", "cube_header", "draw_population",
           "render_source", "simulate_cube", "source_stamps", "detection_samples", "labelled_cubes", "property_truth",
           "PROPERTIES", "calibrated_properties", "property_samples", "read_cube", "wcs_instrument", "models_dir",
           "posterior_calibration"]
