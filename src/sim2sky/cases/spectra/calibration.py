"""``sim2sky spectra calibrate``: the stellar-parameter posterior calibrated on real labelled stars,
and the redshift posterior calibrated per S/N.

Fitted on stars with catalogue T_eff, log g and [Fe/H] (columns ``TEFF``, ``LOGG``, ``FEH``;
9999 or NaN = unknown), e.g. the calibration half of the MILES development set
(:func:`~.realstars.miles_split`):

* an :class:`~sim2sky.infer.calibrate.IntervalCalibration` per parameter (in the model's
  space: log10 T_eff, log g, [Fe/H]) at 68% and 95%, for each of three T_eff groups
  (:data:`TEFF_GROUPS`; a group with < 30 stars uses the pooled fit);
* a trust score: the posterior-predictive residual :func:`~.stars.theory_mismatch` (how
  badly ATLAS9 at the posterior median explains the spectrum) in units of its median over
  fresh simulations drawn like the training set (:class:`~sim2sky.learn.trust.StatisticTrust`);
  stars beyond the simulations' 99th percentile are flagged ``unlike_training``. (The k-NN
  distance in the posterior's embedding, :class:`~sim2sky.learn.trust.TrustScore`, ranked MILES
  errors less well: AUC 0.49-0.68 against 0.61-0.73.)

The new model folder records the calibration set's SHA-256 and size, the fitted numbers, the
coverage reached on 5 cross-validated folds of the set and how the trust score ranks the
largest errors (AUC).

The redshift posterior (``target="redshift"``) under-covers even on its own theory (68% intervals
hold 51-64% of simulated redshifts, lowest at low S/N), so it is calibrated on labelled spectra
(``TRUE_Z`` or ``z``: fresh simulations from ``sim2sky spectra simulate`` with another seed, or real
spectra with catalogue redshifts where enough exist) with one shift and conformal width per S/N
group (:data:`SNR_GROUPS`), in log(1 + z). Both calibrations can live in one folder: calibrating
one keeps the other.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from ...core.calibration import data_digest, read_calibration, write_calibrated
from ...core.errors import InputError
from ...infer.calibrate import IntervalCalibration
from ...infer.model_error import ResidualErrorModel
from ...learn.trust import StatisticTrust
from .io import spectrum_set
from .pipeline import SpectraPipeline, model_inputs, star_grid_inputs
from .schema import STAR_KEYS
from .stars import StarObservation, posterior_mismatch, simulate_stars, star_inputs

__all__ = ["calibrate_stars", "calibrate_redshift", "star_truth", "redshift_truth", "rank_auc", "reference_mismatch",
           "TEFF_GROUPS", "SNR_GROUPS", "Z_COLUMNS"]

#: Mondrian groups of the interval calibration: the posterior median of log10 T_eff cut at 4000 K
#: and 7000 K (M, FGK, hotter), because ATLAS9's errors differ by type (M stars' molecular bands).
TEFF_GROUPS = (0, [float(np.log10(4000.0)), float(np.log10(7000.0))])

#: Mondrian groups of the redshift calibration: the spectrum's median S/N per pixel cut at 5, 10, 20, 50
#: (the posterior's under-coverage falls with S/N: 68% intervals held 0.51 at S/N 2-5, 0.64 at > 50)
SNR_GROUPS = ("covariate", [5.0, 10.0, 20.0, 50.0])
#: columns read as the true redshift, in this order
Z_COLUMNS = ("TRUE_Z", "z", "Z", "REDSHIFT", "redshift")


def _keep_other(model_dir, record: dict, target: str) -> tuple[dict, dict]:
    """``record`` merged with the other target's calibration already in ``model_dir`` (and its arrays)."""
    old, arrays = read_calibration(model_dir)
    if old is None:
        return record, {}
    if target == "stars":
        other = old.get("redshift") or (old if old.get("model") == "redshift" else None)
        return ({**record, "redshift": other} if other else record), {}
    stars = {k: v for k, v in old.items() if k != "redshift"} if old.get("model") == "stars" else None
    return ({**stars, "redshift": record} if stars else record), (arrays if stars else {})


