"""Blended galaxy images with GalSim: Sersic galaxies convolved with a Moffat PSF, sky noise, and the
isolated (noiseless) image of every galaxy as truth.

Sizes follow a magnitude-size relation with scatter, shapes a uniform ellipticity disc; blends
place one to two companions at a uniform separation around a primary (Boucaud et al. 2020,
arXiv:1905.01324 train on such pairs). GalSim: Rowe et al. 2015, arXiv:1407.7676.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from ...core.errors import InputError
from ...core.extras import require
from .schema import POPULATION, SERSIC_N, STAMP, SURVEY, Survey

__all__ = ["draw_galaxies", "render_galaxy", "simulate_blends", "simulate_field", "field_header"]

MAX_OBJECTS = 3


def draw_galaxies(n: int, rng: np.random.Generator, survey: Survey = SURVEY, population: dict = POPULATION) -> dict:
    """(n,) arrays: mag, flux [counts], re [arcsec], sersic_n, g1, g2."""
    p = population
    mag = rng.uniform(*p["mag"], n)
    re = p["re_at_22"] * 10 ** (p["re_slope"] * (mag - 22) + rng.normal(0, p["re_scatter_dex"], n))
    re = np.clip(re, *p["re_range"])
    e = p["e_max"] * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, np.pi, n)
    return {"mag": mag, "flux": survey.flux(mag), "re": re, "sersic_n": rng.choice(SERSIC_N, n),
            "g1": e * np.cos(2 * phi), "g2": e * np.sin(2 * phi)}


def render_galaxy(props: dict, k: int, shape, x: float, y: float, survey: Survey = SURVEY) -> np.ndarray:
    """Noiseless PSF-convolved image (counts/pixel) of galaxy ``k`` centred at pixel (x, y) (0-based)."""
    galsim = require("galsim")

    ny, nx = shape
    gsp = galsim.GSParams(maximum_fft_size=16384)
    psf = galsim.Moffat(beta=survey.psf_beta, fwhm=survey.psf_fwhm_arcsec)
    gal = galsim.Sersic(n=float(props["sersic_n"][k]), half_light_radius=float(props["re"][k]),
                        flux=float(props["flux"][k]), gsparams=gsp).shear(g1=float(props["g1"][k]), g2=float(props["g2"][k]))
    image = galsim.Convolve(gal, psf, gsparams=gsp).drawImage(
        nx=nx, ny=ny, scale=survey.pixel_arcsec, offset=(x - (nx - 1) / 2, y - (ny - 1) / 2))
    return image.array.astype(np.float32)


def simulate_blends(n: int, size: int = STAMP, seed: int = 0, survey: Survey = SURVEY, p_objects=(0.15, 0.6, 0.25),
                    population: dict = POPULATION):
    """``n`` stamps of one to three galaxies: a primary near the centre and companions around it.

    Returns
    -------
    images : (n, size, size) float32, noisy [counts]
    isolated : (n, 3, size, size) float32, each galaxy's noiseless image (zeros where absent)
    truth : dict of (n, 3) arrays: present, x, y, flux (sum of the isolated image), mag, re,
        sersic_n, g1, g2; and (n,) ``separation`` [arcsec] and ``flux_ratio`` (companion 1 / primary)
    """
    if size < 16:
        raise InputError(f"size must be >= 16 pixels, got {size}")
    rng = np.random.default_rng(seed)
    n_obj = rng.choice([1, 2, 3], n, p=p_objects)
    props = draw_galaxies(n * MAX_OBJECTS, rng, survey, population)
    present = np.arange(MAX_OBJECTS)[None] < n_obj[:, None]
    c = (size - 1) / 2
    x = np.empty((n, MAX_OBJECTS))
    y = np.empty((n, MAX_OBJECTS))
    x[:, 0], y[:, 0] = c + rng.uniform(-2, 2, n), c + rng.uniform(-2, 2, n)
    sep = rng.uniform(*population["separation"], (n, MAX_OBJECTS - 1)) / survey.pixel_arcsec
    ang = rng.uniform(0, 2 * np.pi, (n, MAX_OBJECTS - 1))
    x[:, 1:], y[:, 1:] = x[:, :1] + sep * np.cos(ang), y[:, :1] + sep * np.sin(ang)
    isolated = np.zeros((n, MAX_OBJECTS, size, size), np.float32)
    for i in range(n):
        for j in range(n_obj[i]):
            isolated[i, j] = render_galaxy(props, i * MAX_OBJECTS + j, (size, size), x[i, j], y[i, j], survey)
    images = isolated.sum(1) + rng.normal(0, survey.noise, (n, size, size)).astype(np.float32)
    truth = {k: props[k].reshape(n, MAX_OBJECTS) for k in ("mag", "re", "sersic_n", "g1", "g2")}
    truth.update({"present": present, "x": x, "y": y, "flux": isolated.sum((2, 3)),
                  "separation": sep[:, 0] * survey.pixel_arcsec,
                  "flux_ratio": np.where(n_obj > 1, truth["mag"][:, 1] - truth["mag"][:, 0], np.nan)})
    truth["flux_ratio"] = np.where(n_obj > 1, 10 ** (-0.4 * truth["flux_ratio"]), np.nan)
    return images, isolated, truth


def field_header(shape, survey: Survey = SURVEY, ra0: float = 150.0, dec0: float = 2.2):
    """FITS header of a (y, x) image with a TAN WCS."""

    ny, nx = shape
    h = fits.Header()
    for key, value in (("CTYPE1", "RA---TAN"), ("CUNIT1", "deg"), ("CRVAL1", ra0), ("CRPIX1", nx / 2 + 0.5),
                       ("CDELT1", -survey.pixel_arcsec / 3600), ("CTYPE2", "DEC--TAN"), ("CUNIT2", "deg"),
                       ("CRVAL2", dec0), ("CRPIX2", ny / 2 + 0.5), ("CDELT2", survey.pixel_arcsec / 3600),
                       ("BUNIT", "count"), ("PSF_FWHM", survey.psf_fwhm_arcsec), ("MAGZP", survey.zero_point)):
        h[key] = value
    return h


def simulate_field(n_galaxies: int, shape=(512, 512), seed: int = 0, survey: Survey = SURVEY, pair_fraction: float = 0.5,
                   population: dict = POPULATION):
    """A survey image with ``n_galaxies`` galaxies, ``pair_fraction`` of them in close pairs.

    Returns ``(image (y, x) float32, truth dict of (n,) arrays: x, y, flux, mag, re, sersic_n, g1, g2,
    nearest [arcsec], header)``; ``flux`` is each galaxy's total rendered flux in the image.
    """
    ny, nx = shape
    if min(ny, nx) < 64:
        raise InputError(f"shape must be at least 64 x 64 pixels, got {shape}")
    rng = np.random.default_rng(seed)
    props = draw_galaxies(n_galaxies, rng, survey, population)
    x, y = rng.uniform(8, nx - 9, n_galaxies), rng.uniform(8, ny - 9, n_galaxies)
    n_pairs = int(pair_fraction * n_galaxies / 2)
    for i in range(n_pairs):                               # move every second galaxy next to its partner
        a, b = 2 * i, 2 * i + 1
        sep = rng.uniform(*population["separation"]) / survey.pixel_arcsec
        ang = rng.uniform(0, 2 * np.pi)
        x[b], y[b] = np.clip(x[a] + sep * np.cos(ang), 8, nx - 9), np.clip(y[a] + sep * np.sin(ang), 8, ny - 9)
    image = np.zeros(shape, np.float32)
    flux = np.zeros(n_galaxies)
    half = STAMP                                          # render each galaxy on a 2*STAMP box around it
    for k in range(n_galaxies):
        ix, iy = int(x[k]), int(y[k])
        x0, y0 = max(0, ix - half), max(0, iy - half)
        x1, y1 = min(nx, ix + half), min(ny, iy + half)
        stamp = render_galaxy(props, k, (y1 - y0, x1 - x0), x[k] - x0, y[k] - y0, survey)
        image[y0:y1, x0:x1] += stamp
        flux[k] = stamp.sum()
    image += rng.normal(0, survey.noise, shape).astype(np.float32)
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) + np.eye(n_galaxies) * 1e9
    truth = {"x": x, "y": y, "flux": flux, **{k: props[k] for k in ("mag", "re", "sersic_n", "g1", "g2")},
             "nearest": d.min(1) * survey.pixel_arcsec if n_galaxies > 1 else np.full(n_galaxies, np.inf)}
    return image, truth, field_header(shape, survey)
