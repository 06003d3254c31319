"""Engine: learners that take any backbone — calibrated classifier with "unknown", DANN, the shared loop,
attributions, mutual information, representations, the latent-space toolkit and field emulators (Fourier flow,
flow matching)."""

from .classifier import (UNKNOWN, CalibratedClassifier, ClassifierConfig, ClassifierNet, expected_calibration_error,
                         fit_temperature, mlp_classifier, recall_at_precision, set_standardization)
from .dann import DANNConfig, fit_dann
from .emulate import EmulatorConfig, FieldEmulator
from .flowmatch import FlowMatchingConfig, FlowMatchingEmulator
from .explain import classifier_attributions, integrated_gradients, shap_attributions
from .latent import DensityScorer, cluster, cluster_report, latent_tension, project, two_sample_test
from .mutual_info import mutual_information
from .represent import AutoencoderNet, Representation, RepresentationConfig, autoencoder_network
from .segment import Segmenter, SegmenterConfig
from .splits import group_split
from .loop import LoopConfig, fit_epochs
from .metrics import classification_check

__all__ = ["UNKNOWN", "CalibratedClassifier", "ClassifierConfig", "ClassifierNet", "expected_calibration_error", "recall_at_precision",
           "fit_temperature", "mlp_classifier", "set_standardization", "DANNConfig", "fit_dann",
           "LoopConfig", "fit_epochs", "classifier_attributions", "integrated_gradients", "shap_attributions",
           "DensityScorer", "cluster", "cluster_report", "latent_tension", "project", "two_sample_test", "mutual_information",
           "AutoencoderNet", "Representation", "RepresentationConfig", "autoencoder_network", "EmulatorConfig", "FieldEmulator", "FlowMatchingConfig", "FlowMatchingEmulator", "Segmenter", "SegmenterConfig",
           "group_split", "classification_check"]
