"""Measurements shared by the deblender and its peers: adaptive-moment shapes, matching, binned bias.

Shapes are GalSim's adaptive moments (HSM; Hirata & Seljak 2003, arXiv:astro-ph/0301054) of
each galaxy's deblended image, compared with the same estimator on its noiseless isolated image.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...core.extras import require

__all__ = ["adaptive_shapes", "match_positions"]


def adaptive_shapes(stamps: np.ndarray) -> np.ndarray:
    """Observed reduced shears (g1, g2) of each stamp (n, h, w): (n, 2), NaN where HSM fails."""
    galsim = require("galsim")

    out = np.full((len(stamps), 2), np.nan)
    for k, s in enumerate(stamps):
        if not np.isfinite(s).all() or s.sum() <= 0:
            continue
        try:
            mom = galsim.hsm.FindAdaptiveMom(galsim.Image(np.ascontiguousarray(s, np.float64)), strict=True)
        except (galsim.errors.GalSimHSMError, galsim.errors.GalSimError, RuntimeError):
            continue
        out[k] = mom.observed_shape.g1, mom.observed_shape.g2
    return out


def match_positions(x_true, y_true, x_det, y_det, max_distance: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching within ``max_distance`` pixels (Hungarian on distances).

    Returns ``(det_of_true (n_true,), true_of_det (n_det,))`` with -1 for unmatched.
    """
    det_of_true = -np.ones(len(x_true), int)
    true_of_det = -np.ones(len(x_det), int)
    if len(x_true) == 0 or len(x_det) == 0:
        return det_of_true, true_of_det
    d = np.hypot(np.asarray(x_true)[:, None] - np.asarray(x_det)[None], np.asarray(y_true)[:, None] - np.asarray(y_det)[None])
    cost = np.where(d <= max_distance, d, 1e6)
    rows, cols = linear_sum_assignment(cost)
    ok = cost[rows, cols] < 1e6
    det_of_true[rows[ok]], true_of_det[cols[ok]] = cols[ok], rows[ok]
    return det_of_true, true_of_det

