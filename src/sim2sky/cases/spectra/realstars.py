"""Real stars with catalogue parameters: the MILES split, theory-vs-data residuals, the model error.

The MILES development set (656 stars) is cut once, by a seeded permutation, into a *calibration*
half (model error, DANN target, calibration, The Cannon's training set) and a *report* half that
nothing is fitted on; every number of the stars table in the docs is measured on the report half.
"""

from __future__ import annotations

import numpy as np

from ...infer.model_error import ResidualErrorModel
from .io import SpectrumSet
from .pipeline import star_grid_inputs
from .stars import emulate_atlas9

__all__ = ["MILES_SPLIT_SEED", "miles_labels", "miles_split", "star_residuals", "fit_star_model_error"]

#: seed of the calibration/report cut of the MILES development set (never changed: results depend on it)
MILES_SPLIT_SEED = 20261206


def miles_labels(s: SpectrumSet) -> np.ndarray:
    """Catalogue (T_eff [K], log g [dex], [Fe/H] [dex]) as (n, 3), NaN where missing (9999)."""
    p = np.stack([np.asarray(s.meta[k], float) for k in ("TEFF", "LOGG", "FEH")], 1)
    return np.where(np.isin(p, (9999.0, -9999.0)) | ~np.isfinite(p), np.nan, p)


def miles_split(n: int, seed: int = MILES_SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (calibration, report) of a seeded half/half cut of ``n`` stars, each sorted."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def star_residuals(s: SpectrumSet, normalise: str = "mean") -> dict:
    """ln(data / ATLAS9 at the catalogue parameters) on the stellar grid, for the stars whose
    parameters are all catalogued and inside the ATLAS9 grid.

    Returns ``residual`` (m, L), ``weight`` (m, L) (0 where unmeasured), ``index`` (m,) into ``s``
    and ``log_teff`` (m,).
    """
    x, _ = star_grid_inputs(s, normalise)
    p = miles_labels(s)
    theory = emulate_atlas9(np.nan_to_num(p, nan=-99.0))
    ok = np.isfinite(p).all(1) & np.isfinite(theory).all(1)
    f = 10 ** (theory[ok] - theory[ok].mean(1, keepdims=True))
    f /= f.mean(1, keepdims=True)
    good = x[ok, 1] > 0
    r = np.where(good, np.log(np.clip(x[ok, 0], 1e-3, None) / f), 0.0)
    return {"residual": r, "weight": good.astype(float), "index": np.flatnonzero(ok), "log_teff": np.log10(p[ok, 0])}


def fit_star_model_error(s: SpectrumSet, components: int = 8, bins: int = 3) -> ResidualErrorModel:
    """A :class:`~sim2sky.infer.model_error.ResidualErrorModel` of ATLAS9 fitted on the stars of ``s``,
    conditioned on log T_eff; a cubic Legendre term per star (dust, flux calibration: nuisances
    the simulator already draws) is removed first."""
    d = star_residuals(s)
    return ResidualErrorModel(components, bins, smooth_degree=3).fit(d["residual"], d["log_teff"], d["weight"])

