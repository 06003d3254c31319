"""Case: radio-galaxy morphology — FRI, FRII, bent tails and compact sources from theory, tested on
real FIRST images (MiraBest).

:mod:`.theory` declares the source models and their priors; :mod:`.observe` turns them into survey
cutouts; :mod:`.preprocess` puts any survey's cutouts on the networks' grid; :mod:`.training` holds
the training sets, augmentations and networks; :mod:`.mirabest` the real labelled images and their
fixed split; :mod:`.io` reads FITS, stacks and ``.npz``; :mod:`.case` the contract.
"""

from .schema import CLASSES, GRID, IMAGE_FEATURE, SIM_CLASSES, SURVEYS, Grid, Survey
from .theory import CLASS_PARAMETERS, PARAMETERS, Param, draw_parameters, source_particles
from .observe import native_size, observe, render, simulate_cutouts
from .preprocess import resampling_matrix, to_grid
from .mirabest import load_mirabest, mirabest_class, mirabest_splits, select_rows, split_indices
from .io import Cutouts, iter_chunks, read_cutouts
from .training import augment, fr_probability, labelled_grid, orbit_pooled, radio_classifier, radio_network, real_scores, strong_augment, training_set

from .case import FLAGS, RadioCase, load, simulate, train

__all__ = ["simulate", "train", "load", "RadioCase", "FLAGS", "CLASSES", "IMAGE_FEATURE", "GRID", "SIM_CLASSES", "SURVEYS", "Grid",
           "Survey", "CLASS_PARAMETERS", "PARAMETERS", "Param", "draw_parameters", "source_particles", "native_size",
           "observe", "render", "simulate_cutouts", "resampling_matrix", "to_grid", "load_mirabest", "mirabest_splits", "select_rows", "mirabest_class",
           "split_indices", "Cutouts", "iter_chunks", "read_cutouts", "augment", "fr_probability", "labelled_grid", "orbit_pooled", "radio_classifier",
           "radio_network", "real_scores", "strong_augment", "training_set"]
