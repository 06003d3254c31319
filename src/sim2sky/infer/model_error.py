"""Model error of a simulator, learned from theory-vs-data residuals and drawn into training sets.

A simulator is wrong in ways that can be measured wherever real objects with known parameters
exist: run the theory at the catalogue parameters and look at what is left. This module models
that residual as a low-rank random field, a principal-component basis whose coefficient means
and scales depend on one conditioning parameter (for stars, log T_eff: the model atmospheres'
missing opacity is a function of temperature), and draws it into new simulations, so that the
network learns to ignore directions in which theory and sky disagree.

This is the "learn the error, then inject it" recipe for misspecified simulation-based
inference. Ward et al. (2022) instead put an error model in summary space and denoise at
inference; `benchmarks/trust_stars.py` compares this one with noise augmentation on MILES stars.

References
----------
Ward, D., Cannon, P., Beaumont, M., Fasiolo, M. & Schmon, S. (2022), "Robust neural posterior
estimation and statistical model criticism", arXiv:2210.06564.
Cranmer, K., Brehmer, J. & Louppe, G. (2020), "The frontier of simulation-based inference",
arXiv:1911.01429.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.estimator import Estimator

__all__ = ["ResidualErrorModel", "remove_smooth"]


def remove_smooth(residual: np.ndarray, degree: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Subtract a weighted Legendre polynomial of ``degree`` from every row of ``residual`` (n, L).

    Smooth terms (dust, flux calibration) are already nuisances of the simulator; only what they
    cannot absorb is model error.
    """
    r = np.asarray(residual, float)
    w = np.ones_like(r) if weight is None else np.asarray(weight, float)
    basis = np.polynomial.legendre.legvander(np.linspace(-1, 1, r.shape[1]), degree)     # (L, d+1)
    out = np.empty_like(r)
    for i in range(len(r)):
        sw = np.sqrt(w[i])
        coef, *_ = np.linalg.lstsq(basis * sw[:, None], r[i] * sw, rcond=None)
        out[i] = r[i] - basis @ coef
    return out


class ResidualErrorModel(Estimator):
    """Theory-vs-data residuals (n, L) as a PCA random field conditioned on one parameter.

    Parameters
    ----------
    components : int
        Principal components kept (the rest of the residual is treated as noise).
    bins : int
        Quantile bins of the conditioning parameter; coefficient means and scales are
        interpolated linearly between bin centres (constant beyond the outer centres).
    smooth_degree : int or None
        Degree of the Legendre polynomial removed from each residual before the PCA
        (None keeps smooth terms).
    scale : float
        Multiplier on the drawn coefficients' spread (1 = as measured).

    Attributes
    ----------
    components_ : ndarray (k, L)
    centres_ : ndarray (bins,)  bin centres of the conditioning parameter
    coef_mean_, coef_std_ : ndarray (bins, k)
    explained_variance_ratio_ : ndarray (k,)
    n_fit_ : int
    """

    def __init__(self, components: int = 8, bins: int = 3, smooth_degree: int | None = 3, scale: float = 1.0):
        self.components, self.bins, self.smooth_degree, self.scale = components, bins, smooth_degree, scale

    def fit(self, residual, cond, weight=None) -> "ResidualErrorModel":
        """Fit to residuals (n, L) (0 where unmeasured, with ``weight`` 0 there) and the conditioning
        parameter (n,)."""
        r = np.asarray(residual, float)
        c = np.asarray(cond, float)
        if r.ndim != 2 or len(c) != len(r):
            raise InputError(f"residual: expected (n, L) with n = len(cond) = {len(c)}, got {r.shape}")
        if not (np.isfinite(r).all() and np.isfinite(c).all()):
            raise InputError("residual/cond: NaN or inf; set unmeasured pixels to 0 with weight 0")
        k = int(min(self.components, len(r) - 1, r.shape[1]))
        if k < 1 or len(r) < 2 * self.bins:
            raise InputError(f"residual: {len(r)} rows are too few for {self.bins} bins and {self.components} components")
        if self.smooth_degree is not None:
            r = remove_smooth(r, self.smooth_degree, weight)
        if weight is not None:
            r = np.where(np.asarray(weight) > 0, r, 0.0)
        _, s, vt = np.linalg.svd(r, full_matrices=False)        # uncentred: the mean error is part of the error
        self.components_ = vt[:k]
        self.explained_variance_ratio_ = (s[:k] ** 2) / np.sum(s**2)
        coef = r @ self.components_.T
        edges = np.quantile(c, np.linspace(0, 1, self.bins + 1))
        idx = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, self.bins - 1)
        self.centres_ = np.array([np.median(c[idx == b]) for b in range(self.bins)])
        self.coef_mean_ = np.stack([coef[idx == b].mean(0) for b in range(self.bins)])
        self.coef_std_ = np.stack([coef[idx == b].std(0, ddof=1) for b in range(self.bins)])
        self.n_fit_ = len(r)
        return self

    def _interp(self, table: np.ndarray, cond: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(cond, self.centres_, table[:, j]) for j in range(table.shape[1])], 1)

    def sample(self, cond, rng=None) -> np.ndarray:
        """Draws of the model error (n, L) at conditioning values ``cond`` (n,)."""
        c = np.asarray(cond, float).ravel()
        rng = np.random.default_rng(rng)
        z = rng.standard_normal((len(c), len(self.components_)))
        coef = self._interp(self.coef_mean_, c) + self.scale * self._interp(self.coef_std_, c) * z
        return coef @ self.components_

    def to_dict(self) -> dict:
        """JSON-safe state (model folders never hold pickles)."""
        return {"components": self.components, "bins": self.bins, "smooth_degree": self.smooth_degree,
                "scale": self.scale, "n_fit": self.n_fit_, "centres": self.centres_.tolist(),
                "coef_mean": self.coef_mean_.tolist(), "coef_std": self.coef_std_.tolist(),
                "explained_variance_ratio": self.explained_variance_ratio_.tolist(),
                "basis": self.components_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "ResidualErrorModel":
        m = cls(d["components"], d["bins"], d["smooth_degree"], d["scale"])
        m.n_fit_ = int(d["n_fit"])
        m.centres_, m.coef_mean_, m.coef_std_ = (np.asarray(d[k], float) for k in ("centres", "coef_mean", "coef_std"))
        m.explained_variance_ratio_ = np.asarray(d["explained_variance_ratio"], float)
        m.components_ = np.asarray(d["basis"], float)
        return m
