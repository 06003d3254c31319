"""Light curves of transits and eclipses: limb-darkened discs on circular orbits.

The flux blocked from a star with quadratic limb darkening by an opaque disc of radius ``p``
(stellar radii) at projected separation ``z`` is the radial integral of the intensity over
the arcs of each annulus that the disc covers (e.g. Mandel & Agol 2002, arXiv:astro-ph/0210099,
eq. 1 written as a 1-D integral). We integrate it by Gauss-Legendre quadrature on a cosine-
stretched radius (which removes the square-root ends of the arcs) instead of using
``batman`` (a C extension shipped only as a source distribution here); the result is
checked against the exact uniform-disc overlap and the small-planet limit in the tests.
"""

from __future__ import annotations

import numpy as np

__all__ = ["occulted_fraction", "sky_separation", "transit_flux", "eclipse_flux", "a_over_r"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)


def _intensity(r, u1, u2):
    mu = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    return 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2


def occulted_fraction(z, p, u1: float = 0.4, u2: float = 0.25) -> np.ndarray:
    """Fraction (same shape as z) of a limb-darkened star's flux hidden by a disc of radius p.

    ``z`` projected centre separation and ``p`` occultor radius, both in units of the occulted
    star's radius; ``u1, u2`` quadratic limb-darkening coefficients.
    """
    z = np.abs(np.asarray(z, float))
    out = np.zeros_like(z)
    hit = z < 1.0 + p
    if not hit.any():
        return out
    zh = z[hit][:, None]
    lo, hi = np.maximum(0.0, zh - p), np.minimum(1.0, zh + p)
    s = 0.5 * (_NODES + 1.0)[None]                       # (1, K) in [0, 1]
    r = lo + (hi - lo) * 0.5 * (1.0 - np.cos(np.pi * s))
    dr = (hi - lo) * 0.25 * np.pi * np.sin(np.pi * s) * _WEIGHTS[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_arc = (r * r + zh * zh - p * p) / (2.0 * r * zh)
    arc = np.where(r < p - zh, np.pi, np.arccos(np.clip(np.nan_to_num(cos_arc, nan=-1.0), -1.0, 1.0)))
    blocked = np.sum(_intensity(r, u1, u2) * 2.0 * r * arc * dr, axis=1)
    total = np.pi * (1.0 - u1 / 3.0 - u2 / 6.0)
    out[hit] = blocked / total
    return out


def a_over_r(period_days, density_solar=1.0, mass_ratio=0.0):
    """Semi-major axis in stellar radii from Kepler's third law: 4.206 P^(2/3) (rho (1 + q))^(1/3)."""
    return 4.2064 * np.asarray(period_days, float) ** (2 / 3) * (density_solar * (1 + mass_ratio)) ** (1 / 3)


def sky_separation(t, period, t0, a_r, b):
    """Projected separation (stellar radii) and whether the companion is in front, circular orbit."""
    phi = 2.0 * np.pi * (np.asarray(t, float) - t0) / period
    cos_i = min(b / a_r, 1.0)
    z = a_r * np.sqrt(np.sin(phi) ** 2 + (cos_i * np.cos(phi)) ** 2)
    return z, np.cos(phi) > 0


def transit_flux(t, period, t0, rp, a_r, b, u1=0.4, u2=0.25) -> np.ndarray:
    """Relative flux (n,) of a star transited by a dark planet of radius ``rp`` (stellar radii)."""
    z, front = sky_separation(t, period, t0, a_r, b)
    return 1.0 - np.where(front, occulted_fraction(z, rp, u1, u2), 0.0)


def eclipse_flux(t, period, t0, k, surface_ratio, a_r, b, mass_ratio=1.0, u1=0.4, u2=0.25) -> np.ndarray:
    """Relative flux (n,) of a binary: star 2 (radius ``k`` R1, surface brightness ratio) eclipses star 1.

    Primary eclipse at ``t0`` (star 2 in front), secondary half an orbit later, plus the
    ellipsoidal variation (Morris 1985: amplitude ~ 0.15 q (R1 / a)^3 sin^2 i).
    """
    z, front = sky_separation(t, period, t0, a_r, b)
    l1, l2 = 1.0, surface_ratio * k * k
    lost = np.where(front, l1 * occulted_fraction(z, k, u1, u2), l2 * occulted_fraction(z / k, 1.0 / k, u1, u2))
    sin_i2 = 1.0 - min(b / a_r, 1.0) ** 2
    ellipsoidal = 0.15 * mass_ratio * a_r ** -3.0 * sin_i2 * np.cos(4.0 * np.pi * (np.asarray(t) - t0) / period)
    return (l1 + l2 - lost) / (l1 + l2) * (1.0 - ellipsoidal)
