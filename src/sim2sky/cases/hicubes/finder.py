"""SoFiA-like 3-D source finding: our re-implementation of SoFiA-2's smooth-and-clip finder, linker and
reliability filter, the classical peer of the U-Net detector.

SoFiA-2 itself (C with OpenMP and wcslib; Westmeier et al. 2021, arXiv:2106.15789) is not on PyPI and is not
installed here, so this module rebuilds its pipeline from scipy, step by step from the paper, the SoFiA-2
control-parameter documentation and its source (``DataCube_run_scfind``, ``DataCube_run_linker``, the
reliability module). Each step is tested against that description in ``tests/test_sofia_like.py``:

======================  ==============================================  ==========================================
step                    SoFiA-2 (parameter = default)                   here
======================  ==============================================  ==========================================
noise normalisation     ``scaleNoise``: per channel, MAD               :func:`channel_noise` (median-centred MAD of
                        (fluxRange = negative)                          all fluxes: the U-Net was trained on it)
noise of each cube      ``scfind.statistic = mad``,                     :func:`noise_level`, same definition
                        ``scfind.fluxRange = negative``: 1.4826 x
                        median |x| of the negative voxels
smoothing kernels       ``kernelsXY = 0, 3, 6`` (Gaussian FWHM, px),    same, same units
                        ``kernelsZ = 0, 3, 7, 15`` (boxcar, channels)
clip                    ``threshold = 5.0`` x the smoothed cube's rms   same; the pipeline's default is 4.0
replacement             ``replacement = 2.0``: voxels already           same
                        detected are set to +-2 x the original rms
                        before each smoothing (no smearing)
linker                  ``radiusXY = radiusZ = 1``: voxels merge if     same (ellipsoid); ``minSizeXY/Z``: bounding
                        dx^2/rx^2 + dy^2/ry^2 + dz^2/rz^2 <= 1;         box extents, our default 3/3 (the test
                        ``minSizeXY = minSizeZ = 5``                    cubes' beam is 2.5 px, WALLABY's 5 px)
reliability             ``parameters = peak, sum, mean`` (log of        same
                        flux / rms); Gaussian kernel density of
                        positive (P) and negative (N) detections with
                        covariance ``scaleKernel^2`` (0.4) x cov(N);
                        R = (P - N) / P; ``threshold = 0.9``
integrated S/N cut      ``minSNR = 3``: F_sum / (rms sqrt(N Omega)),    same (Omega = 2 pi sigma_beam^2; the exact
                        Omega the beam solid angle in pixels            noise of a sum of beam-correlated voxels
                                                                        is sqrt(2) larger)
======================  ==============================================  ==========================================

Not rebuilt: SoFiA-2's flagging, continuum subtraction, spatially varying noise windows, mask dilation and
the automatic reliability kernel (``autoKernel``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["compress_labels", "channel_noise", "noise_level", "normalise_cube", "smooth_and_clip", "link_sources",
           "reliability", "integrated_snr", "sofia_like_find"]

MAD_TO_STD = 1.4826
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def channel_noise(cube: np.ndarray, max_samples: int = 200_000) -> np.ndarray:
    """Robust noise per channel (1.4826 x median absolute deviation of the finite voxels): (c,)."""
    c = cube.shape[0]
    flat = cube.reshape(c, -1)
    step = max(1, flat.shape[1] // max_samples)
    sample = flat[:, ::step].astype(np.float64)
    med = np.nanmedian(sample, axis=1, keepdims=True)
    sigma = MAD_TO_STD * np.nanmedian(np.abs(sample - med), axis=1)
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


def noise_level(data: np.ndarray, flux_range: str = "negative", max_samples: int = 1_000_000) -> float:
    """SoFiA-2's MAD noise: 1.4826 x the median of |x| (about zero) over the negative, positive or all voxels.

    Only the negative half is used by default because emission cannot make it larger.
    """
    flat = data.reshape(-1)
    step = max(1, flat.size // max_samples)
    if step > 1 and step % 2 == 0:
        step += 1                     # an odd stride, so that the sample does not run along one image column
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if flux_range == "negative":
        sample = sample[sample < 0]
    elif flux_range == "positive":
        sample = sample[sample > 0]
    elif flux_range != "all":
        raise ValueError(f"flux_range: expected negative, positive or all, got {flux_range!r}")
    return float(MAD_TO_STD * np.median(np.abs(sample))) if sample.size else 0.0


def smooth_and_clip(snr: np.ndarray, kernels_xy=(0.0, 3.0, 6.0), kernels_z=(0, 3, 7, 15), threshold: float = 5.0,
                    replacement: float = 2.0, flux_range: str = "negative"):
    """SoFiA-2's S+C finder: positive and negative masks of the voxels beyond ``threshold`` x the noise of
    any of the smoothed cubes.

    Parameters
    ----------
    snr : ndarray, shape (c, y, x)
        Noise-normalised cube (NaN already set to 0).
    kernels_xy : sequence of float
        Spatial Gaussian kernels, FWHM [pixels]; 0: none.
    kernels_z : sequence of int
        Spectral boxcar widths [channels]; 0 or 1: none.
    threshold : float
        Clip level in units of each smoothed cube's noise.
    replacement : float
        Before each smoothing, voxels already detected are set to +-``replacement`` x the original noise
        so that bright sources are not smeared beyond their extent; negative: off.
    flux_range : str
        Voxels that measure the noise (:func:`noise_level`).
    """
    pos = np.zeros(snr.shape, bool)
    neg = np.zeros(snr.shape, bool)
    rms = noise_level(snr, flux_range)
    for fwhm in kernels_xy:
        for width in kernels_z:
            if not fwhm and width <= 1:
                sm, rms_s = snr, rms
            else:
                sm = snr.copy()
                if replacement >= 0:
                    det = pos | neg
                    sm[det] = np.copysign(replacement * rms, snr[det])
                if fwhm:
                    s = fwhm * FWHM_TO_SIGMA
                    sm = ndimage.gaussian_filter(sm, (0, s, s), mode="constant")
                if width > 1:
                    sm = ndimage.uniform_filter1d(sm, 2 * (width // 2) + 1, axis=0, mode="constant")
                rms_s = noise_level(sm, flux_range)
            pos |= sm > threshold * rms_s
            neg |= sm < -threshold * rms_s
    return pos, neg


def _offsets(radius) -> np.ndarray:
    """Half of the non-zero integer offsets (dz, dy, dx) inside the merging ellipsoid."""
    rz, ry, rx = (max(int(r), 0) for r in radius)
    grid = np.stack(np.meshgrid(np.arange(-rz, rz + 1), np.arange(-ry, ry + 1), np.arange(-rx, rx + 1),
                                indexing="ij"), -1).reshape(-1, 3)
    scale = np.array([max(rz, 1e-9), max(ry, 1e-9), max(rx, 1e-9)], float)
    inside = ((grid / scale) ** 2).sum(1) <= 1 + 1e-9
    first = np.array([tuple(g) > (0, 0, 0) for g in grid])       # one of each +-pair
    return grid[inside & first]


def link_sources(mask: np.ndarray, radius=(1, 1, 1), min_size=(3, 3, 3)) -> np.ndarray:
    """SoFiA-2's linker: voxels of ``mask`` closer than the merging ellipsoid ``radius`` (c, y, x) belong to
    one source; sources whose bounding box is smaller than ``min_size`` (c, y, x) in any axis are dropped.

    Returns ``labels`` (int32, 0 = none, sources 1..n).
    """
    mask = np.asarray(mask, bool)
    labels, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, 1))
    if n == 0:
        return labels.astype(np.int32)
    a, b = [], []
    for dz, dy, dx in _offsets(radius):
        # pairs (v, v + d) of detected voxels with different components: an edge of the merging graph
        src = labels[max(0, -dz):labels.shape[0] - max(0, dz), max(0, -dy):labels.shape[1] - max(0, dy),
                     max(0, -dx):labels.shape[2] - max(0, dx)]
        dst = labels[max(0, dz):labels.shape[0] + min(0, dz) or None, max(0, dy):labels.shape[1] + min(0, dy) or None,
                     max(0, dx):labels.shape[2] + min(0, dx) or None]
        hit = (src > 0) & (dst > 0) & (src != dst)
        if hit.any():
            a.append(src[hit])
            b.append(dst[hit])
    if a:
        a, b = np.concatenate(a), np.concatenate(b)
        graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n + 1, n + 1))
        _, comp = connected_components(graph, directed=False)
        _, ids = np.unique(comp[1:], return_inverse=True)
        lut = np.concatenate([[0], ids + 1]).astype(np.int32)
        labels, n = lut[labels], int(ids.max()) + 1
    keep = np.zeros(n + 1, bool)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is not None:
            keep[k] = all(s.stop - s.start >= m for s, m in zip(sl, min_size))
    return compress_labels(labels, keep)


def compress_labels(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Drop the ids where ``keep`` is False and renumber the rest 1..n (parts linked by dilation keep one id)."""
    new = np.zeros(len(keep), np.int32)
    new[np.nonzero(keep)[0]] = np.arange(1, keep.sum() + 1, dtype=np.int32)
    new[0] = 0
    return new[labels]


