"""Held-out diagnostics of a labelled prediction table: the numbers every classification case's
``check`` reports (accuracy, macro-F1, per-class recall, ECE, confusion, unknown rate)."""

from __future__ import annotations

import numpy as np

from .calibrate import expected_calibration_error
from .classifier import UNKNOWN

__all__ = ["classification_check"]


def classification_check(truth, label, proba, classes, unknown: str = UNKNOWN) -> dict:
    """Diagnostics of predicted labels against true ones.

    Parameters
    ----------
    truth : (n,) str
        True class names (rows whose truth is not in ``classes`` are left out).
    label : (n,) str
        Predicted class names, ``unknown`` allowed.
    proba : (n, k) float
        Calibrated probabilities over ``classes`` (NaN rows, never classified, are left out of the ECE).
    classes : sequence of str, length k

    Returns
    -------
    dict
        ``n``; ``accuracy`` over all rows (an ``unknown`` counts as wrong); ``accuracy_known``
        over rows not declared unknown; ``unknown_rate``; ``macro_f1`` of the arg-max class;
        ``recall`` per class; ``ece`` (top-label, 15 bins); ``confusion`` (k, k+1) with the
        unknown column last, rows in ``classes`` order.
    """
    from sklearn.metrics import confusion_matrix, f1_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)
    classes = list(classes)
    truth, label = np.asarray(truth).astype(str), np.asarray(label).astype(str)
    proba = np.asarray(proba, float)
    keep = np.isin(truth, classes)
    truth, label, proba = truth[keep], label[keep], proba[keep]
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[t] for t in truth], int)
    finite = np.isfinite(proba).all(1)
    known = label != unknown
    cm = confusion_matrix(truth, label, labels=classes + [unknown])[:len(classes)]
    recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
    top = proba[finite].argmax(1)
    return {"n": int(len(y)), "accuracy": float((label == truth).mean()) if len(y) else float("nan"),
            "accuracy_known": float((label[known] == truth[known]).mean()) if known.any() else float("nan"),
            "unknown_rate": float((~known).mean()) if len(y) else float("nan"),
            "macro_f1": float(f1_score(y[finite], top, average="macro", labels=range(len(classes)), zero_division=0)),
            "recall": {c: float(r) for c, r in zip(classes, recall)},
            "ece": expected_calibration_error(proba[finite], y[finite]) if finite.any() else float("nan"),
            "confusion": cm.tolist()}
