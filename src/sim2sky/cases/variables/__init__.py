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

from ...core.lazy import lazy_exports

# lazy (PEP 562): the feature workers of a parallel run import lcfeatures only, not torch through
# calibration; 2.6 s less per worker process
_EXPORTS = {
    "cadence": ("SURVEYS", "Survey", "get_survey"),
    "calibration": ("GROUP_NAMES", "S82_SPLIT_SEED", "LightCurveCalibration", "calibrate_lightcurves", "eros_table",
                    "s82_halves", "s82_table"),
    "lcapi": ("classify_lightcurves_file", "read_lightcurve_table", "simulate_lightcurves_file",
              "train_lightcurves_file", "vet_tces_file"),
    "lcfeatures": ("best_period", "features_table", "folded_curve", "gls_power", "lightcurve_features"),
    "lcpipeline": ("FEATURE_COLUMNS", "FOLDED_COLUMNS", "LightCurveTraining", "classify_lightcurves", "group_proba",
                   "group_scores", "lightcurve_model_dir", "load_lightcurve_model", "sequence_network",
                   "simulate_features", "train_lightcurve_classifier"),
    "lcsim": ("eclipsing_binary", "fourier_curve", "simulate_lightcurves"),
    "ogle": ("ogle_features", "read_ogle3"),
    "schema": ("EROS_TYPES", "FEATURE_NAMES", "LC_CLASSES", "LC_FEATURE_NAMES", "OGLE_CLASSES", "OGLE_TYPES",
               "RARE_CLASSES", "REAL_GROUPS", "ogle_class"),
    "surveys": ("read_eros", "read_s82"),
    "vetting": ("TCE_FEATURES", "labelled_tces", "load_vetter", "read_tces", "recall_at_precision", "split_by_star",
                "tce_features", "train_vetter"),
    "case": ("LightCurvesCase", "load", "simulate", "train"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
