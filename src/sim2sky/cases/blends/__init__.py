"""Case: deblending — GalSim blends with isolated truth, a U-Net detector and flux-fraction deblender,
and the photutils/SEP peers.

:mod:`.forward` draws blends and survey fields; :mod:`.deblender` holds the networks;
:mod:`.measure` shapes, matching and binned biases; :mod:`.peers` the classical deblenders;
:mod:`.api` reads FITS images and writes catalogues and segmentation maps.
"""

from .api import deblend, deblend_image_file, load_models, read_image, simulate_blends_file
from .deblender import (centre_map, deblend_image, find_peaks, fraction_samples, scaled, train_blend_detector,
                        train_fraction_network)
from .measure import adaptive_shapes, match_positions
from .peers import photutils_deblend, sep_deblend
from .schema import POPULATION, STAMP, SURVEY, Survey
from .forward import draw_galaxies, field_header, render_galaxy, simulate_blends, simulate_field

from .case import BlendsCase, load, simulate, train

__all__ = ["simulate", "train", "load", "BlendsCase", "deblend", "deblend_image_file", "load_models", "read_image", "simulate_blends_file", "centre_map",
           "deblend_image", "find_peaks", "fraction_samples", "scaled", "train_blend_detector",
           "train_fraction_network", "adaptive_shapes", "match_positions", "photutils_deblend",
           "sep_deblend", "POPULATION", "STAMP", "SURVEY", "Survey", "draw_galaxies", "field_header", "render_galaxy",
           "simulate_blends", "simulate_field"]
