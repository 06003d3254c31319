"""Engine: learners that take any backbone — calibrated classifier with "unknown", DANN, the shared loop."""

from .classifier import (UNKNOWN, CalibratedClassifier, ClassifierConfig, ClassifierNet, expected_calibration_error,
                         fit_temperature, mlp_classifier, set_standardization)
from .dann import DANNConfig, fit_dann
from .explain import classifier_attributions, integrated_gradients
from .loop import LoopConfig, fit_epochs

__all__ = ["UNKNOWN", "CalibratedClassifier", "ClassifierConfig", "ClassifierNet", "expected_calibration_error",
           "fit_temperature", "mlp_classifier", "set_standardization", "DANNConfig", "fit_dann",
           "LoopConfig", "fit_epochs", "classifier_attributions", "integrated_gradients"]
