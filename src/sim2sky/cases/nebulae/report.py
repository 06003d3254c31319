"""HTML report of a cube run: line composite, class map, parameter maps, BPT diagrams, summary."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .schema import CUBE_CLASSES

__all__ = ["write_report"]

#: zlib level 1 instead of PIL's 6: saving the 300 x 300 benchmark cube's line image took 0.10-0.13 s
#: at level 6 and 0.05 s at level 1, for a file 13% larger (312 -> 353 kB), measured
PNG = {"compress_level": 1}

CLASS_COLORS = {"HII": "#d62728", "PN": "#2ca02c", "SNR": "#1f77b4", "DIG": "#e5c100", "AGN": "#9467bd", "unknown": "#7f7f7f",
                "no-signal": "#000000"}


def _stretch(img, hi):
    """asinh stretch with a scale shared by the three channels, so colours are line ratios."""
    v = np.nan_to_num(img, nan=0.0)
    return np.clip(np.arcsinh(v / max(hi, 1e-12) * 10) / np.arcsinh(10), 0, 1)


def write_report(spec, z: float, p: dict, catalogue, summary, folder: Path) -> None:
    """``report.html`` and its figures (``p`` maps plane names to maps) into ``folder``."""
    # matplotlib only when a report is written: importing pyplot costs ~0.7 s of every command that
    # imports this case (spectra classify among them), measured with python -X importtime
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    folder = Path(folder)
    s1, s2, ha, o3, hb, n2, code, oh, ebv = (
        p[k] for k in ("SII6717", "SII6731", "HA6563", "OIII5007", "HB4861", "NII6584", "CLASS", "OH_MEAN", "EBV_MEAN"))
    hi = np.nanpercentile(ha, 99.5) if np.isfinite(ha).any() else 1.0
    rgb = np.dstack([_stretch(s1 + s2, hi), _stretch(ha, hi), _stretch(o3, hi)])
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(rgb, origin="lower")
    ax.set_title("[SII] (R), Hα (G), [OIII] (B)")
    ax.set_xlabel("x [spaxel]"), ax.set_ylabel("y [spaxel]")
    fig.savefig(folder / "composite.png", dpi=110, bbox_inches="tight", pil_kwargs=PNG)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.6, 5))
    cmap = ListedColormap([CLASS_COLORS[c] for c in CUBE_CLASSES])
    ax.imshow(np.nan_to_num(code, nan=CUBE_CLASSES.index("no-signal")), origin="lower", cmap=cmap, vmin=-0.5, vmax=len(CUBE_CLASSES) - 0.5,
              interpolation="nearest")
    handles = [plt.Line2D([], [], marker="s", ls="", color=CLASS_COLORS[c], label=c) for c in CUBE_CLASSES]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title("class map")
    fig.savefig(folder / "classes.png", dpi=110, bbox_inches="tight", pil_kwargs=PNG)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, img, title in ((axes[0], oh, "12 + log(O/H), HII spaxels"), (axes[1], ebv, "E(B-V) [mag], HII spaxels")):
        im = ax.imshow(img, origin="lower", cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.set_title(title)
    fig.savefig(folder / "params.png", dpi=110, bbox_inches="tight", pil_kwargs=PNG)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log10(o3 / hb)
        for ax, x, lab in ((axes[0], np.log10(n2 / ha), "log [NII]6584/Hα"), (axes[1], np.log10((s1 + s2) / ha), "log [SII]/Hα")):
            for i, c in enumerate(CUBE_CLASSES[:-2]):
                m = (code == i) & np.isfinite(x) & np.isfinite(y)
                ax.scatter(x[m], y[m], s=3, alpha=0.5, color=CLASS_COLORS[c], label=c)
            xx = np.linspace(-2.0, 0.4, 100)
            if "NII" in lab:
                ax.plot(xx[xx < 0.47], 0.61 / (xx[xx < 0.47] - 0.47) + 1.19, "k-", lw=1, label="Kewley+01")
                k03 = xx[xx < 0.05]
                ax.plot(k03, 0.61 / (k03 - 0.05) + 1.3, "k--", lw=1, label="Kauffmann+03")
            else:
                s = xx[xx < 0.32]
                ax.plot(s, 0.72 / (s - 0.32) + 1.30, "k-", lw=1, label="Kewley+01")
            ax.set_xlim(-2, 0.7), ax.set_ylim(-1.5, 1.5)
            ax.set_xlabel(lab), ax.set_ylabel("log [OIII]5007/Hβ")
        # beside the panels, not loc="best": that scores every position against all the scattered
        # spaxels (0.6 s of a 300 x 300 cube's 1.7 s report, cProfile) and still covers some
        axes[1].legend(*axes[0].get_legend_handles_labels(), fontsize=7, markerscale=3, loc="upper left",
                       bbox_to_anchor=(1.01, 1), frameon=False)
    fig.suptitle("BPT diagrams, spaxels coloured by class")
    fig.savefig(folder / "bpt.png", dpi=110, bbox_inches="tight", pil_kwargs=PNG)
    plt.close(fig)

    counts = "".join(f"<tr><td>{html.escape(c)}</td><td>{n}</td><td>{summary['nebulae'].get(c, '')}</td></tr>"
                     for c, n in summary["class_counts"].items())
    rows = ""
    for r in catalogue[:50]:
        rows += (f"<tr><td>{r['id']}</td><td>{html.escape(str(r['class']))}</td><td>{r['probability']:.2f}</td>"
                 f"<td>{r['ra']:.6f}</td><td>{r['dec']:.6f}</td><td>{r['area_spaxels']}</td>"
                 f"<td>{r['HA6563']:.4g}</td></tr>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sim2sky cube report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}img{{max-width:100%}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style></head><body>
<h1>sim2sky cube report</h1>
<p>Cube: <code>{html.escape(spec.path)}</code>, {spec.shape[2]} x {spec.shape[1]} spaxels x {spec.shape[0]} channels,
systemic z = {z}.</p>
<h2>Summary</h2><table><tr><th>class</th><th>spaxels</th><th>nebulae</th></tr>{counts}</table>
<h2>Maps</h2><img src="composite.png" alt="line composite"> <img src="classes.png" alt="class map">
<img src="params.png" alt="parameter maps"><h2>Diagnostics</h2><img src="bpt.png" alt="BPT diagrams">
<h2>Nebulae (first 50; all in nebulae.csv)</h2>
<table><tr><th>id</th><th>class</th><th>p</th><th>RA</th><th>Dec</th><th>area</th><th>F(Hα)</th></tr>{rows}</table>
</body></html>"""
    (folder / "report.html").write_text(page)
