"""Features of irregularly sampled light curves: period search, Fourier shape, folded template.

Period search is the generalised Lomb-Scargle periodogram (Zechmeister & Kürster 2009,
arXiv:0901.2573; floating mean, error weights) evaluated exactly on a uniform frequency grid with
two type-1 non-uniform FFTs (finufft; Barnett et al. 2019, arXiv:1808.06736) with reused plans,
in single precision for ranking the peaks and double precision (direct sums) for the chosen
ones. Measured on EROS-1-like curves (120 epochs, 90,000 frequencies to 20 / d;
benchmarks/speed_lightcurves.py): the whole period search 3.8 ms per curve against 114 ms for
astropy's ``LombScargle(method="fast")`` on the same grid (16 ms before plan reuse and single
precision; the periods of 1,400 simulated and 1,083 real EROS-1 and Stripe 82 curves unchanged).

At the best period the light curve is fitted with a three-harmonic Fourier series (R21, phi21,
R31, phi31 in the cosine convention of OGLE-III) and at twice the period with six harmonics (an
eclipsing binary's unequal minima fold onto one at the periodogram's half period). The folded
template is the better model (by BIC) sampled at ``N_PHASE_BINS`` phases, normalised to unit
range and shifted so maximum light is at phase 0.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from ...core.errors import InputError
from ...core.extras import require
from ...core.threads import resolve_jobs
from .schema import LC_FEATURE_NAMES, N_HARMONICS, N_PHASE_BINS

__all__ = ["gls_power", "frequency_grid", "best_period", "fourier_fit", "lightcurve_features", "folded_curve", "features_table",
           "check_lightcurve", "N_FEATURES", "FOLDED_BINS"]

#: scalar features + folded template
N_FEATURES = len(LC_FEATURE_NAMES) + N_PHASE_BINS
#: phase bins of the raw folded curve read by the sequence encoder
FOLDED_BINS = 40
_FMAX = 20.0           # 1 / d: delta Scuti stars down to 0.05 d
_OVERSAMPLE = 5        # grid points per periodogram peak width (1 / baseline)
_MAX_FREQ = 150_000    # grid size cap: Stripe 82's 9-yr baseline gets 2.2 points per peak width


def check_lightcurve(t, mag, err, name: str = "light curve"):
    """Validated float64 arrays (t sorted), finite epochs only; raises InputError when unusable."""
    t, mag, err = (np.asarray(a, float).ravel() for a in (t, mag, err))
    if not (len(t) == len(mag) == len(err)):
        raise InputError(f"{name}: t, mag and err must have the same length, got {len(t)}, {len(mag)}, {len(err)}")
    ok = np.isfinite(t) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
    t, mag, err = t[ok], mag[ok], err[ok]
    if len(t) < 10:
        raise InputError(f"{name}: needs at least 10 epochs with finite t, mag and err > 0, got {len(t)}")
    order = np.argsort(t)
    return t[order], mag[order], err[order]


def _centred(y, err):
    """Normalised weights (n,), weighted-mean-subtracted data (n,) and its weighted variance."""
    w = 1.0 / err ** 2
    w = w / w.sum()
    yc = y - (w * y).sum()
    return w, yc, (w * yc * yc).sum()


def _power(z, yz, z2, yy):
    """GLS power from the weighted sums z = sum w e^(i wt), yz = sum w y e^(i wt), z2 = sum w e^(2i wt)."""
    cc = 0.5 * (1 + z2.real) - z.real ** 2
    ss = 0.5 * (1 - z2.real) - z.imag ** 2
    cs = 0.5 * z2.imag - z.real * z.imag
    d = cc * ss - cs * cs
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (ss * yz.real ** 2 + cc * yz.imag ** 2 - 2 * cs * yz.real * yz.imag) / (yy * d)
    return np.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0)


#: finufft plans by (modes, transforms, precision): planning costs more than a transform (3.3 ms of
#: the 6 ms of a call at 90,000 frequencies), so the grid is rounded up to a multiple of _PLAN_STEP
#: and each plan is reused.
_PLANS: dict = {}
_PLAN_STEP = 8192
#: largest grid searched in single precision (1.7x faster transforms). The grid only ranks peaks,
#: the best are refined in float64 by direct sums: on 1,400 simulated EROS-1 curves (90,112
#: modes) every period is identical to double precision; on Stripe 82's 150,000 modes 9 of 1,400
#: moved to another near-equal peak, so longer grids stay in double precision.
_SINGLE_MAX = 12 * _PLAN_STEP


def _nufft(x, c, m: int, single: bool):
    """Type-1 NUFFT of the rows of ``c`` (k, n) at points ``x`` (n,): modes -m/2 .. m/2 - 1, (k, m)."""
    key = (m, len(c), single)
    if key not in _PLANS:
        finufft = require("finufft")   # compiled extension, loaded on first use (an extra)
        # upsampfac 1.25: 1.2x faster than 2.0 here, powers equal to 4e-8 in double precision
        _PLANS[key] = finufft.Plan(1, (m,), n_trans=len(c), eps=1e-5 if single else 1e-7, isign=1, nthreads=1,
                                   upsampfac=1.25, dtype="complex64" if single else "complex128")
    plan = _PLANS[key]
    plan.setpts(x.astype(np.float32 if single else np.float64))
    return plan.execute(np.ascontiguousarray(c, np.complex64 if single else np.complex128))


def gls_power(t, y, err, df: float, n_freq: int, single: bool = False) -> np.ndarray:
    """Generalised Lomb-Scargle power (n_freq,) at frequencies ``df * (1 .. n_freq)`` (1 / day).

    Double precision: equal to astropy's to 1e-5 (tested). ``single``: float32 transforms,
    powers within ~1e-3, for ranking peaks (used by :func:`best_period` on grids up to
    ``_SINGLE_MAX``).
    """
    w, yc, yy = _centred(y, err)
    m = -(-n_freq // _PLAN_STEP) * _PLAN_STEP
    shift = m // 2 + 1                     # modes -m/2 .. m/2 - 1 shifted onto frequencies 1 .. m
    x = np.mod(2 * np.pi * df * (t - t[0]) + np.pi, 2 * np.pi) - np.pi
    x2 = np.mod(2 * x + np.pi, 2 * np.pi) - np.pi          # sums at 2 f_k for the double-angle terms
    one = _nufft(x, np.exp(1j * shift * x) * np.stack([w, w * yc]), m, single)
    two = _nufft(x2, (np.exp(1j * shift * x2) * w)[None], m, single)[0]
    return _power(one[0, :n_freq], one[1, :n_freq], two[:n_freq], yy)


def _gls_direct(t, y, err, freqs):
    """GLS power at arbitrary frequencies (k,) by direct sums (for the refinement of a few peaks)."""
    w, yc, yy = _centred(y, err)
    phase = np.exp(2j * np.pi * np.outer(freqs, t - t[0]))
    return _power(phase @ w, phase @ (w * yc), (phase * phase) @ w, yy)


def frequency_grid(t, fmax: float = _FMAX, oversample: int = _OVERSAMPLE) -> tuple[float, int, float]:
    """``(df [1 / d], n_freq, points per peak width)`` of :func:`best_period`'s grid for times ``t`` (sorted)."""
    baseline = max(t[-1] - t[0], 1.0)
    over = min(oversample, _MAX_FREQ / (fmax * baseline))
    df = 1.0 / (over * baseline)
    return df, int(fmax / df), over