def star_truth(meta: dict) -> np.ndarray:
    """Catalogue parameters in the model's space (n, 3): log10 T_eff, log g, [Fe/H]; NaN = unknown."""
    missing = [k for k in STAR_KEYS if k not in meta]
    if missing:
        raise InputError(f"labelled data: no column {', '.join(missing)}; calibration needs the catalogue "
                         f"{', '.join(STAR_KEYS)} of every star (9999 or NaN where unknown)")
    t = np.stack([np.asarray(meta[k], float) for k in STAR_KEYS], 1)
    t = np.where(np.isin(t, (9999.0, -9999.0)) | ~np.isfinite(t), np.nan, t)
    if (t[:, 0] <= 0).any():
        raise InputError("TEFF: catalogue temperatures must be > 0 K")
    t[:, 0] = np.log10(t[:, 0])
    return t


def rank_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``positive``; NaN if one class is empty."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)
    pos = np.asarray(positive, bool)
    if pos.all() or not pos.any():
        return float("nan")
    return float(roc_auc_score(pos, np.nan_to_num(np.asarray(score, float), posinf=np.finfo(float).max)))


def reference_mismatch(pipe, n: int, seed: int) -> np.ndarray:
    """The mismatch statistic of ``n`` fresh simulations drawn as the stars model's training set
    was (its recorded model error and noise augmentation included), another seed."""
    prov = pipe.stars.provenance or {}
    err = ResidualErrorModel.from_dict(prov["model_error"]) if prov.get("model_error") else None
    sims = simulate_stars(n, seed=seed + 7919, obs=StarObservation(), model_error=err,
                          augment_noise=float(prov.get("augment_noise", 0.0)))
    x = star_inputs(sims["flux"], sims["ivar"], pipe.star_normalise)
    return posterior_mismatch(x, pipe.star_samples_raw(x, seed=seed))


def calibrate_stars(data, out, model=None, *, method: str = "scale", reference: int = 4000, samples: int = 200,
                    seed: int = 0, overwrite: bool = False) -> dict:
    """Calibrate the stellar-parameter posterior of ``model`` (shipped when None) on labelled stars
    ``data`` (anything :func:`~.io.spectrum_set` reads, with ``TEFF``/``LOGG``/``FEH``); write ``out``.

    Returns the calibration record (also ``out/calibration.json``).
    """
    s = spectrum_set(data)
    truth = star_truth(s.meta)
    keep = np.isfinite(truth).any(1)
    if keep.sum() < 20:
        raise InputError(f"labelled data: {int(keep.sum())} stars with catalogue parameters; calibration needs >= 20")
    s, truth = s[np.flatnonzero(keep)], truth[keep]
    pipe = SpectraPipeline(model, star_samples=samples)
    if pipe.stars is None:
        raise InputError(f"model folder {pipe.model_dir} has no stars/ model to calibrate")
    xs, _ = star_grid_inputs(s, pipe.star_normalise)
    draws = pipe.star_samples_raw(xs, seed=seed)
    cal = IntervalCalibration((0.68, 0.95), method=method, group_by=TEFF_GROUPS).fit(draws, truth)
    cv = cal.cross_validate(draws, truth, seed=seed)
    trust = StatisticTrust().fit(reference_mismatch(pipe, reference, seed))
    score = trust.score(posterior_mismatch(xs, draws))
    iv = cal.intervals(draws)
    sd = (iv["hi68"] - iv["lo68"]) / 2
    big = np.abs(truth - iv["median"]) > 2 * sd                      # > 2 sigma of the calibrated posterior
    state, arrays = trust.to_arrays()
    record = {
        "case": "spectra", "model": "stars", "parameters": ["log10 T_eff", "log g", "[Fe/H]"],
        "dataset": data_digest(data if not hasattr(data, "meta") else repr(sorted(s.meta)).encode() + truth.tobytes(),
                               len(s)),
        "fitted": {"intervals": cal.to_dict(), "trust": state},
        "cross_validated": cv,
        "trust_on_calibration_set": {
            "flagged_fraction": float(np.mean(score > trust.threshold_)),
            "auc_large_error": {k: rank_auc(score[np.isfinite(truth[:, j])], big[np.isfinite(truth[:, j]), j])
                                for j, k in enumerate(STAR_KEYS)}},
        "settings": {"method": method, "reference": reference, "samples": samples, "seed": seed},
    }
    merged, _ = _keep_other(pipe.model_dir, record, "stars")
    write_calibrated(pipe.model_dir, out, merged, arrays, overwrite=overwrite)
    return record


