"""Classical 3-D source finding: the SoFiA smooth-and-clip algorithm and its reliability filter.

This is the peer the U-Net detector is measured against, built from scipy.ndimage as SoFiA-2
does it (Serra et al. 2015, arXiv:1501.03906; Westmeier et al. 2021, arXiv:2106.15789): the cube
is normalised by its robust per-channel noise, smoothed with several spatial Gaussians and
spectral boxcars, clipped at ``threshold`` sigma of each smoothed cube, the masks are joined,
linked into sources by connected components (after dilating by a merging radius), and sources
are kept when they are *reliable*: positive detections are compared with negative ones (which
can only be noise or artefacts) in the space of (log peak, log sum, log mean) S/N, and a source
whose neighbourhood holds almost as many negative as positive detections is rejected.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["compress_labels", "channel_noise", "normalise_cube", "smooth_and_clip", "link_sources", "reliability", "sofia_find"]


def channel_noise(cube: np.ndarray, max_samples: int = 200_000) -> np.ndarray:
    """Robust noise per channel (1.4826 x median absolute deviation of the finite voxels): (c,)."""
    c = cube.shape[0]
    flat = cube.reshape(c, -1)
    step = max(1, flat.shape[1] // max_samples)
    sample = flat[:, ::step].astype(np.float64)
    med = np.nanmedian(sample, axis=1, keepdims=True)
    sigma = 1.4826 * np.nanmedian(np.abs(sample - med), axis=1)
    good = np.isfinite(sigma) & (sigma > 0)
    fill = np.nanmedian(sigma[good]) if good.any() else 1.0
    return np.where(good, sigma, fill)


def normalise_cube(cube: np.ndarray, noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(snr cube float32 with NaN -> 0, noise (c,), NaN mask)``."""
    noise = channel_noise(cube) if noise is None else np.asarray(noise, float)
    bad = ~np.isfinite(cube)
    out = (cube / noise[:, None, None]).astype(np.float32)
    out[bad] = 0.0
    return out, noise, bad


def smooth_and_clip(snr: np.ndarray, spatial=(0.0, 1.5, 3.0), spectral=(1, 3, 7, 15), threshold: float = 4.0):
    """Positive and negative masks: voxels above/below ``threshold`` sigma in any smoothed cube.

    ``spatial``: Gaussian sigmas [pixels] (0: none); ``spectral``: boxcar widths [channels].
    """
    pos = np.zeros(snr.shape, bool)
    neg = np.zeros(snr.shape, bool)
    for s in spatial:
        sm_s = ndimage.gaussian_filter(snr, (0, s, s), mode="constant") if s > 0 else snr
        for w in spectral:
            sm = ndimage.uniform_filter1d(sm_s, w, axis=0, mode="constant") if w > 1 else sm_s
            rms = 1.4826 * np.median(np.abs(sm[::2, ::2, ::2]))
            pos |= sm > threshold * rms
            neg |= sm < -threshold * rms
    return pos, neg


def link_sources(mask: np.ndarray, radius=(1, 1, 1), min_pixels: int = 3, min_channels: int = 3,
                 snr: np.ndarray | None = None):
    """Connected sources of ``mask`` after merging parts closer than ``radius`` (c, y, x).

    Returns ``labels (int32, 0 = none)``; sources spanning fewer than ``min_channels``
    channels or ``min_pixels`` spatial pixels are dropped.
    """
    structure = np.ones(tuple(2 * r + 1 for r in radius), bool)
    grown = ndimage.binary_dilation(mask, structure) if any(radius) else mask
    labels, n = ndimage.label(grown)
    labels[~mask] = 0
    keep = np.zeros(n + 1, bool)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        part = labels[sl] == k
        n_chan = part.any((1, 2)).sum()
        n_pix = part.any(0).sum()
        keep[k] = n_chan >= min_channels and n_pix >= min_pixels
    return compress_labels(labels, keep)


def compress_labels(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Drop the ids where ``keep`` is False and renumber the rest 1..n (parts linked by dilation keep one id)."""
    new = np.zeros(len(keep), np.int32)
    new[np.nonzero(keep)[0]] = np.arange(1, keep.sum() + 1, dtype=np.int32)
    new[0] = 0
    return new[labels]


def _parameters(snr: np.ndarray, labels: np.ndarray, sign: float) -> np.ndarray:
    idx = np.arange(1, labels.max() + 1)
    if len(idx) == 0:
        return np.zeros((0, 3))
    v = sign * snr
    peak = ndimage.maximum(v, labels, idx)
    total = ndimage.sum(v, labels, idx)
    count = ndimage.sum(np.ones_like(v), labels, idx)
    mean = total / np.maximum(count, 1)
    return np.log10(np.maximum(np.column_stack([peak, total, mean]), 1e-3))


def reliability(pos_params: np.ndarray, neg_params: np.ndarray, scale: float = 0.4) -> np.ndarray:
    """SoFiA's reliability (P - N) / P of each positive source from kernel densities of the positive
    (P) and negative (N) sources in parameter space; 1 where there are too few negatives to tell."""
    if len(pos_params) == 0:
        return np.zeros(0)
    if len(neg_params) < 5:
        return np.ones(len(pos_params))
    cov = np.cov(neg_params.T) * scale ** 2 + 1e-6 * np.eye(3)
    inv = np.linalg.inv(cov)

    def density(points, at, rows: int = 256):
        # in row chunks: a tile of a large cube can hold thousands of noise peaks (memory n_at x n_points)
        out = np.empty(len(at))
        for i in range(0, len(at), rows):
            d = at[i:i + rows, None, :] - points[None]
            out[i:i + rows] = np.exp(-0.5 * np.einsum("ijk,kl,ijl->ij", d, inv, d)).sum(1)
        return out

    p, n = density(pos_params, pos_params), density(neg_params, pos_params)
    return np.clip((p - n) / np.maximum(p, 1e-30), 0, 1)


def _integrated_snr(snr: np.ndarray, labels: np.ndarray, sign: float, beam_sigma_px: float) -> np.ndarray:
    idx = np.arange(1, labels.max() + 1)
    if len(idx) == 0:
        return np.zeros(0)
    total = ndimage.sum(sign * snr, labels, idx)
    count = ndimage.sum(np.ones_like(snr), labels, idx)
    # noise of a sum over n beam-correlated voxels: sqrt(n * 4 pi sigma_b^2)
    return total / np.sqrt(count * max(4 * np.pi * beam_sigma_px ** 2, 1.0))


def sofia_find(snr: np.ndarray, threshold: float = 4.0, min_reliability: float = 0.9, spatial=(0.0, 1.5, 3.0),
               spectral=(1, 3, 7, 15), radius=(2, 1, 1), min_snr: float = 3.0, beam_sigma_px: float = 1.06):
    """Labels (int32) of the reliable sources in a noise-normalised cube, and their reliabilities.

    The same linking is applied to the negative mask so that both populations are comparable;
    as SoFiA's ``reliability.minSNR``, sources whose integrated S/N (beam-correlated noise of
    ``beam_sigma_px``) is below ``min_snr`` are dropped whatever their reliability.
    """
    pos, neg = smooth_and_clip(snr, spatial, spectral, threshold)
    labels = link_sources(pos, radius)
    neg_labels = link_sources(neg, radius)
    rel = reliability(_parameters(snr, labels, 1.0), _parameters(snr, neg_labels, -1.0))
    rel = np.where(_integrated_snr(snr, labels, 1.0, beam_sigma_px) >= min_snr, rel, 0.0)
    keep = np.concatenate([[False], rel >= min_reliability])
    return compress_labels(labels, keep), rel[rel >= min_reliability]
