"""Summary statistics that validate field emulators: P(k), one-point PDF, peak counts, Minkowski functionals.

References: Mecke, Buchert & Wagner 1994 (Minkowski functionals); for 21-cm emulator
validation, Andrianomena et al. 2023 (HIGlow), arXiv:2211.12724.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ...nn.fourier import power_spectrum

__all__ = ["pixel_pdf", "peak_counts", "minkowski_2d", "compare_fields"]


def pixel_pdf(fields: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Normalised histogram of all pixel values on ``edges`` (density per unit field)."""
    hist, _ = np.histogram(np.asarray(fields).ravel(), bins=edges, density=True)
    return hist


def peak_counts(fields: np.ndarray, dim: int, thresholds: np.ndarray) -> np.ndarray:
    """Mean number of local maxima (periodic 3^dim neighbourhood) per field above each threshold."""
    fields = np.asarray(fields)
    size = (1,) + (3,) * dim
    peaks = fields == ndimage.maximum_filter(fields, size=size, mode="wrap")
    values = fields[peaks]
    return np.array([(values > t).sum() for t in thresholds]) / len(fields)


def minkowski_2d(maps: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Mean Minkowski functionals (V0 area fraction, V1 boundary length per pixel, V2 Euler
    characteristic per pixel) of the excursion sets of 2-D periodic maps; returns (3, thresholds)."""
    maps = np.asarray(maps)
    npix = maps.shape[-1] * maps.shape[-2]
    out = np.zeros((3, len(thresholds)))
    for j, t in enumerate(thresholds):
        b = maps > t
        up, left = np.roll(b, 1, -2), np.roll(b, 1, -1)
        diag = np.roll(up, 1, -1)
        faces = b.sum((-2, -1))
        vertices = (b | up | left | diag).sum((-2, -1))
        edges = (b | up).sum((-2, -1)) + (b | left).sum((-2, -1))
        boundary = (b ^ up).sum((-2, -1)) + (b ^ left).sum((-2, -1))
        out[:, j] = [faces.mean() / npix, boundary.mean() / npix, (vertices - edges + faces).mean() / npix]
    return out


def _errors(sim: np.ndarray, other: np.ndarray, dim: int) -> dict:
    """P(k) ratio and the maximum relative P(k), PDF and peak-count errors of ``other`` against ``sim``."""
    k, p_sim = power_spectrum(torch.as_tensor(sim), dim)
    _, p_other = power_spectrum(torch.as_tensor(other), dim)
    ratio = (p_other.mean(0) / p_sim.mean(0)).numpy()
    half = k.numpy() <= sim.shape[-1] / 4
    mu, sd = sim.mean(), sim.std()
    edges = np.quantile(sim, np.linspace(0, 1, 41))
    edges[0], edges[-1] = min(edges[0], other.min()), max(edges[-1], other.max())
    h_sim, h_other = pixel_pdf(sim, edges), pixel_pdf(other, edges)
    big = h_sim * np.diff(edges) >= 0.01
    thresholds = mu + sd * np.array([1.0, 2.0, 3.0])
    peaks_sim, peaks_other = peak_counts(sim, dim, thresholds), peak_counts(other, dim, thresholds)
    return {"k": k.numpy().tolist(), "pk_ratio": ratio.tolist(), "pk_max_error": float(np.abs(ratio[half] - 1).max()),
            "pdf_max_error": float(np.abs(h_other[big] / h_sim[big] - 1).max()),
            "peaks_sim": peaks_sim.tolist(), "peaks_other": peaks_other.tolist(),
            "peaks_max_error": float(np.max(np.abs(peaks_other[:2] / np.maximum(peaks_sim[:2], 1e-9) - 1)))}


def compare_fields(simulated: np.ndarray, emulated: np.ndarray, dim: int, simulated_again: np.ndarray | None = None) -> dict:
    """How well emulated fields reproduce simulated ones (same parameters, same count).

    Returns P(k) ratios (``pk_ratio`` per shell, ``pk_max_error`` below half-Nyquist), the
    one-point PDF's relative error in bins holding >= 1% of pixels (``pdf_max_error``), peak
    counts above 1, 2, 3 sigma and, for maps, Minkowski functionals at -1..2 sigma, each as
    (simulated, emulated).

    ``simulated_again``: a second, independent set of simulations at the same parameters. The
    same errors between the two simulated sets are returned as ``*_floor`` (``pk_max_error_floor``
    ...): the sample-variance floor below which no emulator can be judged with this many fields.
    """
    sim = np.asarray(simulated, np.float64)
    emu = np.asarray(emulated, np.float64)
    e = _errors(sim, emu, dim)
    out = {"k": e["k"], "pk_ratio": e["pk_ratio"], "pk_max_error": e["pk_max_error"], "pdf_max_error": e["pdf_max_error"],
           "peaks_sim": e["peaks_sim"], "peaks_emu": e["peaks_other"], "peaks_max_error": e["peaks_max_error"],
           "mean_sim": float(sim.mean()), "mean_emu": float(emu.mean()), "std_sim": float(sim.std()),
           "std_emu": float(emu.std())}
    if simulated_again is not None:
        floor = _errors(sim, np.asarray(simulated_again, np.float64), dim)
        out.update({f"{key}_floor": floor[key] for key in ("pk_max_error", "pdf_max_error", "peaks_max_error")})
        out["pk_ratio_floor"] = floor["pk_ratio"]
    mu, sd = out["mean_sim"], out["std_sim"]
    maps = (sim, emu) if dim == 2 else (sim[:, sim.shape[1] // 2], emu[:, emu.shape[1] // 2])
    nu = mu + sd * np.array([-1.0, 0.0, 1.0, 2.0])
    out["minkowski_sim"], out["minkowski_emu"] = (minkowski_2d(m, nu).tolist() for m in maps)
    return out