def redshift_truth(meta: dict) -> np.ndarray:
    """The true redshift (n,) from the first of :data:`Z_COLUMNS` in ``meta``."""
    col = next((c for c in Z_COLUMNS if c in meta), None)
    if col is None:
        raise InputError(f"labelled data: no redshift column (one of {', '.join(Z_COLUMNS)})")
    z = np.asarray(meta[col], float)
    if not np.isfinite(z).all() or (z <= -1).any():
        raise InputError(f"{col}: redshifts must be finite and > -1")
    return z


def calibrate_redshift(data, out, model=None, *, method: str = "scale", samples: int = 1000, seed: int = 0,
                       overwrite: bool = False) -> dict:
    """Calibrate the redshift posterior of ``model`` (shipped when None) on labelled spectra
    ``data`` (with ``TRUE_Z`` or ``z``): shift and conformal widths at 68% and 95% per S/N group
    (``method="scale"``) or CQR margins (``"cqr"``), in log(1 + z). Writes ``out``; returns the record.

    A one-parameter flow is fitted on ``samples`` stratified points of each posterior (its exact
    quantiles at (k + 1/2) / samples), so the widths the calibration scales are the exact quantiles
    that prediction uses (:meth:`~.pipeline.SpectraPipeline.redshift_summaries`); other posteriors
    on ``samples`` draws."""
    s = spectrum_set(data)
    z = redshift_truth(s.meta)
    if len(s) < 50:
        raise InputError(f"labelled data: {len(s)} spectra; the redshift calibration needs >= 50")
    pipe = SpectraPipeline(model, z_samples=samples)
    if pipe.redshift is None:
        raise InputError(f"model folder {pipe.model_dir} has no redshift/ model to calibrate")
    x, _, snr, _ = model_inputs(s)
    if pipe.redshift.exact_quantiles:
        draws = pipe.redshift.at_base(x, ndtri((np.arange(samples) + 0.5) / samples))
    else:
        draws = pipe.redshift_samples_raw(x, seed=seed)
    truth = np.log1p(z)[:, None]
    cal = IntervalCalibration((0.68, 0.95), method=method, floor=False, group_by=SNR_GROUPS).fit(draws, truth, snr)
    edges = [0.0, *SNR_GROUPS[1], np.inf]
    per_snr = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (snr >= lo) & (snr < hi)
        if m.sum() >= 25:
            q = np.quantile(draws[m, :, 0], [0.16, 0.84], axis=1)
            per_snr[f"{lo:g}-{hi:g}"] = {"n": int(m.sum()), "coverage68_before": float(np.mean(
                (truth[m, 0] >= q[0]) & (truth[m, 0] <= q[1])))}
    record = {
        "case": "spectra", "model": "redshift", "parameters": ["log(1 + z)"],
        "dataset": data_digest(data if not hasattr(data, "meta") else repr(sorted(s.meta)).encode() + z.tobytes(),
                               len(s)),
        "fitted": {"intervals": cal.to_dict()},
        "cross_validated": cal.cross_validate(draws, truth, seed=seed, covariate=snr),
        "coverage_before_by_snr": per_snr,
        "settings": {"method": method, "samples": samples, "seed": seed,
                     "points": "stratified quantiles" if pipe.redshift.exact_quantiles else "draws"},
    }
    merged, arrays = _keep_other(pipe.model_dir, record, "redshift")
    write_calibrated(pipe.model_dir, out, merged, arrays, overwrite=overwrite)
    return record
