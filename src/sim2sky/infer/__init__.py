"""Engine: neural posterior estimation (NPE) — estimator, trainer, posterior, diagnostics, model folders,
model error of simulators and interval calibration on real labels."""

from ..core.lazy import lazy_exports

_EXPORTS = {
    "api": ("check_npe_file", "sample_npe_file", "train_npe_file"),
    "calibrate": ("IntervalCalibration", "interval_coverage", "interval_probabilities"),
    "model_error": ("ResidualErrorModel", "remove_smooth"),
    "checks": ("run_checks",),
    "diagnostics": ("c2st", "coverage_error", "expected_coverage", "sbc_ranks", "tarp"),
    "io": ("load_posterior", "save_posterior"),
    "ensemble": ("EnsembleDistribution", "NPEEnsemble", "build_estimator"),
    "estimator": ("EMBEDDINGS", "NPEConfig", "NPEEstimator"),
    "npe": ("NPE",),
    "posterior": ("Posterior",),
    "sequential": ("TSNPE", "TruncatedPrior"),
    "priors": ("BoxUniform", "Gaussian", "LogNormal", "as_prior", "prior_from_dict"),
    "train": ("NPETrainer", "TrainConfig", "validate_training_data"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
