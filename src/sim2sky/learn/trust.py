"""Per-object trust: how unlike the training simulations an object is.

:class:`TrustScore` measures an object's distance to its ``k`` nearest training simulations in a
network's embedding (standardised per dimension), in units of the typical distance between
training simulations themselves (leave-one-out, so 1 is "as close as a fresh simulation").
The threshold is the ``quantile`` of the same statistic over held-out simulations: beyond it an
object is flagged ``unlike_training``, and with 0.99 one simulation in a hundred is flagged.

This is a k-NN density estimate in embedding space (Sun et al. 2022 for the k-NN out-of-distribution
detector); no parametric density is assumed.

:class:`StatisticTrust` does the same for one scalar statistic that a case can compute for
simulations and data alike, such as a posterior-predictive residual (how badly the theory at the
posterior median explains the data), referenced to its distribution over simulations. On the
MILES report half, for errors beyond 2 sigma of the shipped stellar-parameter posterior, the
embedding distance gave AUC 0.49-0.68 and the posterior-predictive residual 0.61-0.73
(``benchmarks/results_trust_stars.json``); see the docs, "Trusting results on real data".

References
----------
Sun, Y., Ming, Y., Zhu, X. & Li, Y. (2022), "Out-of-distribution detection with deep nearest neighbors",
arXiv:2204.06507.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..core.errors import InputError
from ..core.estimator import Estimator

__all__ = ["TrustScore", "StatisticTrust", "FLAG_UNLIKE_TRAINING"]

FLAG_UNLIKE_TRAINING = "unlike_training"


class TrustScore(Estimator):
    """k-NN distance to the training simulations in an embedding, with a simulation-based threshold.

    Parameters
    ----------
    k : int
        Neighbours averaged.
    quantile : float
        Quantile of held-out simulations' scores used as the ``unlike_training`` threshold.
    holdout : float
        Fraction of the reference embeddings held out to set the threshold.
    seed : int

    Attributes
    ----------
    reference_ : ndarray (m, d)   standardised reference embeddings
    mean_, scale_ : ndarray (d,)
    unit_ : float                 median k-NN distance among the reference (the score's unit)
    threshold_ : float
    """

    def __init__(self, k: int = 10, quantile: float = 0.99, holdout: float = 0.2, seed: int = 0):
        self.k, self.quantile, self.holdout, self.seed = k, quantile, holdout, seed

    def fit(self, z) -> "TrustScore":
        """``z`` (m, d): embeddings of simulations drawn like the training set."""
        z = np.asarray(z, float)
        if z.ndim != 2 or len(z) < 5 * (self.k + 1) or not np.isfinite(z).all():
            raise InputError(f"z: expected finite (m >= {5 * (self.k + 1)}, d) embeddings, got shape {z.shape}")
        self.mean_, self.scale_ = z.mean(0), np.maximum(z.std(0), 1e-6)
        zs = (z - self.mean_) / self.scale_
        perm = np.random.default_rng(self.seed).permutation(len(zs))
        n_hold = max(int(self.holdout * len(zs)), 1)
        self.reference_ = zs[perm[n_hold:]]
        self._tree = cKDTree(self.reference_)
        d_ref, _ = self._tree.query(self.reference_, self.k + 1)       # the first neighbour is itself
        self.unit_ = float(np.median(d_ref[:, 1:].mean(1)))
        self.threshold_ = float(np.quantile(self._raw(zs[perm[:n_hold]]), self.quantile))
        return self

    def _raw(self, zs: np.ndarray) -> np.ndarray:
        d, _ = self._tree.query(zs, self.k)
        return np.atleast_2d(d).mean(1) / self.unit_

    def score(self, z) -> np.ndarray:
        """Trust score (n,): larger is less like the training simulations."""
        z = np.asarray(z, float)
        if z.ndim != 2 or z.shape[1] != len(self.mean_):
            raise InputError(f"z: expected (n, {len(self.mean_)}) embeddings, got shape {z.shape}")
        if not hasattr(self, "_tree"):
            self._tree = cKDTree(self.reference_)
        out = np.full(len(z), np.inf)
        ok = np.isfinite(z).all(1)
        if ok.any():
            out[ok] = self._raw((z[ok] - self.mean_) / self.scale_)
        return out

    def flag(self, z) -> np.ndarray:
        """True (n,) where the score is beyond the threshold."""
        return self.score(z) > self.threshold_

    def to_arrays(self) -> tuple[dict, dict]:
        """``(json_state, arrays)`` for a model folder."""
        return ({"k": self.k, "quantile": self.quantile, "holdout": self.holdout, "seed": self.seed,
                 "unit": self.unit_, "threshold": self.threshold_},
                {"trust_reference": self.reference_, "trust_mean": self.mean_, "trust_scale": self.scale_})

    @classmethod
    def from_arrays(cls, state: dict, arrays: dict) -> "TrustScore":
        m = cls(state["k"], state["quantile"], state["holdout"], state["seed"])
        m.unit_, m.threshold_ = float(state["unit"]), float(state["threshold"])
        m.reference_ = np.asarray(arrays["trust_reference"], float)
        m.mean_, m.scale_ = np.asarray(arrays["trust_mean"], float), np.asarray(arrays["trust_scale"], float)
        return m


class StatisticTrust(Estimator):
    """A scalar misspecification statistic in units of its median over simulations, with the
    ``quantile`` of the simulations as the ``unlike_training`` threshold.

    Attributes
    ----------
    unit_ : float       median of the statistic over the reference simulations
    threshold_ : float  ``quantile`` of the reference, in units of ``unit_``
    """

    def __init__(self, quantile: float = 0.99):
        self.quantile = quantile

    def fit(self, stat) -> "StatisticTrust":
        """``stat`` (m,): the statistic of simulations drawn like the training set."""
        v = np.asarray(stat, float)
        v = v[np.isfinite(v)]
        if len(v) < 50:
            raise InputError(f"stat: expected >= 50 finite reference values, got {len(v)}")
        self.unit_ = float(np.median(v))
        self.threshold_ = float(np.quantile(v, self.quantile) / self.unit_)
        return self

    def score(self, stat) -> np.ndarray:
        v = np.asarray(stat, float) / self.unit_
        return np.where(np.isfinite(v), v, np.inf)

    def flag(self, stat) -> np.ndarray:
        return self.score(stat) > self.threshold_

    def to_arrays(self) -> tuple[dict, dict]:
        return {"kind": "statistic", "quantile": self.quantile, "unit": self.unit_, "threshold": self.threshold_}, {}

    @classmethod
    def from_arrays(cls, state: dict, arrays: dict | None = None) -> "StatisticTrust":
        m = cls(state["quantile"])
        m.unit_, m.threshold_ = float(state["unit"]), float(state["threshold"])
        return m
