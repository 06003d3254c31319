"""Figures and the HTML page of ``sim2sky explain / represent / tension``: attribution bars and
beeswarms, attribution spectra, latent maps, anomaly-score histograms."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..core.atomic import write_text  # noqa: E402
from .plots import _finish  # noqa: E402

__all__ = ["attribution_bar", "attribution_beeswarm", "attribution_spectra", "attribution_images", "latent_map", "score_histogram",
           "html_page", "html_table"]


def attribution_bar(attr: np.ndarray, names, groups: np.ndarray, group_names, path, top: int = 12):
    """Mean |attribution| of each feature (n, k) per group (e.g. predicted class): one panel per group."""
    names = list(names)
    used = [g for g in range(len(group_names)) if (groups == g).any()]
    fig, axes = plt.subplots(1, max(len(used), 1), figsize=(3.2 * max(len(used), 1), 0.3 * min(top, len(names)) + 1.2),
                             squeeze=False)
    for ax, g in zip(axes[0], used):
        m = np.abs(attr[groups == g]).mean(0)
        order = np.argsort(m)[::-1][:top][::-1]
        ax.barh(np.arange(len(order)), m[order], color="#1f77b4")
        ax.set_yticks(np.arange(len(order)), [names[i] for i in order], fontsize=7)
        ax.set_title(f"{group_names[g]} (n={int((groups == g).sum())})", fontsize=9)
        ax.set_xlabel("mean |attribution|", fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def attribution_beeswarm(attr: np.ndarray, x: np.ndarray, names, path, top: int = 12, seed: int = 0):
    """SHAP-style beeswarm: one row per feature, attribution on x, colour = feature value (rank)."""
    names = list(names)
    order = np.argsort(np.abs(attr).mean(0))[::-1][:top]
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(order) + 1.2))
    for row, j in enumerate(order[::-1]):
        v = x[:, j]
        c = np.argsort(np.argsort(v)) / max(len(v) - 1, 1)
        ax.scatter(attr[:, j], row + rng.uniform(-0.3, 0.3, len(v)), c=c, cmap="coolwarm", s=4, alpha=0.7)
    ax.set_yticks(np.arange(len(order)), [names[j] for j in order[::-1]], fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("attribution to the predicted class logit (red: high feature value)")
    fig.tight_layout()
    return _finish(fig, path)


def attribution_spectra(attr: np.ndarray, wave: np.ndarray, groups: np.ndarray, group_names, path, flux=None):
    """Mean attribution per wavelength (n, L) for each group, with the mean spectrum behind."""
    used = [g for g in range(len(group_names)) if (groups == g).any()]
    fig, axes = plt.subplots(len(used) or 1, 1, figsize=(8, 1.6 * max(len(used), 1) + 0.6), sharex=True, squeeze=False)
    for ax, g in zip(axes[:, 0], used):
        sel = groups == g
        ax.plot(wave, attr[sel].mean(0), color="#d62728", lw=0.8, label="mean attribution")
        ax.set_ylabel(group_names[g], fontsize=8)
        if flux is not None:
            ax2 = ax.twinx()
            ax2.plot(wave, flux[sel].mean(0), color="0.6", lw=0.6)
            ax2.set_yticks([])
    axes[-1, 0].set_xlabel("wavelength [Å]")
    fig.tight_layout()
    return _finish(fig, path)


def attribution_images(attr: np.ndarray, images: np.ndarray, groups: np.ndarray, group_names, path, per_group: int = 3):
    """Attribution maps (n, H, W) over their images, ``per_group`` objects for each predicted group:
    red pixels push towards the predicted class, blue away."""
    used = [g for g in range(len(group_names)) if (groups == g).any()]
    fig, axes = plt.subplots(max(len(used), 1), per_group, figsize=(2.2 * per_group, 2.2 * max(len(used), 1)),
                             squeeze=False)
    for row, g in zip(axes, used):
        sel = np.flatnonzero(groups == g)[:per_group]
        for ax, i in zip(row, sel):
            lim = max(float(np.abs(attr[i]).max()), 1e-12)
            ax.imshow(np.sqrt(np.clip(images[i], 0, None)), origin="lower", cmap="gray")
            ax.imshow(attr[i], origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.6)
            ax.set_title(f"-> {group_names[g]}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return _finish(fig, path)


def latent_map(proj: np.ndarray, labels: np.ndarray, path, title: str = "", max_points: int = 50_000, seed: int = 0):
    """2-D projection (n, 2) coloured by labels (strings or ints), at most ``max_points`` drawn."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(proj))[:max_points]
    labels = np.asarray(labels).astype(str)
    names, counts = np.unique(labels[idx], return_counts=True)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab20")
    for k, name in enumerate(names[np.argsort(-counts)]):
        sel = idx[labels[idx] == name]
        ax.scatter(proj[sel, 0], proj[sel, 1], s=2 if len(sel) > 2000 else 6, color=cmap(k % 20), label=name,
                   alpha=0.6, rasterized=True)
    ax.legend(markerscale=3, fontsize=6, ncol=2, loc="best")
    ax.set_xlabel("UMAP 1"), ax.set_ylabel("UMAP 2"), ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def score_histogram(scores: dict, path, xlabel: str = "anomaly score  -log p(z)"):
    """Histograms of scores for named groups ({name: (n,) array})."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in scores.values()])
    bins = np.linspace(*np.percentile(finite, [0.1, 99.9]), 60) if len(finite) else 10
    for name, v in scores.items():
        ax.hist(np.asarray(v)[np.isfinite(v)], bins=bins, histtype="step", density=True, label=f"{name} (n={len(v)})")
    ax.set_xlabel(xlabel), ax.set_ylabel("density"), ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)


def html_page(path, title: str, sections: list[tuple[str, str, list[str]]]) -> Path:
    """A self-contained page: ``sections`` = [(heading, html text, [image file names])]."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]
    for heading, text, images in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{text}")
        parts.extend(f"<p><img src='{html.escape(img)}' alt='{html.escape(img)}'></p>" for img in images)
    parts.append("</body></html>")
    return write_text(path, "\n".join(parts))


def html_table(rows: list[dict]) -> str:
    """rows of {column: value} -> an HTML table (floats to 4 significant digits)."""
    if not rows:
        return "<p>(empty)</p>"
    cols = list(rows[0])

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"

