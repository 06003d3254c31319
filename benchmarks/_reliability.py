"""Reliability diagrams of the trust benchmarks: top-label confidence against accuracy."""

import numpy as np


def reliability(proba, y, bins: int = 10) -> dict:
    """The reliability diagram's points of ``proba`` (n, K) against class indices ``y`` (n,), in
    equal-width confidence bins; rows with a NaN probability or ``y < 0`` are left out."""
    p, y = np.asarray(proba, float), np.asarray(y)
    ok = np.isfinite(p).all(1) & (y >= 0)
    conf, hit = p[ok].max(1), p[ok].argmax(1) == y[ok]
    idx = np.clip(np.digitize(conf, np.linspace(0, 1, bins + 1)) - 1, 0, bins - 1)
    keep = [b for b in range(bins) if (idx == b).any()]
    return {"confidence": [float(conf[idx == b].mean()) for b in keep],
            "accuracy": [float(hit[idx == b].mean()) for b in keep], "n": [int((idx == b).sum()) for b in keep]}


def reliability_figure(curves: dict, path, title: str, xlabel: str = "top-class probability") -> None:
    """One line per entry of ``curves`` (name -> :func:`reliability`) against the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    for name, c in curves.items():
        ax.plot(c["confidence"], c["accuracy"], "o-", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction correct")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
