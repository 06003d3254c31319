"""The learned 3-D source finder: a 3-D U-Net gives each voxel a source probability.

Trained on simulated cubes (:func:`.simulate.simulate_cube`, artefacts included) against the truth
masks, on the same noise-normalised input the classical finder uses. Sources are the linked
components of ``p > voxel_threshold``; each gets a score (its peak probability) on which the
completeness-purity trade-off is tuned. 3-D convolutions see the line and its spatial extent at
once (Hartley et al. 2023, arXiv:2303.07943: 3-D beats stitching 2-D + 1-D).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ...learn import Segmenter, SegmenterConfig
from ...nn import UNet
from .finder import compress_labels, normalise_cube
from .schema import INSTRUMENT, Instrument
from .forward import simulate_cube

__all__ = ["network_input", "training_cubes", "train_detector", "detect", "link_dilated", "DETECTOR_CHANNELS"]

DETECTOR_CHANNELS = (6, 12, 24)
_CLIP = 8.0


def network_input(snr: np.ndarray) -> np.ndarray:
    """The U-Net's input from a noise-normalised cube: clipped (bright sources and artefacts saturate) and scaled."""
    return (np.clip(snr, -_CLIP, _CLIP) / 4.0).astype(np.float32)


def training_cubes(n: int, shape=(64, 48, 48), sources_per_cube: float = 4.0, seed: int = 0,
                   inst: Instrument = INSTRUMENT):
    """``(x (n, 1, *shape), mask (n, *shape))`` from independent simulated cubes (Poisson source counts)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 1, *shape), np.float32)
    y = np.empty((n, *shape), np.float32)
    for k in range(n):
        cube, labels, _, _ = simulate_cube(max(1, rng.poisson(sources_per_cube)), shape, inst, seed=seed * 100_003 + k)
        snr, _, _ = normalise_cube(cube)
        x[k, 0], y[k] = network_input(snr), labels > 0
    return x, y


def train_detector(x: np.ndarray, y: np.ndarray, epochs: int = 8, seed: int = 0, progress: bool = False,
                   channels=DETECTOR_CHANNELS) -> Segmenter:
    """Fit the U-Net segmenter (cross-entropy with positives weighted x3, plus soft Dice)."""
    torch.manual_seed(seed)
    net = UNet(dim=3, in_channels=1, out_channels=1, channels=channels)
    config = SegmenterConfig(epochs=epochs, batch_size=4, learning_rate=3e-3, positive_weight=3.0, dice=0.5, seed=seed)
    return Segmenter(net, config).fit(x, y, progress=progress)


def link_dilated(mask: np.ndarray, radius=(2, 1, 1), min_pixels: int = 3, min_channels: int = 3) -> np.ndarray:
    """Connected parts of ``mask`` after dilating by ``radius`` (c, y, x), so that parts up to 2 x radius
    apart join (the U-Net's own linking, chosen with it; SoFiA-2's ellipsoid linker is
    :func:`.finder.link_sources`). Sources spanning fewer than ``min_channels`` channels or
    ``min_pixels`` spatial pixels are dropped. Returns labels (int32, 0 = none)."""
    structure = np.ones(tuple(2 * r + 1 for r in radius), bool)
    grown = ndimage.binary_dilation(mask, structure) if any(radius) else mask
    labels, n = ndimage.label(grown)
    labels[~mask] = 0
    keep = np.zeros(n + 1, bool)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        part = labels[sl] == k
        keep[k] = part.any((1, 2)).sum() >= min_channels and part.any(0).sum() >= min_pixels
    return compress_labels(labels, keep)


def detect(segmenter: Segmenter, snr: np.ndarray, voxel_threshold: float = 0.5, min_score: float = 0.8,
           radius=(2, 1, 1)):
    """Sources in a noise-normalised cube: ``(labels int32, scores (n,), probability cube float32)``."""
    prob = segmenter.predict_proba(network_input(snr)[None, None], batch=1)[0]
    labels = link_dilated(prob > voxel_threshold, radius)
    n = int(labels.max())
    if n == 0:
        return labels, np.zeros(0), prob
    scores = ndimage.maximum(prob, labels, np.arange(1, n + 1))
    keep = np.concatenate([[False], scores >= min_score])
    return compress_labels(labels, keep), scores[scores >= min_score], prob

