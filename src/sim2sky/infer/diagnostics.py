"""Calibration and accuracy diagnostics for posterior estimators.

- :func:`c2st`: classifier two-sample test accuracy, exactly as sbibm computes it (MLP with
  two hidden layers of 10*d units, 5-fold cross-validation, z-scored by the first sample);
  0.5 means indistinguishable.
- :func:`sbc_ranks`: simulation-based calibration ranks (Talts et al. 2018, arXiv:1804.06788).
- :func:`expected_coverage`: coverage of highest-posterior-density regions at each credibility
  level (Hermans et al. 2022, arXiv:2110.06581).
- :func:`tarp`: Tests of Accuracy with Random Points (Lemos et al. 2023, arXiv:2302.03026).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from ..core.threads import limit_threads

__all__ = ["c2st", "sbc_ranks", "expected_coverage", "tarp", "coverage_error"]


def c2st(x: np.ndarray, y: np.ndarray, seed: int = 1, n_folds: int = 5) -> float:
    """Classifier two-sample test accuracy between samples x (n, d) and y (m, d)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mean, std = x.mean(0), x.std(0, ddof=1)
    std[std == 0] = 1.0
    x, y = (x - mean) / std, (y - mean) / std
    d = x.shape[1]
    clf = MLPClassifier(activation="relu", hidden_layer_sizes=(10 * d, 10 * d), max_iter=10000,
                        solver="adam", random_state=seed)
    data = np.concatenate([x, y])
    target = np.concatenate([np.zeros(len(x)), np.ones(len(y))])
    # one BLAS thread: the classifier's matrices are tiny, and multi-threaded BLAS spun on
    # 200x100 products (2.5 ms each instead of ~20 us) when the other core was busy
    with limit_threads(1):
        scores = cross_val_score(clf, data, target, cv=KFold(n_folds, shuffle=True, random_state=seed), scoring="accuracy")
    return float(np.mean(scores))


def sbc_ranks(posterior, theta: np.ndarray, x: np.ndarray, num_samples: int = 1000, seed: int = 0) -> np.ndarray:
    """Rank of each true parameter among posterior samples: array (m, d) in [0, num_samples]."""
    samples = posterior.sample_batched(x, num_samples, seed=seed)  # (m, n, d)
    return (samples < np.asarray(theta, np.float32)[:, None, :]).sum(1)


def expected_coverage(posterior, theta: np.ndarray, x: np.ndarray, num_samples: int = 1000,
                      levels: np.ndarray | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Empirical coverage of the HPD regions at credibility ``levels``.

    For each (theta*, x) the HPD level at which theta* sits is the fraction of posterior
    samples with a higher density than theta*. A calibrated posterior gives coverage = level.

    Returns
    -------
    levels, coverage : arrays (L,)
    """
    levels = np.linspace(0.0, 1.0, 21) if levels is None else np.asarray(levels)
    samples = posterior.sample_batched(x, num_samples, seed=seed)  # (m, n, d)
    x = np.asarray(x, np.float32)
    lp_true = posterior.log_prob(np.asarray(theta, np.float32), x)  # (m,)
    lp_samp = np.stack([posterior.log_prob(samples[:, j], x) for j in range(num_samples)], 1)  # (m, n)
    hpd_level = (lp_samp > lp_true[:, None]).mean(1)
    coverage = np.array([(hpd_level < a).mean() for a in levels])
    return levels, coverage


def tarp(samples: np.ndarray, theta: np.ndarray, num_refs: int = 1, seed: int = 0,
         levels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """TARP expected coverage probability curve.

    Parameters
    ----------
    samples : array (m, n, d)
        Posterior samples for m simulations.
    theta : array (m, d)
        True parameters.

    Returns
    -------
    levels, ecp : arrays (L,); a calibrated posterior lies on the diagonal.
    """
    rng = np.random.default_rng(seed)
    levels = np.linspace(0.0, 1.0, 21) if levels is None else np.asarray(levels)
    lo, hi = theta.min(0), theta.max(0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    s, t = (samples - lo) / scale, (theta - lo) / scale
    ecp = np.zeros_like(levels, dtype=float)
    for _ in range(num_refs):
        refs = rng.uniform(0, 1, size=t.shape)  # one random reference point per simulation
        d_samp = np.linalg.norm(s - refs[:, None, :], axis=-1)
        d_true = np.linalg.norm(t - refs, axis=-1)
        f = (d_samp < d_true[:, None]).mean(1)
        ecp += np.array([(f < a).mean() for a in levels])
    return levels, ecp / num_refs


def coverage_error(levels: np.ndarray, coverage: np.ndarray) -> float:
    """Largest absolute gap between empirical coverage and nominal level."""
    return float(np.max(np.abs(np.asarray(coverage) - np.asarray(levels))))