def best_period(t, y, err, fmax: float = _FMAX, oversample: int = _OVERSAMPLE) -> tuple[float, float]:
    """``(period [d], peak power)`` of the highest GLS peak between 1 / (2 baseline) and ``fmax``.

    The grid holds ``oversample`` points per peak width (1 / baseline), at most ``_MAX_FREQ``
    frequencies (long baselines get a coarser grid); the three highest grid peaks are then
    refined on a grid 20x finer by direct sums.
    """
    df, n_freq, over = frequency_grid(t, fmax, oversample)
    power = gls_power(t, y, err, df, n_freq, single=n_freq <= _SINGLE_MAX)
    power[: int(np.ceil(over / 2))] = 0.0          # periods longer than twice the baseline
    peaks = np.flatnonzero((power[1:-1] > power[:-2]) & (power[1:-1] >= power[2:])) + 1
    top = peaks[np.argsort(power[peaks])[-3:]] if len(peaks) else np.array([int(np.argmax(power))])
    fine = np.concatenate([df * (k + 1 + np.linspace(-1, 1, 41)) for k in top])
    fine = fine[fine > 0]
    p_fine = _gls_direct(t, y, err, fine)
    k = int(np.argmax(p_fine))
    return 1.0 / fine[k], float(p_fine[k])


