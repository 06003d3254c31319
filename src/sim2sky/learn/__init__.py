"""Engine: learners that take any backbone — calibrated classifier with "unknown", DANN, contrastive pretraining, the shared loop,
attributions, mutual information, representations, the latent-space toolkit, field emulators (Fourier flow,
flow matching), probability calibration and conformal sets on real labels, and the per-object trust score."""

from ..core.lazy import lazy_exports

_EXPORTS = {
    "classifier": ("UNKNOWN", "CalibratedClassifier", "ClassifierConfig", "ClassifierNet",
                   "fit_temperature", "mlp_classifier", "recall_at_precision",
                   "set_standardization"),
    "dann": ("DANNConfig", "fit_dann"),
    "contrastive": ("ContrastiveConfig", "nt_xent", "pretrain_contrastive"),
    "emulate": ("EmulatorConfig", "FieldEmulator"),
    "flowmatch": ("FlowMatchingConfig", "FlowMatchingEmulator"),
    "explain": ("classifier_attributions", "integrated_gradients", "shap_attributions"),
    "latent": ("DensityScorer", "cluster", "cluster_report", "latent_tension", "project", "two_sample_test"),
    "mutual_info": ("mutual_information",),
    "represent": ("AutoencoderNet", "Representation", "RepresentationConfig", "autoencoder_network"),
    "segment": ("Segmenter", "SegmenterConfig"),
    "splits": ("group_split",),
    "loop": ("LoopConfig", "fit_epochs"),
    "metrics": ("classification_check",),
    "calibrate": ("ClassCalibration", "ConformalSets", "ProbabilityScaling", "calibrate_classes", "check_proba",
                  "expected_calibration_error", "parse_class_priors"),
    "trust": ("FLAG_UNLIKE_TRAINING", "StatisticTrust", "TrustScore"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
