"""The time-domain case: variable stars and transits.

* OGLE-III catalogue features (:mod:`.ogle`) for representation learning and anomaly ranking;
* light curves simulated from physics and OGLE-III shapes at a survey's cadence (:mod:`.lcsim`,
  :mod:`.cadence`), their features (:mod:`.lcfeatures`: NUFFT Lomb-Scargle, Fourier shape,
  folded template) and a calibrated classifier trained on simulations only (:mod:`.lcpipeline`),
  tested on real EROS-1 and Stripe 82 light curves (:mod:`.surveys`) and calibrated on their
  development labels (:mod:`.calibration`);
* vetting of Kepler DR24 threshold-crossing events (:mod:`.vetting`).

Vocabulary in :mod:`.schema`; file-level API in :mod:`.lcapi`.
"""

from .cadence import SURVEYS, Survey, get_survey
from .calibration import (GROUP_NAMES, S82_SPLIT_SEED, LightCurveCalibration, calibrate_lightcurves, eros_table,
                          s82_halves, s82_table)
from .lcapi import (classify_lightcurves_file, read_lightcurve_table, simulate_lightcurves_file,
                    train_lightcurves_file, vet_tces_file)
from .lcfeatures import best_period, features_table, folded_curve, gls_power, lightcurve_features
from .lcpipeline import (FEATURE_COLUMNS, FOLDED_COLUMNS, LightCurveTraining, classify_lightcurves, group_proba,
                         group_scores, lightcurve_model_dir, load_lightcurve_model, sequence_network, simulate_features,
                         train_lightcurve_classifier)
from .lcsim import eclipsing_binary, fourier_curve, simulate_lightcurves
from .ogle import ogle_features, read_ogle3
from .schema import (EROS_TYPES, FEATURE_NAMES, LC_CLASSES, LC_FEATURE_NAMES, OGLE_CLASSES, OGLE_TYPES, RARE_CLASSES,
                     REAL_GROUPS, ogle_class)
from .surveys import read_eros, read_s82
from .vetting import (TCE_FEATURES, labelled_tces, load_vetter, read_tces, recall_at_precision, split_by_star,
                      tce_features, train_vetter)

from .case import LightCurvesCase, load, simulate, train

__all__ = ["simulate", "train", "load", "LightCurvesCase", "GROUP_NAMES", "LightCurveCalibration",
           "calibrate_lightcurves", "eros_table", "s82_table", "S82_SPLIT_SEED", "s82_halves", "lightcurve_model_dir", "SURVEYS", "Survey", "get_survey", "classify_lightcurves_file", "read_lightcurve_table",
           "simulate_lightcurves_file", "train_lightcurves_file", "vet_tces_file", "best_period", "features_table",
           "gls_power", "lightcurve_features", "folded_curve", "FEATURE_COLUMNS", "FOLDED_COLUMNS", "sequence_network", "LightCurveTraining", "classify_lightcurves",
           "group_proba", "group_scores", "load_lightcurve_model", "simulate_features", "train_lightcurve_classifier",
           "eclipsing_binary", "fourier_curve", "simulate_lightcurves", "ogle_features", "read_ogle3", "EROS_TYPES",
           "FEATURE_NAMES", "LC_CLASSES", "LC_FEATURE_NAMES", "OGLE_CLASSES", "OGLE_TYPES", "RARE_CLASSES",
           "REAL_GROUPS", "ogle_class", "read_eros", "read_s82", "TCE_FEATURES", "labelled_tces", "load_vetter",
           "read_tces", "recall_at_precision", "split_by_star", "tce_features", "train_vetter"]
