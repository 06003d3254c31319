"""The latent-space toolkit: projections, clusters checked against labels, anomaly scores, and
two-sample tests between latent spaces (theory vs data).

- :func:`project` — UMAP (McInnes et al. 2018, arXiv:1802.03426) via ``umap-learn``.
- :func:`cluster` — HDBSCAN (Campello et al. 2013; McInnes et al. 2017) via scikit-learn, on a
  random subsample when the set is large, the rest assigned to the cluster of its nearest
  clustered neighbour (HDBSCAN is quadratic in time beyond a few 10^4 points).
- :func:`cluster_report` — purity of each cluster and completeness of each known class.
- :class:`DensityScorer` — an unconditional neural spline flow fitted to the latents; anomaly
  score = -log p(z) (spender, Liang et al. 2023, arXiv:2211.07890).
- :func:`two_sample_test` — classifier two-sample test (C2ST; Lopez-Paz & Oquab 2016,
  arXiv:1610.06545) and the kernel MMD with a permutation p-value (Gretton et al. 2012).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import HDBSCAN
from sklearn.neighbors import KNeighborsClassifier
from sklearn import metrics
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_score

from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.extras import require
from ..core.modelio import read_model_folder, save_model_folder
from ..nn.flows import build_flow
from .loop import LoopConfig, fit_epochs

__all__ = ["project", "cluster", "cluster_report", "DensityScorer", "two_sample_test", "latent_tension", "mmd_rbf"]


def _finite_2d(z, name: str = "z") -> np.ndarray:
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise InputError(f"{name}: expected a non-empty array of shape (n, d), got {z.shape}")
    if not np.isfinite(z).all():
        raise InputError(f"{name}: {int((~np.isfinite(z).all(1)).sum())} rows contain NaN or inf")
    return z


def _fit_rows(n: int, max_fit: int | None, rng) -> tuple[np.ndarray, np.ndarray]:
    """Sorted random rows to fit on (all when n <= max_fit) and the rest."""
    fit = np.arange(n) if max_fit is None or n <= max_fit else np.sort(rng.choice(n, max_fit, replace=False))
    return fit, np.setdiff1d(np.arange(n), fit)


def project(z, n_neighbors: int = 30, min_dist: float = 0.1, seed: int = 0, max_fit: int | None = 100_000) -> np.ndarray:
    """UMAP projection of z (n, d) to 2-D (n, 2); fitted on at most ``max_fit`` random rows, the
    rest transformed."""
    umap = require("umap")   # numba compiles on first import (~10 s): only when asked for (an extra)

    z = _finite_2d(z)
    fit_idx, rest = _fit_rows(len(z), max_fit, np.random.default_rng(seed))
    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(fit_idx) - 1), min_dist=min_dist, random_state=seed,
                        n_jobs=1)
    out = np.empty((len(z), 2), np.float32)
    out[fit_idx] = reducer.fit_transform(z[fit_idx])
    if len(rest):
        out[rest] = reducer.transform(z[rest])
    return out


def cluster(z, min_cluster_size: int = 50, min_samples: int | None = None, max_fit: int = 30_000, seed: int = 0) -> np.ndarray:
    """HDBSCAN cluster labels (n,) of z (n, d); -1 = noise."""

    z = _finite_2d(z)
    fit_idx, rest = _fit_rows(len(z), max_fit, np.random.default_rng(seed))
    labels_fit = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(z[fit_idx])
    labels = np.full(len(z), -1, int)
    labels[fit_idx] = labels_fit
    if len(rest):
        labels[rest] = KNeighborsClassifier(n_neighbors=1).fit(z[fit_idx], labels_fit).predict(z[rest])
    return labels


def cluster_report(labels, truth) -> dict:
    """How clusters match known classes.

    Returns ``purity`` (fraction of clustered objects in their cluster's majority class),
    ``completeness`` per class (largest fraction of the class found in one cluster, noise
    excluded from the numerator), ``clusters`` (majority class, size, purity of each),
    ``noise_fraction``, and scikit-learn's homogeneity / completeness / V-measure / ARI.
    """

    labels, truth = np.asarray(labels), np.asarray(truth).astype(str)
    if labels.shape != truth.shape:
        raise InputError(f"labels and truth: expected the same shape, got {labels.shape} and {truth.shape}")
    clustered = labels >= 0
    clusters, majority_hits = {}, 0
    for c in np.unique(labels[clustered]):
        cls, counts = np.unique(truth[labels == c], return_counts=True)
        clusters[int(c)] = {"majority": str(cls[counts.argmax()]), "size": int(counts.sum()),
                            "purity": float(counts.max() / counts.sum())}
        majority_hits += int(counts.max())
    completeness = {}
    for cls in np.unique(truth):
        sel = truth == cls
        lab = labels[sel & clustered]
        completeness[str(cls)] = float(np.bincount(lab).max() / sel.sum()) if len(lab) else 0.0
    h, c, v = metrics.homogeneity_completeness_v_measure(truth[clustered], labels[clustered]) if clustered.any() else (0, 0, 0)
    return {"n_clusters": len(clusters), "noise_fraction": float(1 - clustered.mean()),
            "purity": float(majority_hits / max(clustered.sum(), 1)), "completeness": completeness,
            "clusters": clusters, "homogeneity": float(h), "sklearn_completeness": float(c), "v_measure": float(v),
            "adjusted_rand": float(metrics.adjusted_rand_score(truth[clustered], labels[clustered])) if clustered.any() else 0.0}


class DensityScorer(Estimator):
    """Density of latent vectors with a neural spline flow; ``score(z) = -log p(z)`` ranks anomalies.

    Parameters
    ----------
    transforms, hidden, bins : flow size (zuko NSF with coupling layers)
    config : LoopConfig

    Attributes
    ----------
    flow_ : zuko.flows.Flow
    history_ : dict
    """

    def __init__(self, transforms: int = 4, hidden=(64, 64), bins: int = 8,
                 config: LoopConfig = LoopConfig(epochs=30, batch_size=1024, learning_rate=2e-3)):
        self.transforms, self.hidden, self.bins, self.config = transforms, tuple(hidden), bins, config

    def _build(self, d: int):
        torch.manual_seed(self.config.seed)
        flow, std = build_flow("nsf", d, 0, transforms=self.transforms, hidden_features=self.hidden, bins=self.bins,
                               mixing="lu")
        return flow, std

    def fit(self, z, progress: bool = False, max_fit: int | None = 100_000) -> "DensityScorer":
        """Fit to z (n, d); at most ``max_fit`` random rows (the density of a few 10^5 latents
        is learned as well from 10^5)."""
        z = _finite_2d(z)
        if max_fit is not None and len(z) > max_fit:
            z = z[np.random.default_rng(self.config.seed).choice(len(z), max_fit, replace=False)]
        self.dim_ = z.shape[1]
        flow, std = self._build(self.dim_)
        zt = torch.as_tensor(z, dtype=torch.float32)
        std.loc.copy_(zt.mean(0))
        std.scale.copy_(zt.std(0).clamp_min(1e-6))
        self.history_ = fit_epochs(lambda idx, frac: -flow().log_prob(zt[idx]).mean(), len(zt), flow.parameters(),
                                   self.config, progress, "density flow")
        self.flow_ = flow.eval()
        return self

    def log_prob(self, z, batch: int = 65536) -> np.ndarray:
        z = _finite_2d(z)
        if z.shape[1] != self.dim_:
            raise InputError(f"z: expected {self.dim_} latent dimensions, got {z.shape[1]}")
        with torch.no_grad():
            return np.concatenate([self.flow_().log_prob(torch.as_tensor(z[i:i + batch], dtype=torch.float32)).numpy()
                                   for i in range(0, len(z), batch)])

    def score(self, z) -> np.ndarray:
        """Anomaly score -log p(z) (n,): larger is more unusual."""
        return -self.log_prob(z)

    def save(self, out):
        return save_model_folder(out, "density", self.flow_.state_dict(),
                                 {"dim": self.dim_, "transforms": self.transforms, "hidden": list(self.hidden), "bins": self.bins})

    @classmethod
    def load(cls, path) -> "DensityScorer":
        config, state = read_model_folder(path, "density")
        try:
            obj = cls(config["transforms"], config["hidden"], config["bins"])
            obj.dim_ = int(config["dim"])
            flow, _ = obj._build(obj.dim_)
            flow.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: not a valid density model folder ({exc})") from None
        obj.flow_ = flow.eval()
        return obj


def mmd_rbf(kernel: np.ndarray, in_a: np.ndarray) -> float:
    """Unbiased squared MMD from the pooled kernel matrix (N, N) and a boolean mask of sample a."""
    ka, kb = kernel[np.ix_(in_a, in_a)], kernel[np.ix_(~in_a, ~in_a)]
    n, m = int(in_a.sum()), int((~in_a).sum())
    return float((ka.sum() - np.trace(ka)) / (n * (n - 1)) + (kb.sum() - np.trace(kb)) / (m * (m - 1))
                 - 2 * kernel[np.ix_(in_a, ~in_a)].mean())


def two_sample_test(a, b, max_samples: int = 5000, permutations: int = 200, seed: int = 0) -> dict:
    """How distinguishable two samples are (e.g. theory latents vs data latents).

    Parameters
    ----------
    a, b : arrays (n, d), (m, d)
    max_samples : int
        Each sample is subsampled to at most this many rows, and the two to the same size
        (a C2ST on unbalanced sets would report the imbalance).

    Returns
    -------
    dict with ``c2st`` (5-fold cross-validated accuracy of a gradient-boosted classifier; 0.5 =
    indistinguishable, 1 = disjoint) and ``c2st_err`` (binomial error), ``c2st_p`` (one-sided
    p-value of accuracy under 0.5), ``mmd2`` (unbiased squared MMD, median-heuristic bandwidth)
    and ``mmd_p`` (permutation p-value), and ``n`` (rows per sample used).
    """

    a, b = _finite_2d(a, "a"), _finite_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"a and b: expected the same number of columns, got {a.shape[1]} and {b.shape[1]}")
    if min(len(a), len(b)) < 20:
        raise InputError(f"a, b: need at least 20 rows each, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b), max_samples)
    a, b = a[rng.choice(len(a), n, replace=False)], b[rng.choice(len(b), n, replace=False)]
    x = np.vstack([a, b])
    y = np.r_[np.zeros(n), np.ones(n)]
    # rows that occur in both samples (the same object twice, or the same file given twice) are
    # kept in one fold: split apart, the classifier memorises each copy's label and scores the
    # other copy wrong, which drove the accuracy on identical inputs to 0.11 instead of 0.5
    groups = np.unique(x, axis=0, return_inverse=True)[1].ravel()
    if groups.max() + 1 < len(x):
        cv = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    else:                       # no shared rows: the plain stratified split (same folds as before)
        cv, groups = StratifiedKFold(5, shuffle=True, random_state=seed), None
    acc = float(cross_val_score(HistGradientBoostingClassifier(max_iter=100, random_state=seed), x, y, cv=cv,
                                groups=groups).mean())
    err = float(np.sqrt(0.25 / (2 * n)))
    # MMD on at most 1000 per side (O(n^2) memory), standardised jointly
    m = min(n, 1000)
    xa, xb = a[:m], b[:m]
    pooled = np.vstack([xa, xb])
    pooled = (pooled - pooled.mean(0)) / np.where(pooled.std(0) > 0, pooled.std(0), 1.0)
    d2 = np.maximum((pooled ** 2).sum(1)[:, None] + (pooled ** 2).sum(1)[None] - 2 * pooled @ pooled.T, 0)
    bandwidth2 = float(np.median(d2[np.triu_indices(len(pooled), 1)])) / 2 or 1.0
    kernel = np.exp(-d2 / (2 * bandwidth2))
    in_a = np.r_[np.ones(m, bool), np.zeros(m, bool)]
    stat = mmd_rbf(kernel, in_a)
    null = np.array([mmd_rbf(kernel, rng.permutation(in_a)) for _ in range(permutations)])
    return {"c2st": acc, "c2st_err": err, "c2st_p": float(norm.sf((acc - 0.5) / err)), "mmd2": stat,
            "mmd_p": float((1 + np.sum(null >= stat)) / (1 + permutations)), "n": int(n)}


def latent_tension(z_theory, z_data, score_theory, score_data, groups: dict | None = None, seed: int = 0,
                   min_size: int = 20) -> dict:
    """Theory vs data in one latent space: :func:`two_sample_test` plus ``data_outside_theory_99``,
    the fraction of data objects with an anomaly score above 99% of the theory objects'.

    Parameters
    ----------
    z_theory, z_data : (n, d), (m, d) latents
    score_theory, score_data : (n,), (m,) anomaly scores under the theory density
    groups : {name: (mask of theory rows, mask of data rows)}, optional
        Also compare these subsets (skipped when either has fewer than ``min_size`` rows).

    Returns ``{"overall": row, name: row, ...}``, each row with ``n_theory`` and ``n_data``.
    """
    cut = float(np.quantile(score_theory, 0.99))
    score_data = np.asarray(score_data)

    def row(zt, zd, sd):
        return {**two_sample_test(zt, zd, seed=seed), "n_theory": len(zt), "n_data": len(zd),
                "data_outside_theory_99": float((sd > cut).mean())}

    out = {"overall": row(z_theory, z_data, score_data)}
    for name, (mt, md) in (groups or {}).items():
        if min(int(mt.sum()), int(md.sum())) >= min_size:
            out[name] = row(z_theory[mt], z_data[md], score_data[md])
    return out
