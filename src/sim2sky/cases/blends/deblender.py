"""The learned deblender: a U-Net finds galaxy centres, a second U-Net gives each galaxy its share of
every pixel's flux.

Detection: a 2-D U-Net predicts a centre heat map (a Gaussian of 1.5 pixels at each galaxy);
its local maxima are the detections. Deblending: for each detection a U-Net sees the stamp
around it with two extra channels marking *this* galaxy and the *other* detections, and predicts
the fraction ``f`` of each pixel's flux that belongs to this galaxy (trained against the noiseless
truth ``I_k / sum_j I_j``, weighted by the blend's flux). The flux is ``sum f * image`` and its
error ``sigma * sqrt(sum f^2)``: fractions rather than images keep the photometry linear in the
data, so the noise adds no bias (Boucaud et al. 2020, arXiv:1905.01324, predict masks and fluxes
of overlapping galaxies with U-Nets; scarlet, Melchior et al. 2018, arXiv:1802.10157, is the
classical non-parametric peer).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ...learn import Segmenter, SegmenterConfig
from ...nn import UNet
from .schema import STAMP, SURVEY, Survey

__all__ = ["scaled", "centre_map", "detector_targets", "fraction_samples", "train_blend_detector",
           "train_fraction_network", "find_peaks", "deblend_image", "CENTRE_SIGMA"]

CENTRE_SIGMA = 1.5


def scaled(image: np.ndarray, noise: float) -> np.ndarray:
    """Network input: asinh of the image in noise units (bright cores compressed, faint wings kept)."""
    return np.arcsinh(np.asarray(image, np.float32) / (2 * noise)).astype(np.float32)


def centre_map(shape, xs, ys, sigma: float = CENTRE_SIGMA) -> np.ndarray:
    """Max of unit Gaussians at (xs, ys) on a (y, x) grid."""
    yy, xx = np.indices(shape, dtype=np.float32)
    out = np.zeros(shape, np.float32)
    for x, y in zip(np.atleast_1d(xs), np.atleast_1d(ys)):
        out = np.maximum(out, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)))
    return out


def detector_targets(truth: dict, shape) -> np.ndarray:
    n = truth["x"].shape[0]
    return np.stack([centre_map(shape, truth["x"][i][truth["present"][i]], truth["y"][i][truth["present"][i]])
                     for i in range(n)])


def _fraction_input(image_scaled, x, y, others_x, others_y, rng=None, jitter: float = 0.0):
    if rng is not None and jitter:
        x, y = x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter)
        others_x = np.asarray(others_x) + rng.uniform(-jitter, jitter, len(others_x))
        others_y = np.asarray(others_y) + rng.uniform(-jitter, jitter, len(others_y))
    shape = image_scaled.shape
    return np.stack([image_scaled, centre_map(shape, [x], [y]), centre_map(shape, others_x, others_y)])


def fraction_samples(images, isolated, truth, noise: float, seed: int = 0, jitter: float = 0.7):
    """Training triples ``(x (m, 3, S, S), target fraction (m, S, S), weight (m, S, S))``, one per galaxy."""
    rng = np.random.default_rng(seed)
    xs, ts, ws = [], [], []
    for i in range(len(images)):
        total = isolated[i].sum(0)
        sc = scaled(images[i], noise)
        idx = np.nonzero(truth["present"][i])[0]
        weight = total / noise + 0.02
        for k in idx:
            others = [j for j in idx if j != k]
            xs.append(_fraction_input(sc, truth["x"][i, k], truth["y"][i, k], truth["x"][i, others],
                                      truth["y"][i, others], rng, jitter))
            ts.append(np.where(total > 1e-3 * noise, isolated[i, k] / np.maximum(total, 1e-30), 0.0))
            ws.append(weight)
    w = np.array(ws, np.float32)
    return np.array(xs, np.float32), np.clip(np.array(ts, np.float32), 0, 1), w / w.mean()


def train_blend_detector(images, truth, noise: float = SURVEY.noise, epochs: int = 10, seed: int = 0,
                         progress: bool = False, channels=(16, 32, 64)) -> Segmenter:
    torch.manual_seed(seed)
    net = UNet(dim=2, in_channels=1, out_channels=1, channels=channels)
    cfg = SegmenterConfig(epochs=epochs, batch_size=32, learning_rate=3e-3, positive_weight=5.0, seed=seed)
    return Segmenter(net, cfg).fit(scaled(images, noise)[:, None], detector_targets(truth, images.shape[1:]),
                                   progress=progress)


def train_fraction_network(images, isolated, truth, noise: float = SURVEY.noise, epochs: int = 10, seed: int = 0,
                           progress: bool = False, channels=(16, 32, 64)) -> Segmenter:
    torch.manual_seed(seed)
    x, target, weight = fraction_samples(images, isolated, truth, noise, seed)
    net = UNet(dim=2, in_channels=3, out_channels=1, channels=channels)
    cfg = SegmenterConfig(epochs=epochs, batch_size=32, learning_rate=3e-3, seed=seed)
    return Segmenter(net, cfg).fit(x, target, weight, progress=progress)


def find_peaks(prob: np.ndarray, threshold: float = 0.8, min_distance: int = 2):
    """Local maxima of a heat map above ``threshold``: ``(x, y, score)`` with sub-pixel centroids."""
    size = 2 * min_distance + 1
    peaks = (prob == ndimage.maximum_filter(prob, size=size, mode="constant")) & (prob > threshold)
    ys, xs = np.nonzero(peaks)
    score = prob[ys, xs]
    fx, fy = np.empty(len(xs)), np.empty(len(xs))
    for k, (x, y) in enumerate(zip(xs, ys)):
        sl = (slice(max(0, y - 1), min(prob.shape[0], y + 2)), slice(max(0, x - 1), min(prob.shape[1], x + 2)))
        w = prob[sl]
        yy, xx = np.mgrid[sl]
        fx[k], fy[k] = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    return fx, fy, score


def deblend_image(image: np.ndarray, detector: Segmenter, fractions: Segmenter, noise: float | None = None,
                  survey: Survey = SURVEY, threshold: float = 0.8, stamp: int = STAMP, batch: int = 64):
    """Detect and deblend every galaxy of an image (counts, background-subtracted).

    Returns a dict with (n,) arrays ``x, y, score, flux, flux_err`` and ``fractions`` (n, stamp,
    stamp) with the stamps' origins ``x0, y0``, and a ``segmentation`` map (ids 1..n, 0 = sky):
    each pixel of significant signal goes to the galaxy with the largest share of it.
    NaN pixels are set to 0 for the networks and contribute nothing to fluxes.
    """
    image = np.asarray(image, np.float32)
    bad = ~np.isfinite(image)
    data = np.where(bad, 0.0, image).astype(np.float32)
    if noise is None:
        good = data[~bad]
        noise = float(1.4826 * np.median(np.abs(good - np.median(good)))) or 1.0
    sc = scaled(data, noise)
    prob = detector.predict_proba(sc[None, None], batch=1)[0]
    xs, ys, score = find_peaks(prob, threshold)
    n = len(xs)
    ny, nx = data.shape
    half = stamp // 2
    x0 = np.clip(np.rint(xs).astype(int) - half, 0, max(nx - stamp, 0))
    y0 = np.clip(np.rint(ys).astype(int) - half, 0, max(ny - stamp, 0))
    padded = np.pad(sc, ((0, max(0, stamp - ny)), (0, max(0, stamp - nx))))
    dpad = np.pad(data, ((0, max(0, stamp - ny)), (0, max(0, stamp - nx))))
    inputs = np.empty((n, 3, stamp, stamp), np.float32)
    for k in range(n):
        near = (np.abs(xs - xs[k]) < stamp) & (np.abs(ys - ys[k]) < stamp) & (np.arange(n) != k)
        inputs[k] = _fraction_input(padded[y0[k]:y0[k] + stamp, x0[k]:x0[k] + stamp], xs[k] - x0[k], ys[k] - y0[k],
                                    xs[near] - x0[k], ys[near] - y0[k])
    frac = fractions.predict_proba(inputs, batch=batch) if n else np.zeros((0, stamp, stamp), np.float32)
    # each galaxy's share is predicted on its own; where the shares of overlapping galaxies add up
    # to more than the pixel holds, scale them down so that no flux is counted twice
    total = np.zeros(dpad.shape, np.float32)
    for k in range(n):
        total[y0[k]:y0[k] + stamp, x0[k]:x0[k] + stamp] += frac[k]
    excess = np.maximum(total, 1.0)
    for k in range(n):
        frac[k] /= excess[y0[k]:y0[k] + stamp, x0[k]:x0[k] + stamp]
    flux = np.array([(frac[k] * dpad[y0[k]:y0[k] + stamp, x0[k]:x0[k] + stamp]).sum() for k in range(n)])
    flux_err = noise * np.sqrt((frac ** 2).sum((1, 2)))
    signal = ndimage.gaussian_filter(data, 1.0) > 1.5 * noise / (2 * np.sqrt(np.pi))
    best = np.zeros(dpad.shape, np.float32)
    seg = np.zeros(dpad.shape, np.int32)
    for k in range(n):
        sl = (slice(y0[k], y0[k] + stamp), slice(x0[k], x0[k] + stamp))
        win = frac[k] > best[sl]
        best[sl][win] = frac[k][win]
        seg[sl][win] = k + 1
    seg = seg[:ny, :nx]
    seg[~signal | (best[:ny, :nx] < 0.3)] = 0
    return {"x": xs, "y": ys, "score": score, "flux": flux, "flux_err": flux_err, "fractions": frac,
            "x0": x0, "y0": y0, "segmentation": seg, "noise": noise}