def _shape_moments(x) -> tuple[float, float]:
    """Sample skewness and excess kurtosis (biased, as scipy.stats.skew / kurtosis; 0.7 ms per call
    there, 20 us here), from one pass of deviations."""
    d = x - x.mean()
    d2 = d * d
    m2 = d2.mean()
    if m2 <= 0:
        return 0.0, -3.0
    return float(np.mean(d2 * d) / m2 ** 1.5), float(np.mean(d2 * d2) / m2 ** 2 - 3.0)


def _design(phase, n_harm):
    w = 2 * np.pi * phase[:, None] * np.arange(1, n_harm + 1)[None]
    return np.hstack([np.ones((len(phase), 1)), np.cos(w), np.sin(w)])


def fourier_fit(t, y, err, period: float, n_harm: int) -> tuple[np.ndarray, float]:
    """Weighted least-squares Fourier series: ``(amplitudes a_k, phases phi_k (k = 1..n_harm), chi2)``.

    The model is ``a0 + sum_k a_k cos(2 pi k t / P + phi_k)``; returned as ``(coef, chi2)`` with
    ``coef`` of shape (2, n_harm) holding amplitudes and phases.
    """
    phase = t / period
    a = _design(phase, n_harm) / err[:, None]
    sol, *_ = np.linalg.lstsq(a, y / err, rcond=None)
    chi2 = float(np.sum((a @ sol - y / err) ** 2))
    c, s = sol[1:n_harm + 1], sol[n_harm + 1:]
    return np.stack([np.hypot(c, s), np.arctan2(-s, c)]), chi2


def _template(coef, n_bins=N_PHASE_BINS):
    amp, ph = coef
    grid = np.arange(n_bins) / n_bins
    fine = np.linspace(0, 1, 256, endpoint=False)

    def model(p):
        k = np.arange(1, len(amp) + 1)
        return (amp[None] * np.cos(2 * np.pi * p[:, None] * k[None] + ph[None])).sum(1)

    f = model(fine)
    shift = fine[np.argmin(f)]                     # maximum light (smallest magnitude) at phase 0
    m = model((grid + shift) % 1.0)
    rng = f.max() - f.min()
    return (m - f.mean()) / rng if rng > 0 else np.zeros(n_bins)