def _label_sums(v: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``v`` and number of voxels of each label 1 .. labels.max(): two (n,) arrays."""
    n = int(labels.max())
    flat = labels.ravel()
    return (np.bincount(flat, weights=v.ravel(), minlength=n + 1)[1:].astype(np.float64),
            np.bincount(flat, minlength=n + 1)[1:].astype(np.float64))


def _parameters(snr: np.ndarray, labels: np.ndarray, sign: float, sums=None) -> np.ndarray:
    """log10 of (peak, sum, mean) S/N of each source (the sign flipped for negative sources);
    ``sums``: :func:`_label_sums` of ``snr`` when already computed."""
    idx = np.arange(1, labels.max() + 1)
    if len(idx) == 0:
        return np.zeros((0, 3))
    v = sign * snr
    peak = ndimage.maximum(v, labels, idx)
    total, count = _label_sums(snr, labels) if sums is None else sums
    total = sign * total
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


def integrated_snr(snr: np.ndarray, labels: np.ndarray, beam_sigma_px: float, sign: float = 1.0,
                   sums=None) -> np.ndarray:
    """SoFiA-2's integrated S/N of each source: sum / sqrt(N x Omega), Omega = 2 pi sigma_beam^2 [px]
    (1 without a beam), of a noise-normalised cube; ``sums``: :func:`_label_sums` of ``snr``."""
    if labels.max() < 1:
        return np.zeros(0)
    total, count = _label_sums(snr, labels) if sums is None else sums
    omega = 2 * np.pi * beam_sigma_px ** 2 if beam_sigma_px > 0 else 1.0
    return sign * total / np.sqrt(count * omega)


def sofia_like_find(snr: np.ndarray, threshold: float = 4.0, min_reliability: float = 0.9,
                    kernels_xy=(0.0, 3.0, 6.0), kernels_z=(0, 3, 7, 15), replacement: float = 2.0,
                    radius=(1, 1, 1), min_size=(3, 3, 3), min_snr: float = 3.0, beam_sigma_px: float = 1.06,
                    scale_kernel: float = 0.4):
    """Labels (int32) of the reliable sources in a noise-normalised cube, and their reliabilities.

    SoFiA-2's pipeline (module docstring): S+C finder, linker, reliability and the integrated-S/N cut;
    the negative detections are linked like the positive ones so that both populations compare.

    Parameters
    ----------
    snr : ndarray, shape (c, y, x)
        Noise-normalised cube (:func:`normalise_cube`).
    threshold, kernels_xy, kernels_z, replacement
        :func:`smooth_and_clip`.
    radius, min_size
        :func:`link_sources`.
    min_reliability, scale_kernel
        Reliability cut and kernel scale (:func:`reliability`).
    min_snr, beam_sigma_px
        Integrated S/N cut (:func:`integrated_snr`); the beam's Gaussian sigma [pixels].

    References
    ----------
    Serra et al. 2012, arXiv:1203.0486; Serra et al. 2015, arXiv:1501.03906;
    Westmeier et al. 2021, arXiv:2106.15789.
    """
    pos, neg = smooth_and_clip(snr, kernels_xy, kernels_z, threshold, replacement)
    labels = link_sources(pos, radius, min_size)
    neg_labels = link_sources(neg, radius, min_size)
    sums = _label_sums(snr, labels) if labels.max() > 0 else None       # one pass for both statistics
    rel = reliability(_parameters(snr, labels, 1.0, sums), _parameters(snr, neg_labels, -1.0), scale_kernel)
    rel = np.where(integrated_snr(snr, labels, beam_sigma_px, sums=sums) >= min_snr, rel, 0.0)
    keep = np.concatenate([[False], rel >= min_reliability])
    return compress_labels(labels, keep), rel[rel >= min_reliability]
