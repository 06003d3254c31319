"""Figures for posterior checks: pair plot, coverage curve, SBC rank histograms, loss curve."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import binom

__all__ = ["pair_plot", "coverage_plot", "rank_histograms", "loss_plot"]


def pair_plot(samples: np.ndarray, names, truth=None, reference: np.ndarray | None = None, path=None, title: str = ""):
    """Corner-style plot of samples (n, d); optional true point and reference samples."""
    d = samples.shape[1]
    fig, axes = plt.subplots(d, d, figsize=(2.2 * d + 1, 2.2 * d + 1), squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                bins = 40
                rng = (np.min(samples[:, i]), np.max(samples[:, i]))
                if reference is not None:
                    rng = (min(rng[0], reference[:, i].min()), max(rng[1], reference[:, i].max()))
                    ax.hist(reference[:, i], bins=bins, range=rng, histtype="step", color="k", density=True, label="reference")
                ax.hist(samples[:, i], bins=bins, range=rng, color="C0", alpha=0.6, density=True, label="sim2sky")
                if truth is not None:
                    ax.axvline(truth[i], color="C3")
                ax.set_yticks([])
            else:
                if reference is not None:
                    ax.scatter(reference[:2000, j], reference[:2000, i], s=1, c="k", alpha=0.3)
                ax.scatter(samples[:2000, j], samples[:2000, i], s=1, c="C0", alpha=0.3)
                if truth is not None:
                    ax.plot(truth[j], truth[i], "*", color="C3", ms=10)
            if i == d - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
    if reference is not None:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def coverage_plot(curves: dict, path=None, title: str = "Expected coverage"):
    """Empirical vs nominal coverage; ``curves`` maps label -> (levels, coverage)."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    for label, (lv, cov) in curves.items():
        ax.plot(lv, cov, marker="o", ms=3, label=label)
    ax.set_xlabel("credibility level")
    ax.set_ylabel("empirical coverage")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def rank_histograms(ranks: np.ndarray, num_samples: int, names, path=None, bins: int = 20):
    """SBC rank histograms per parameter with the 99% band of a uniform histogram."""

    d = ranks.shape[1]
    fig, axes = plt.subplots(1, d, figsize=(2.4 * d + 0.5, 2.4), squeeze=False)
    m = ranks.shape[0]
    lo, hi = binom.ppf([0.005, 0.995], m, 1 / bins)
    for i in range(d):
        ax = axes[0, i]
        ax.axhspan(lo, hi, color="0.85")
        ax.hist(ranks[:, i], bins=bins, range=(0, num_samples), color="C0")
        ax.set_title(names[i], fontsize=9)
        ax.set_yticks([])
    fig.suptitle("SBC ranks (grey: 99% band for uniform)", fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def loss_plot(history: dict, path=None):
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(history["train_loss"], label="train")
    ax.plot(history["val_loss"], label="validation")
    ax.axvline(history.get("best_epoch", 0), color="k", lw=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("-log q(theta|x)")
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
