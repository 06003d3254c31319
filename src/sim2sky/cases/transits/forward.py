"""Kepler-like light curves that produce threshold-crossing events, by scenario.

One 90-d quarter at long cadence (29.4 min), 2% of cadences missing and a 1-d data-download
gap, white noise of 40-400 ppm per cadence (Kepler's range for 10-15 mag dwarfs), starspot
variability (two quasi-periodic harmonics, 0.05-1.5%, rotation 1-30 d), momentum-dump
glitches every 3 d and sudden pixel-sensitivity drops (SPSDs) with exponential recovery.
On top of that, by scenario:

* ``planet``: a limb-darkened transit, Rp/R* log-uniform in 0.008-0.2, impact 0-(1+Rp/R*),
  stellar density log-uniform 0.2-3 solar, P log-uniform 0.5-30 d;
* ``EB``: an eclipsing binary on the target (radius ratio 0.2-1, surface brightness ratio
  0.05-1, grazing allowed), with secondary eclipse and ellipsoidal variation;
* ``BEB``: the same binary diluted to 0.3-15% of the light (a background binary on the pixel);
* ``systematic``: no eclipse; extra SPSDs and single dips (cosmic-ray clusters, rolling-band
  pattern noise) make the search fire on instrumental features, Kepler's "not transit-like".
"""

from __future__ import annotations

import numpy as np

from ...core.errors import InputError
from .model import a_over_r, eclipse_flux, transit_flux
from .schema import BASELINE_DAYS, CADENCE_DAYS, MAX_PERIOD, MIN_PERIOD, SCENARIOS

__all__ = ["kepler_times", "simulate_scenario", "simulate_tce_lightcurves"]


def kepler_times(rng: np.random.Generator) -> np.ndarray:
    """Cadence times (n,) in days of one quarter, with random missing cadences and a 1-d gap."""
    t = np.arange(0.0, BASELINE_DAYS, CADENCE_DAYS)
    keep = rng.random(len(t)) > 0.02
    gap = rng.uniform(30, 60)
    keep &= (t < gap) | (t > gap + 1.0)
    return t[keep]


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _stellar_and_instrumental(t, rng, n_spsd):
    p_rot = _log_uniform(rng, 1.0, 30.0)
    amp = _log_uniform(rng, 5e-4, 1.5e-2)
    ph = rng.uniform(0, 2 * np.pi, 2)
    evolve = 1 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(20, 80) + rng.uniform(0, 6.3))
    flux = amp * evolve * (np.sin(2 * np.pi * t / p_rot + ph[0]) + 0.4 * np.sin(4 * np.pi * t / p_rot + ph[1]))
    dumps = np.arange(rng.uniform(0, 3), t[-1], 3.0)           # reaction-wheel desaturations
    for d in dumps:
        flux[np.abs(t - d) < 0.011] -= rng.uniform(0, 3e-4)
    for _ in range(n_spsd):
        t_drop, depth, tau = rng.uniform(t[0], t[-1]), _log_uniform(rng, 5e-5, 2e-3), rng.uniform(0.05, 1.0)
        after = t >= t_drop
        flux[after] -= depth * np.exp(-(t[after] - t_drop) / tau)
    return flux


def _single_dips(t, rng, n):
    flux = np.zeros_like(t)
    for _ in range(n):
        centre, width, depth = rng.uniform(t[0], t[-1]), rng.uniform(0.04, 0.4), _log_uniform(rng, 5e-5, 2e-3)
        flux -= depth * np.clip(1 - np.abs(t - centre) / width, 0, None)
    return flux


def _binary_parameters(rng, period):
    k, q = rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0)
    a_r = a_over_r(period, _log_uniform(rng, 0.2, 3.0), q)
    return {"k": k, "surface_ratio": rng.uniform(0.05, 1.0), "a_r": a_r, "b": rng.uniform(0, min(1 + k, a_r)),
            "mass_ratio": q}


def simulate_scenario(scenario: str, rng: np.random.Generator) -> dict:
    """One light curve: ``t`` (n,) days, ``flux`` (n,) relative, ``err`` (n,), truth parameters."""
    t = kepler_times(rng)
    noise = _log_uniform(rng, 4e-5, 4e-4)
    period = _log_uniform(rng, MIN_PERIOD, MAX_PERIOD)
    t0 = rng.uniform(0, period)
    u1, u2 = rng.uniform(0.3, 0.6), rng.uniform(0.05, 0.3)
    truth = {"scenario": scenario, "period": period, "t0": t0, "noise": noise}
    signal = np.ones_like(t)
    if scenario == "planet":
        rp, rho = _log_uniform(rng, 0.008, 0.2), _log_uniform(rng, 0.2, 3.0)
        a_r = a_over_r(period, rho)
        b = rng.uniform(0, min(1 + rp, a_r))
        signal = transit_flux(t, period, t0, rp, a_r, b, u1, u2)
        truth.update(rp=rp, a_r=a_r, b=b)
    elif scenario in ("EB", "BEB"):
        par = _binary_parameters(rng, period)
        signal = eclipse_flux(t, period, t0, par["k"], par["surface_ratio"], par["a_r"], par["b"], par["mass_ratio"],
                              u1, u2)
        if scenario == "BEB":
            dilution = _log_uniform(rng, 3e-3, 0.15)
            signal = 1.0 - dilution * (1.0 - signal)
            truth["dilution"] = dilution
        truth.update(par)
    elif scenario == "systematic":
        truth["period"] = np.nan
        signal = signal + _single_dips(t, rng, int(rng.integers(1, 6)))
    else:
        raise InputError(f"scenario: {scenario!r} is not one of {SCENARIOS}")
    n_spsd = int(rng.integers(2, 8)) if scenario == "systematic" else int(rng.integers(0, 3))
    flux = signal + _stellar_and_instrumental(t, rng, n_spsd) + noise * rng.standard_normal(len(t))
    return {"t": t, "flux": flux.astype(np.float64), "err": np.full(len(t), noise), "truth": truth}


def simulate_tce_lightcurves(n: int, seed: int = 0, scenarios=SCENARIOS) -> list[dict]:
    """``n`` light curves, scenarios cycled in equal numbers; curve k is seeded by ``(seed, k)``."""
    if n < 1:
        raise InputError(f"n: expected a positive number of light curves, got {n}")
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:
        raise InputError(f"scenarios: {bad} are not simulated; choose from {SCENARIOS}")
    return [simulate_scenario(scenarios[k % len(scenarios)], np.random.default_rng([seed, k])) for k in range(n)]
