"""Understand models and data: attributions of any classifier, learned representations, clusters
checked against labels, anomaly rankings and theory-vs-data tension (``sim2sky explain /
represent / tension``). Sits above the cases: it reads their inputs (line tables, cubes, spectra)."""

from .api import anomalies, cluster_inputs, embed, explain, fit_representation, load_representation, tension
from .inputs import INPUT_KINDS, Inputs, classifier_inputs, guess_kind, read_inputs

__all__ = ["anomalies", "cluster_inputs", "embed", "explain", "fit_representation", "load_representation", "tension",
           "INPUT_KINDS", "Inputs", "classifier_inputs", "guess_kind", "read_inputs"]
