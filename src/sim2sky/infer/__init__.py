"""Engine: neural posterior estimation (NPE) — estimator, trainer, posterior, diagnostics, model folders."""

from .api import check_npe_file, sample_npe_file, train_npe_file
from .checks import run_checks
from .diagnostics import c2st, coverage_error, expected_coverage, sbc_ranks, tarp
from .io import load_posterior, save_posterior
from .ensemble import EnsembleDistribution, NPEEnsemble, build_estimator
from .estimator import EMBEDDINGS, NPEConfig, NPEEstimator
from .npe import NPE
from .posterior import Posterior
from .sequential import TSNPE, TruncatedPrior
from .priors import BoxUniform, Gaussian, LogNormal, as_prior, prior_from_dict
from .train import NPETrainer, TrainConfig, validate_training_data

__all__ = ["check_npe_file", "sample_npe_file", "train_npe_file", "run_checks", "c2st", "coverage_error",
           "expected_coverage", "sbc_ranks", "tarp", "load_posterior", "save_posterior", "NPE", "NPEConfig",
           "NPEEstimator", "NPEEnsemble", "build_estimator", "EnsembleDistribution", "EMBEDDINGS", "Posterior", "TSNPE", "TruncatedPrior", "BoxUniform", "Gaussian", "LogNormal", "as_prior", "prior_from_dict", "NPETrainer", "TrainConfig",
           "validate_training_data"]
