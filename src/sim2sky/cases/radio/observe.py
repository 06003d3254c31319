"""The observation model: sky model -> survey cutout in Jy/beam.

Particles are splatted (bilinear) on the survey's pixel grid, convolved with its Gaussian beam
(one batched FFT), scaled to the drawn peak S/N, and given beam-correlated noise at the survey
rms. A third of the cutouts get one or two confusing neighbours: compact sources 25-80" from
the target with 1-30% of its flux (FIRST has ~100 sources per deg^2, Becker et al. 1995; bright
extended targets are chosen, so neighbours are usually fainter). Interferometric sidelobes and
deconvolution artefacts are not modelled.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from .schema import GRID, SIM_CLASSES, Survey
from .theory import draw_parameters, source_particles

__all__ = ["native_size", "render", "observe", "simulate_cutouts"]

_FWHM = 2 * np.sqrt(2 * np.log(2))


def native_size(survey: Survey) -> int:
    """Cutout side [pixels] at the survey's pixel scale: the model grid's field plus a beam each side."""
    return int(np.ceil((GRID.fov_arcsec + 2 * survey.beam_arcsec) / survey.pixel_arcsec))


def _beam_fft(size: int, survey: Survey) -> np.ndarray:
    sigma = survey.beam_arcsec / _FWHM / survey.pixel_arcsec
    ky, kx = np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :]
    return np.exp(-2 * np.pi ** 2 * sigma ** 2 * (kx ** 2 + ky ** 2))


def render(x, y, w, size: int, survey: Survey) -> np.ndarray:
    """Particles ``x``, ``y`` (n, m) [arcsec from the centre], weights ``w`` -> (n, size, size)
    images convolved with the beam, peak normalised to 1 (noise-free)."""
    n = x.shape[0]
    c = (size - 1) / 2
    px, py = x / survey.pixel_arcsec + c, y / survey.pixel_arcsec + c
    i0, j0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - i0, py - j0
    img = np.zeros(n * size * size)
    base = np.arange(n)[:, None] * size * size
    for di, dj, ww in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        ii, jj = i0 + di, j0 + dj
        ok = (ii >= 0) & (ii < size) & (jj >= 0) & (jj < size)
        img += np.bincount((base + jj * size + ii)[ok], (w * ww)[ok], minlength=img.size)
    img = fft.irfft2(fft.rfft2(img.reshape(n, size, size), workers=-1) * _beam_fft(size, survey), s=(size, size),
                     workers=-1)
    return img / np.maximum(img.max((1, 2), keepdims=True), 1e-30)


def _noise(rng, n: int, size: int, survey: Survey) -> np.ndarray:
    """Unit-rms noise correlated over the beam (white noise convolved with it)."""
    white = rng.normal(size=(n, size, size))
    noise = fft.irfft2(fft.rfft2(white, workers=-1) * _beam_fft(size, survey), s=(size, size), workers=-1)
    return noise / noise.std((1, 2), keepdims=True)


def observe(x, y, w, peak_snr, rng, survey: Survey, neighbours: float = 1 / 3) -> np.ndarray:
    """(n, size, size) cutouts [Jy/beam] of sources given as particles, with noise and neighbours."""
    n = x.shape[0]
    size = native_size(survey)
    img = render(x, y, w, size, survey) * (np.asarray(peak_snr)[:, None, None] * survey.rms_jy)
    has = rng.uniform(size=n) < neighbours
    if has.any():
        k = int(has.sum())
        m = 2
        r = rng.uniform(25, 80, (k, m))
        phi = rng.uniform(0, 2 * np.pi, (k, m))
        flux = np.exp(rng.uniform(np.log(0.01), np.log(0.3), (k, m))) * (rng.uniform(size=(k, m)) < [1.0, 0.4])
        sig = np.exp(rng.uniform(np.log(0.3), np.log(4.0), (k, m)))[..., None] / _FWHM
        pts = 64
        nx = (r * np.cos(phi))[..., None] + rng.normal(size=(k, m, pts)) * sig
        ny = (r * np.sin(phi))[..., None] + rng.normal(size=(k, m, pts)) * sig
        nw = np.broadcast_to(flux[..., None] / pts, (k, m, pts))
        peak = np.asarray(peak_snr)[has] * survey.rms_jy
        total = img[has].sum((1, 2)) / peak                        # the peak-1 source's summed brightness
        nb = render(nx.reshape(k, -1), ny.reshape(k, -1), nw.reshape(k, -1), size, survey)
        scale = flux.sum(1) * total / np.maximum(nb.sum((1, 2)), 1e-30)
        img[has] += nb * (scale * peak)[:, None, None]
    return (img + _noise(rng, n, size, survey) * survey.rms_jy).astype(np.float32)


def simulate_cutouts(n: int, seed: int, survey: Survey, classes=SIM_CLASSES[:4], neighbours: float = 1 / 3,
                     weights=None):
    """``n`` cutouts (n, size, size) [Jy/beam] at the survey's pixels, classes drawn with
    ``weights`` (default equal), and their parameters: ``(images, labels (n,) str, params dict)``."""
    rng = np.random.default_rng(seed)
    classes = tuple(classes)
    label = np.asarray(classes)[rng.choice(len(classes), n, p=weights)]
    images = np.zeros((n, native_size(survey), native_size(survey)), np.float32)
    params: dict = {}
    for cls in classes:
        idx = np.flatnonzero(label == cls)
        if not len(idx):
            continue
        p = draw_parameters(cls, len(idx), rng)
        x, y, w = source_particles(cls, p, rng)
        images[idx] = observe(x, y, w, p["peak_snr"], rng, survey, neighbours)
        for key, value in p.items():
            params.setdefault(key, np.full(n, np.nan))[idx] = value
    return images, label, params
