"""Light curves of variable stars from physics and catalogued shapes, at a survey's cadence.

* pulsators (RR Lyrae ab/c, classical Cepheids, delta Scuti): a three-harmonic Fourier series
  whose period, I-band amplitude and shape (R21, phi21, R31, phi31; cosine series, Simon & Lee
  1981) are drawn jointly from real OGLE-III stars of that class (shipped in
  ``data/ogle3_shapes.npz``, built by :func:`build_shape_table`), scaled to the survey band;
* long-period variables: OGLE-III Mira/SRV periods and amplitudes, a near-sinusoid with random
  harmonics, cycle-to-cycle amplitude changes and a slow mean-magnitude drift;
* eclipsing binaries: two uniform spheres on a circular orbit (eclipsed area of overlapping
  discs) with ellipsoidal variation, radii, surface-brightness ratio and inclination from broad
  priors and log-uniform periods of 0.25-50 d;
* constant stars: noise only.

Noise is Gaussian with the survey's per-epoch errors plus 3-8 sigma outliers.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from ...core.errors import InputError
from .cadence import Survey, get_survey, sample_errors, sample_times
from .schema import LC_CLASSES, LC_OGLE_SOURCES

__all__ = ["build_shape_table", "load_shape_table", "fourier_curve", "eclipsing_binary", "simulate_lightcurves",
           "SHAPE_COLUMNS"]

SHAPE_COLUMNS = ("P", "A_I", "R21", "phi21", "R31", "phi31")


def build_shape_table(cat: dict, n_per_class: int = 3000, seed: int = 0) -> dict:
    """Rows of real OGLE-III stars per simulated class: ``{cls: (n, 6) array of SHAPE_COLUMNS}``.

    ``cat`` is :func:`~.ogle.read_ogle3`'s output. Stars without a period or amplitude are
    dropped; pulsators also need R21 and phi21 (OGLE-III gives no R31/phi31 for delta Scuti
    stars: those are set to 0, a two-harmonic shape).
    """
    rng = np.random.default_rng(seed)
    out = {}
    for cls, sources in LC_OGLE_SOURCES.items():
        rows = np.column_stack([cat[c] for c in ("P_1", "A_1", "R21_1", "phi21_1", "R31_1", "phi31_1")])
        keep = np.isin(cat["cls"], sources) & np.isfinite(rows[:, :2]).all(1) & (rows[:, 1] > 0)
        if cls != "LPV":
            keep &= np.isfinite(rows[:, 2:4]).all(1)
            rows[:, 4:] = np.nan_to_num(rows[:, 4:], nan=0.0)
        else:
            keep &= rows[:, 1] > 0.1            # OSARG-like microvariables are not in the LPV class
        idx = np.flatnonzero(keep)
        out[cls] = rows[rng.choice(idx, min(n_per_class, len(idx)), replace=False)].astype(np.float32)
    return out


def load_shape_table() -> dict:
    """The shipped table of OGLE-III shapes (see :func:`build_shape_table`)."""
    with resources.files(__package__).joinpath("data/ogle3_shapes.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


def fourier_curve(phase: np.ndarray, r21: float, phi21: float, r31: float, phi31: float) -> np.ndarray:
    """Magnitude offsets of a cosine Fourier series with unit peak-to-peak amplitude, mean zero.

    ``m(phase) = cos(2 pi phase) + R21 cos(4 pi phase + phi21) + R31 cos(6 pi phase + phi31)``
    (phi1 = 0, so phi_k1 = phi_k); normalised by its range over a fine phase grid.
    """
    def series(ph):
        w = 2 * np.pi * ph
        return np.cos(w) + r21 * np.cos(2 * w + phi21) + r31 * np.cos(3 * w + phi31)

    grid = series(np.linspace(0, 1, 512, endpoint=False))
    return (series(phase) - grid.mean()) / (grid.max() - grid.min())


def _overlap_area(d, r1, r2):
    """Area of the intersection of two discs of radii r1, r2 at centre separation d (vectorised)."""
    d = np.asarray(d, float)
    area = np.zeros_like(d)
    inside = d <= abs(r1 - r2)
    area[inside] = np.pi * min(r1, r2) ** 2
    part = (d > abs(r1 - r2)) & (d < r1 + r2)
    dp = d[part]
    a1 = r1 ** 2 * np.arccos(np.clip((dp ** 2 + r1 ** 2 - r2 ** 2) / (2 * dp * r1), -1, 1))
    a2 = r2 ** 2 * np.arccos(np.clip((dp ** 2 + r2 ** 2 - r1 ** 2) / (2 * dp * r2), -1, 1))
    a3 = 0.5 * np.sqrt(np.clip((-dp + r1 + r2) * (dp + r1 - r2) * (dp - r1 + r2) * (dp + r1 + r2), 0, None))
    area[part] = a1 + a2 - a3
    return area


def eclipsing_binary(phase: np.ndarray, r1: float, r2: float, cos_i: float, surface_ratio: float,
                     mass_ratio: float = 1.0) -> np.ndarray:
    """Magnitude offsets (positive = fainter) of a circular-orbit binary of uniform spheres.

    Radii in units of the separation; ``surface_ratio`` = surface brightness of star 2 / star 1.
    Phase 0 is the conjunction with star 2 in front. The ellipsoidal term is the leading-order
    tidal distortion, amplitude ~ 0.15 (q r1^3 + r2^3 / q) sin^2 i (Morris 1985).
    """
    w = 2 * np.pi * np.asarray(phase, float)
    sin_i2 = 1 - cos_i ** 2
    sep = np.sqrt(np.sin(w) ** 2 + cos_i ** 2 * np.cos(w) ** 2)
    lost = _overlap_area(sep, r1, r2)
    s1, s2 = 1.0, surface_ratio
    total = np.pi * (r1 ** 2 * s1 + r2 ** 2 * s2)
    front2 = np.cos(w) > 0                       # star 2 is in front near phase 0
    flux = total - np.where(front2, lost * s1, lost * s2)
    a_ell = 0.15 * (mass_ratio * r1 ** 3 + r2 ** 3 / mass_ratio) * sin_i2
    flux = flux / total * (1 - a_ell * np.cos(2 * w))
    return -2.5 * np.log10(flux)


def _draw_shape(table, cls, rng):
    rows = table[cls]
    row = rows[rng.integers(len(rows))].astype(float)
    p, a = row[0] * np.exp(0.02 * rng.standard_normal()), row[1] * np.exp(0.05 * rng.standard_normal())
    return p, a, row[2:]


def _pulsator(t, cls, table, survey, rng):
    p, a_i, (r21, phi21, r31, phi31) = _draw_shape(table, cls, rng)
    amp = a_i * rng.uniform(*survey.band_amplitude)
    phase = (t / p + rng.random()) % 1.0
    return amp * fourier_curve(phase, r21, phi21, r31, phi31), p


def _lpv(t, table, survey, rng):
    p, a_i, _ = _draw_shape(table, "LPV", rng)
    amp = a_i * rng.uniform(*survey.band_amplitude) * rng.uniform(*survey.lpv_extra_amplitude)
    cycles = t / p + rng.random()
    # cycle-to-cycle amplitude changes (10-20 per cent) and a slow drift of the mean
    modulation = 1 + rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * cycles / rng.uniform(3, 8) + rng.uniform(0, 6.3))
    shape = fourier_curve(cycles % 1.0, rng.uniform(0, 0.3), rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.1),
                          rng.uniform(0, 2 * np.pi))
    drift = rng.normal(0, 0.1) * (t - t.mean()) / max(np.ptp(t), 1.0)
    return amp * modulation * shape + drift, p


def _binary(t, rng):
    p = 10 ** rng.uniform(np.log10(0.25), np.log10(50))
    r1 = rng.uniform(0.05, 0.45)
    r2 = r1 * rng.uniform(0.3, 1.0)
    cos_i = rng.uniform(0, 0.95 * (r1 + r2))
    phase = (t / p + rng.random()) % 1.0
    return eclipsing_binary(phase, r1, r2, cos_i, rng.uniform(0.05, 1.0), rng.uniform(0.3, 1.0)), p


def simulate_lightcurves(n: int, survey="eros1", classes=LC_CLASSES, seed: int = 0, shapes=None) -> dict:
    """Simulate ``n`` light curves, classes in equal numbers (cycled), at a survey's cadence.

    Returns
    -------
    dict with ``t``, ``mag``, ``err`` (lists of (n_i,) arrays; days, mag offsets, mag),
    ``label`` (n,) class indices into ``classes``, ``classes``, ``period`` (n,) true period in
    days (NaN for constant stars), ``survey``.
    """
    survey: Survey = get_survey(survey)
    unknown = [c for c in classes if c not in LC_CLASSES]
    if unknown:
        raise InputError(f"classes: {unknown} are not simulated; choose from {LC_CLASSES}")
    if n < 1:
        raise InputError(f"n: expected a positive number of light curves, got {n}")
    table = load_shape_table() if shapes is None else shapes
    rng = np.random.default_rng(seed)
    out = {"t": [], "mag": [], "err": [], "label": np.arange(n) % len(classes), "classes": tuple(classes),
           "period": np.full(n, np.nan), "survey": survey.name}
    for k in range(n):
        cls = classes[out["label"][k]]
        t = sample_times(survey, rng)
        while len(t) < 10:
            t = sample_times(survey, rng)
        if cls == "EB":
            signal, p = _binary(t, rng)
        elif cls == "LPV":
            signal, p = _lpv(t, table, survey, rng)
        elif cls == "constant":
            signal, p = np.zeros_like(t), np.nan
        else:
            signal, p = _pulsator(t, cls, table, survey, rng)
        err = sample_errors(survey, len(t), rng)
        mag = signal + err * rng.standard_normal(len(t))
        bad = rng.random(len(t)) < survey.outlier_fraction
        mag[bad] += rng.choice([-1, 1], bad.sum()) * rng.uniform(3, 8, bad.sum()) * err[bad]
        out["t"].append(t.astype(np.float64))
        out["mag"].append(mag.astype(np.float32))
        out["err"].append(err.astype(np.float32))
        out["period"][k] = p
    return out