def lightcurve_features(t, mag, err) -> tuple[np.ndarray, float]:
    """Features (N_FEATURES,) float32 of one light curve and its best period (days).

    ``t`` days, ``mag`` magnitudes, ``err`` 1-sigma errors (mag); see ``LC_FEATURE_NAMES`` and
    the module docstring. Raises InputError for fewer than 10 usable epochs.
    """
    t, mag, err = check_lightcurve(t, mag, err)
    period, power = best_period(t, mag, err)
    n_harm = min(N_HARMONICS, (len(t) - 1) // 4)
    coef1, chi1 = fourier_fit(t, mag, err, period, n_harm)
    n2 = min(2 * N_HARMONICS, (len(t) - 1) // 4)
    coef2, chi2_double = fourier_fit(t, mag, err, 2 * period, n2)
    w = 1 / err ** 2
    mean = (w * mag).sum() / w.sum()
    chi0 = float((w * (mag - mean) ** 2).sum())
    bic1, bic2 = chi1 + (2 * n_harm + 1) * np.log(len(t)), chi2_double + (2 * n2 + 1) * np.log(len(t))
    template = _template(coef2 if bic2 < bic1 else coef1)
    amp, ph = coef1
    a1 = max(amp[0], 1e-9)
    r = [amp[k] / a1 if k < n_harm else 0.0 for k in (1, 2)]
    phi = [np.mod(ph[k] - (k + 1) * ph[0], 2 * np.pi) if k < n_harm else 0.0 for k in (1, 2)]
    amplitude = np.percentile(mag, 95) - np.percentile(mag, 5)
    sd = mag.std()
    skew, kurtosis = _shape_moments(mag)
    scalars = [np.log10(period), power, np.log10(max(amplitude, 1e-4)),
               np.log10(max(amplitude, 1e-4) / np.median(err)), min(r[0], 3.0), np.cos(phi[0]), np.sin(phi[0]),
               min(r[1], 3.0), np.cos(phi[1]), np.sin(phi[1]), chi1 / max(chi0, 1e-12),
               (chi1 - chi2_double) / max(chi1, 1e-12), skew, min(kurtosis, 50.0),
               np.sum(np.diff(mag) ** 2) / max((len(mag) - 1) * sd ** 2, 1e-12), np.mean(np.abs(mag - mag.mean()) > sd),
               np.log10(max(chi0 / (len(t) - 1), 1e-6)), np.mean(mag < mean)]
    return np.concatenate([np.asarray(scalars, float), template]).astype(np.float32), period


def folded_curve(t, mag, err, period: float, n_bins: int = FOLDED_BINS) -> np.ndarray:
    """The light curve folded at twice ``period`` and binned: (2, n_bins) float32.

    Channel 0: error-weighted mean magnitude per phase bin, minus the median, over the 5-95%
    range, brightest bin at phase 0 (empty bins interpolated around the circle); channel 1:
    log(1 + epochs in the bin), so a sequence encoder knows where the data are. Twice the
    period shows an eclipsing binary's two minima when the periodogram found half its period.
    """
    t, mag, err = check_lightcurve(t, mag, err)
    k = np.floor(np.mod(t / (2.0 * period), 1.0) * n_bins).astype(np.int64) % n_bins
    w = 1.0 / err ** 2
    counts = np.bincount(k, minlength=n_bins)
    mean = np.bincount(k, w * mag, minlength=n_bins) / np.maximum(np.bincount(k, w, minlength=n_bins), 1e-30)
    filled = counts > 0
    centres = np.arange(n_bins)
    mean[~filled] = np.interp(centres[~filled], centres[filled], mean[filled], period=n_bins)
    scale = max(np.percentile(mag, 95) - np.percentile(mag, 5), 1e-4)
    curve = (mean - np.median(mag)) / scale
    shift = int(np.argmin(curve))
    return np.stack([np.roll(curve, -shift), np.roll(np.log1p(counts), -shift)]).astype(np.float32)


def _one(args):
    t, m, e, n_folded = args
    try:
        f, p = lightcurve_features(t, m, e)
        if n_folded:
            f = np.concatenate([f, folded_curve(t, m, e, p, n_folded).ravel()])
        return f, p, 0
    except InputError:
        return np.full(N_FEATURES + 2 * n_folded, np.nan, np.float32), np.nan, 1


def features_table(t_list, mag_list, err_list, n_jobs: int = 1, folded_bins: int = 0):
    """Features (n, N_FEATURES [+ 2 folded_bins]), best periods (n,) and flags (n,) of many light curves.

    A light curve with fewer than 10 usable epochs gives a row of NaN and flag 1 (not an error).
    ``folded_bins`` > 0 appends :func:`folded_curve` (both channels, flattened) to each row.
    ``n_jobs`` processes share the work (joblib; 0 or less: every available core).
    """
    n_jobs = resolve_jobs(n_jobs)

    items = [(t, m, e, folded_bins) for t, m, e in zip(t_list, mag_list, err_list)]
    if n_jobs > 1 and len(items) > 200:
        res = Parallel(n_jobs=n_jobs, batch_size=64)(delayed(_one)(a) for a in items)
    else:
        # one thread: BLAS and OpenMP threads on these small problems doubled the CPU time and saved no wall time
        with threadpool_limits(1):
            res = [_one(a) for a in items]
    feats = np.stack([r[0] for r in res]) if res else np.zeros((0, N_FEATURES + 2 * folded_bins), np.float32)
    return feats, np.array([r[1] for r in res]), np.array([r[2] for r in res], np.int8)
