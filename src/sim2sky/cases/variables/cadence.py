"""Survey cadences and photometric errors: when a survey observes a star and how well.

A :class:`Survey` is declared once (observing seasons, visits per season, error distribution,
amplitude factor of its band relative to OGLE's I band); :func:`sample_times` and
:func:`sample_errors` draw one star's epochs and per-epoch errors. The parameters were set from
the surveys' published descriptions and the time stamps and errors of their public light curves
(never their class labels): EROS-1 LMC (~120 epochs in three seasons over 894 d, median error
0.13 mag in B_E), SDSS Stripe 82 (~55 g-band epochs over 8 yr, most in 2005-2007 autumns,
Sesar et al. 2010, arXiv:0910.4611) and Kepler long cadence (29.4 min, 90-d quarters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.errors import InputError

__all__ = ["Survey", "SURVEYS", "get_survey", "sample_times", "sample_errors"]


@dataclass(frozen=True)
class Survey:
    """Cadence and noise of one survey band.

    Parameters
    ----------
    name : str
    seasons : tuple of (start_day, length_days, mean_visits)
        Observing seasons; visits are spread over each season's nights at random.
    start_jitter_days : float
        Shift of each season's start (weather, field visibility).
    error_median_mag, error_spread_dex : float
        Per-star median error: lognormal with this median and spread (dex).
    error_point_spread : float
        Relative scatter of the per-epoch errors around the star's median.
    band_amplitude : tuple of (low, high)
        Amplitude of the survey band over OGLE I-band amplitude (uniform in the range);
        long-period variables get a further factor ``lpv_extra_amplitude``.
    outlier_fraction : float
        Fraction of epochs offset by 3-8 sigma (cosmic rays, bad subtraction).
    cadence_days : float or None
        Fixed sampling step (space photometry); ``None`` for nightly ground-based visits.
    """

    name: str
    seasons: tuple
    start_jitter_days: float
    error_median_mag: float
    error_spread_dex: float
    error_point_spread: float
    band_amplitude: tuple
    lpv_extra_amplitude: tuple = (1.3, 2.2)
    outlier_fraction: float = 0.01
    cadence_days: float | None = None


SURVEYS = {
    "eros1": Survey("eros1", ((0, 116, 23), (336, 173, 60), (711, 183, 38)), 10.0, 0.13, 0.15, 0.25, (1.3, 1.9)),
    "s82": Survey("s82", ((0, 60, 4), (365, 60, 4), (730, 60, 4), (1095, 60, 4), (1460, 60, 3), (2555, 90, 13),
                          (2920, 90, 13), (3285, 90, 12)), 15.0, 0.012, 0.3, 0.25, (1.6, 2.3)),
    "kepler": Survey("kepler", ((0, 90, 0),), 0.0, 3e-4, 0.4, 0.05, (1.1, 1.5), outlier_fraction=0.002,
                     cadence_days=0.0204),
}


def get_survey(name: str) -> Survey:
    if isinstance(name, Survey):
        return name
    if name not in SURVEYS:
        raise InputError(f"survey: unknown survey {name!r}; choose one of {sorted(SURVEYS)}")
    return SURVEYS[name]


def sample_times(survey: Survey, rng: np.random.Generator) -> np.ndarray:
    """Epochs (n,) in days, sorted, for one star."""
    if survey.cadence_days:
        t = np.arange(0, sum(s[1] for s in survey.seasons), survey.cadence_days)
        gaps = rng.random(len(t)) < 0.02          # momentum dumps, flagged cadences
        return t[~gaps]
    out = []
    for start, length, visits in survey.seasons:
        start = start + rng.uniform(-survey.start_jitter_days, survey.start_jitter_days)
        nights = np.arange(int(length))
        n = min(len(nights), rng.poisson(visits))
        if n:
            chosen = rng.choice(nights, n, replace=False)
            out.append(start + chosen + rng.uniform(0.1, 0.4, n))   # hours into the night
    t = np.sort(np.concatenate(out)) if out else np.zeros(0)
    return t - (t[0] if len(t) else 0.0)


def sample_errors(survey: Survey, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-epoch 1-sigma errors (n,) in magnitudes for one star."""
    median = survey.error_median_mag * 10 ** (survey.error_spread_dex * rng.standard_normal())
    return median * np.exp(survey.error_point_spread * rng.standard_normal(n))
