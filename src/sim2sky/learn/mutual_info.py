"""Mutual information between multivariate continuous variables, with an error bar.

The Kraskov–Stögbauer–Grassberger estimator (KSG, algorithm 1; Kraskov et al. 2004,
arXiv:cond-mat/0305641): for each point the max-norm distance eps_i to its k-th neighbour in the
joint space (x, y), then the numbers n_x, n_y of points strictly closer than eps_i in each
marginal space, and ``I = psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)>`` in nats.

Written here because scikit-learn's ``mutual_info_regression`` (the same estimator) takes one
scalar feature against one scalar target, while representations are vectors (a latent space
against a parameter, or against all parameters at once); for 1-D inputs the two agree (tested).

The error bar comes from m disjoint random subsets of size N/m: their spread, scaled by
sqrt(1/m) to the full sample (the estimator's variance falls as 1/N; Holmes & Nemenman 2019,
arXiv:1903.09280, use the same subsampling idea). It measures the statistical error, not the
estimator's small-sample bias (which is negative for strongly dependent variables and shrinks
with N; see Gao et al. 2015, arXiv:1411.2003).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from ..core.errors import InputError

__all__ = ["mutual_information", "ksg_mutual_information"]


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"{name}: expected an array of shape (n,) or (n, d), got shape {a.shape}")
    return a


def ksg_mutual_information(x: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """KSG estimate (nats) of I(x; y) for x (n, dx), y (n, dy), already finite and scaled."""
    n = len(x)
    joint = np.hstack([x, y])
    # distance to the k-th neighbour (index 0 is the point itself)
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=-1)[0][:, -1]
    # strictly closer: shrink the radius by one ulp
    r = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True, workers=-1) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True, workers=-1) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1)))


def mutual_information(x, y, k: int = 3, n_splits: int = 5, max_samples: int | None = 50_000,
                       seed: int = 0) -> tuple[float, float]:
    """Mutual information I(x; y) in nats with its statistical error.

    Parameters
    ----------
    x : array (n,) or (n, dx)
        E.g. latent vectors or embedding outputs.
    y : array (n,) or (n, dy)
        E.g. one or several physical parameters.
    k : int
        Neighbours of the KSG estimator (3–10; larger is less variable, more biased).
    n_splits : int
        Disjoint subsets used for the error bar (each needs >= 10 k points).
    max_samples : int or None
        Random subsample used for the estimate when n is larger (KSG costs O(n log n) per split).
    seed : int

    Returns
    -------
    mi : float
        Estimate on the (sub)sample, nats (divide by ln 2 for bits).
    err : float
        1-sigma statistical error of ``mi``.
    """
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if len(x) != len(y):
        raise InputError(f"x and y: expected the same number of rows, got {len(x)} and {len(y)}")
    ok = np.isfinite(x).all(1) & np.isfinite(y).all(1)
    x, y = x[ok], y[ok]
    if len(x) < 10 * k * max(n_splits, 1):
        raise InputError(f"x, y: need at least {10 * k * max(n_splits, 1)} finite rows for k={k} and "
                         f"n_splits={n_splits}, got {len(x)}")
    rng = np.random.default_rng(seed)
    if max_samples is not None and len(x) > max_samples:
        keep = rng.choice(len(x), max_samples, replace=False)
        x, y = x[keep], y[keep]

    def scaled(a):
        sd = a.std(0)
        a = (a - a.mean(0)) / np.where(sd > 0, sd, 1.0)
        # break ties (discrete or repeated values), as scikit-learn does
        return a + 1e-10 * rng.standard_normal(a.shape)

    x, y = scaled(x), scaled(y)
    mi = ksg_mutual_information(x, y, k)
    if n_splits < 2:
        return mi, float("nan")
    parts = np.array_split(rng.permutation(len(x)), n_splits)
    sub = np.array([ksg_mutual_information(x[p], y[p], k) for p in parts])
    return mi, float(sub.std(ddof=1) / np.sqrt(n_splits))
