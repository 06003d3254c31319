"""The SoFiA-like finder, one test per step of SoFiA-2's pipeline as Westmeier et al. (2021, arXiv:2106.15789)
and the SoFiA-2 source describe it: noise from the negative fluxes, smooth-and-clip at each smoothed cube's own
noise, replacement of detected voxels before smoothing, the ellipsoid linker with size limits, the
reliability from positive and negative detections, and the integrated-S/N cut."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.stats import norm

from sim2sky.cases.hicubes.finder import (integrated_snr, link_sources, noise_level, reliability, smooth_and_clip,
                                          sofia_like_find)


def _noise(shape=(64, 96, 96), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_noise_from_negative_fluxes_ignores_emission():
    cube = 2.0 * _noise(seed=1)
    bright = np.random.default_rng(2).random(cube.shape) < 0.05
    cube[bright] += 50.0                      # 5% of the voxels hold emission
    assert noise_level(cube) == pytest.approx(2.0, rel=0.02)
    # all fluxes: the emission drags the estimate up (SoFiA-2's reason for fluxRange = negative)
    assert noise_level(cube, "all") > 2.1
    with pytest.raises(ValueError, match="flux_range"):
        noise_level(cube, "both")


@pytest.mark.parametrize("kernel_xy, kernel_z, tol", [(0.0, 0, 0.1), (3.0, 1, 0.15), (6.0, 15, 0.35)])
def test_clip_is_at_each_smoothed_cubes_own_noise(kernel_xy, kernel_z, tol):
    # pure noise: whatever the kernel, the fraction clipped on each side is the Gaussian tail at the threshold,
    # which holds only if the rms is measured again on every smoothed cube (with the unsmoothed rms the
    # smoothed cubes would clip almost nothing); the tolerance grows with the kernel because there are fewer
    # independent noise cells (about 1,500 for 6 px x 15 channels)
    cube = _noise((96, 160, 160), seed=3)
    pos, neg = smooth_and_clip(cube, (kernel_xy,), (kernel_z,), threshold=2.5)
    tail = norm.sf(2.5)
    assert pos.mean() == pytest.approx(tail, rel=tol)
    assert neg.mean() == pytest.approx(tail, rel=tol)


def test_replacement_stops_bright_sources_smearing():
    cube = _noise(seed=4)
    cube[32, 48, 48] = 2000.0                 # one very bright voxel
    kernels = dict(kernels_xy=(0.0, 6.0), kernels_z=(0, 15), threshold=5.0)
    with_repl, _ = smooth_and_clip(cube, replacement=2.0, **kernels)
    without, _ = smooth_and_clip(cube, replacement=-1.0, **kernels)
    # without replacement the 6-px x 15-channel kernels spread 2000 sigma over hundreds of voxels
    assert without.sum() > 300
    assert with_repl.sum() < 0.2 * without.sum()
    assert with_repl[32, 48, 48]


def test_linker_merges_within_the_ellipsoid_and_drops_small_sources():
    def n_sources(points, radius, min_size=(1, 1, 1)):
        mask = np.zeros((20, 20, 20), bool)
        for p in points:
            mask[p] = True
        return link_sources(mask, radius, min_size).max()

    assert n_sources([(5, 5, 5), (5, 5, 7)], (1, 1, 2)) == 1        # dx = 2 = rx
    assert n_sources([(5, 5, 5), (5, 5, 8)], (1, 1, 2)) == 2        # dx = 3 > rx
    assert n_sources([(5, 5, 5), (5, 6, 6)], (1, 1, 1)) == 2        # 1 + 1 > 1: outside the ellipsoid
    assert n_sources([(5, 5, 5), (5, 6, 6)], (1, 2, 2)) == 1        # 1/4 + 1/4 <= 1
    assert n_sources([(5, 5, 5), (7, 5, 5), (9, 5, 5)], (2, 1, 1)) == 1   # a chain links transitively
    # sizes are bounding-box extents per axis: a 4-channel line of 1 pixel fails min_size (3, 3, 3)
    line = [(z, 5, 5) for z in range(4)]
    assert n_sources(line, (1, 1, 1), (3, 1, 1)) == 1
    assert n_sources(line, (1, 1, 1), (3, 3, 3)) == 0


def test_reliability_from_positive_and_negative_densities():
    rng = np.random.default_rng(5)
    noise_like = rng.normal([0.7, 1.0, 0.5], 0.1, size=(400, 3))
    # positives where the negatives are as dense: (P - N) / P near 0; far from them: 1
    rel_noise = reliability(noise_like[:200], noise_like[200:])
    assert np.median(rel_noise) < 0.3
    real = rng.normal([2.0, 3.0, 1.0], 0.1, size=(20, 3))
    rel = reliability(np.vstack([real, noise_like[:200]]), noise_like[200:])
    assert np.all(rel[:20] > 0.99)
    # too few negatives to estimate N: every source is kept
    assert np.all(reliability(real, noise_like[:3]) == 1)


def test_integrated_snr_is_sofia2s_definition():
    snr = np.zeros((10, 10, 10), np.float32)
    labels = np.zeros(snr.shape, np.int32)
    labels[2:5, 2:6, 2:6] = 1                 # N = 48 voxels
    snr[labels == 1] = 1.5
    sigma_b = 1.2
    expected = 1.5 * 48 / np.sqrt(48 * 2 * np.pi * sigma_b ** 2)
    assert integrated_snr(snr, labels, sigma_b)[0] == pytest.approx(expected, rel=1e-6)
    assert integrated_snr(snr, labels, 0.0)[0] == pytest.approx(1.5 * 48 / np.sqrt(48), rel=1e-6)


def test_pipeline_keeps_sources_and_rejects_noise():
    rng = np.random.default_rng(6)
    cube = ndimage.gaussian_filter(rng.normal(size=(96, 96, 96)), (0, 1.06, 1.06))
    cube /= cube.std()
    truth = np.zeros(cube.shape, bool)
    for k in range(6):                        # six 10-channel discs at 2 sigma per voxel
        z, y, x = 15 + 12 * k, 20 + 10 * k, 70 - 9 * k
        zz, yy, xx = np.ogrid[:96, :96, :96]
        disc = (abs(zz - z) < 5) & ((yy - y) ** 2 + (xx - x) ** 2 < 9)
        cube[disc] += 2.0
        truth |= disc
    labels, rel = sofia_like_find(cube.astype(np.float32))
    hits = {int(v) for v in np.unique(labels[truth]) if v}
    assert len(hits) == 6 and labels.max() <= 7, (len(hits), labels.max())
    assert np.all(rel >= 0.9)
    # pure noise: the reliability filter leaves at most one false source
    noise = ndimage.gaussian_filter(rng.normal(size=(96, 96, 96)), (0, 1.06, 1.06))
    assert sofia_like_find((noise / noise.std()).astype(np.float32))[0].max() <= 1
