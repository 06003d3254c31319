"""Understanding models and data on the command line: ``explain``, ``represent fit|embed|cluster|anomalies``,
``tension``. Each command calls one function of :mod:`sim2sky.understand`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, out, split, user_errors

__all__ = ["explain", "represent_app", "tension"]

represent_app = typer.Typer(help="Learn a representation (autoencoder + latent density) of tables or spectra; "
                                 "embed, cluster and rank anomalies.", no_args_is_help=True)

_KIND = typer.Option("auto", "--input-kind", help="How to read INPUT: auto, table (numeric columns), lines (a nebula "
                                                  "line table -> line-ratio features), cube (IFU cube -> spaxel "
                                                  "features), spectra (1-D spectra -> the model grid).")
_MODEL = typer.Argument(..., help="A representation folder written by 'sim2sky represent fit'.")
_INPUT = typer.Argument(..., help="Table (.csv/.fits/.parquet/.ecsv), nebula line table, cube or spectra FITS.")
_LABELS = typer.Option(None, "--labels", help="Column of known labels (never used for learning; for purity "
                                              "and reports).")


@user_errors
def explain(
    model: Path = typer.Argument(..., metavar="MODEL", help="Classifier model folder (e.g. $(sim2sky data path ...) or a trained "
                                           "'classifier/' folder; the shipped nebula and spectra classifiers work)."),
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Objects to explain: a line table or cube for a "
                                      "nebula classifier, spectra for a spectra classifier, a table with the "
                                      "model's feature columns otherwise."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder (attributions, figures, report.html)."),
    method: str = typer.Option("ig", help="ig (integrated gradients, exact completeness) or shap (expected "
                                          "gradients, shap library)."),
    max_objects: int = typer.Option(500, help="Random subset of objects explained (attributions cost ~64 network "
                                              "passes per object).", min=1),
    redshift: Optional[float] = typer.Option(None, help="Redshift of a cube (default: header / estimated)."),
    seed: int = typer.Option(0, help="Seed of the subset and of SHAP sampling.", min=0),
):
    """Which inputs drive each predicted class: attributions, top features per class, plots and a report."""
    from ..understand import explain as run

    s = run(model, input_path, out_dir, method=method, max_objects=max_objects, redshift=redshift, seed=seed)
    for c, v in s["classes"].items():
        top = v.get("top_features") or v.get("top_wavelengths")
        out.print(f"{c:>20s} (n={v['n']}): {', '.join(map(str, top))}")
    out.print(f"-> {out_dir}/report.html")


@represent_app.command("fit")
@user_errors
def represent_fit(
    input_path: Path = _INPUT,
    out_dir: Path = typer.Option(..., "--out", help="Model folder to write."),
    input_kind: str = _KIND,
    columns: Optional[str] = typer.Option(None, help="Comma-separated feature columns of a table (default: all "
                                                     "numeric columns except --labels)."),
    labels: Optional[str] = _LABELS,
    latent_dim: int = typer.Option(8, help="Latent dimensions.", min=1),
    beta: float = typer.Option(0.05, help="KL weight of the VAE (0: plain autoencoder).", min=0.0),
    epochs: int = typer.Option(40, help="Training epochs.", min=1),
    encoder: str = typer.Option("mlp", help="Encoder: mlp (tables), cnn1d or resnet1d (spectra)."),
    seed: int = typer.Option(0, min=0),
    progress: bool = typer.Option(True, help="Show progress."),
    overwrite: bool = OVERWRITE,
):
    """Learn an autoencoder of the inputs (no labels) and a normalizing-flow density of its latents."""
    model_out(out_dir, overwrite)
    from ..understand import fit_representation

    r = fit_representation(input_path, out_dir, input_kind, split(columns), labels, latent_dim, beta, epochs,
                           encoder, seed, progress)
    out.print(f"{r['n']} objects, {r['features']} features -> {r['latent_dim']}-d latents "
              f"(reconstruction MSE {r['reconstruction_mse']:.3f} in standard units) -> {r['out']}")


@represent_app.command("embed")
@user_errors
def represent_embed(model: Path = _MODEL, input_path: Path = _INPUT,
                    out_path: Path = typer.Option(..., "--out", help="Output table: z0..z{d-1}, anomaly_score.")):
    """Latent vectors and anomaly scores of every object."""
    file_out(out_path)
    from ..understand import embed

    r = embed(model, input_path, out_path)
    out.print(f"embedded {r['n']} objects -> {r['out']}")


@represent_app.command("cluster")
@user_errors
def represent_cluster(model: Path = _MODEL, input_path: Path = _INPUT,
                      out_dir: Path = typer.Option(..., "--out", help="Output folder."),
                      labels: Optional[str] = _LABELS,
                      min_cluster_size: int = typer.Option(50, help="HDBSCAN minimum cluster size.", min=2),
                      seed: int = typer.Option(0, min=0)):
    """HDBSCAN clusters of the latents with a UMAP map; purity/completeness against --labels."""
    from ..understand import cluster_inputs

    r = cluster_inputs(model, input_path, out_dir, labels, min_cluster_size, seed=seed)
    extra = f", purity {r['purity']:.3f}, V-measure {r['v_measure']:.3f}" if "purity" in r else ""
    out.print(f"{r['n_clusters']} clusters, {100 * r['noise_fraction']:.1f}% noise{extra} -> {out_dir}/report.html")


@represent_app.command("anomalies")
@user_errors
def represent_anomalies(model: Path = _MODEL, input_path: Path = _INPUT,
                        out_dir: Path = typer.Option(..., "--out", help="Output folder."),
                        top: int = typer.Option(100, help="How many to list.", min=1),
                        labels: Optional[str] = _LABELS):
    """Rank objects by -log density of their latents (most anomalous first)."""
    from ..understand import anomalies

    r = anomalies(model, input_path, out_dir, top, labels)
    extra = f"; labels of the top {top}: {r['top_labels']}" if "top_labels" in r else ""
    out.print(f"ranked {r['n']} objects -> {out_dir}/anomalies.csv{extra}")


@user_errors
def tension(
    theory: Path = typer.Argument(..., help="Theory inputs (simulations) of the same kind as DATA."),
    data: Path = typer.Argument(..., help="Real data inputs."),
    encoder: Path = typer.Option(..., "--encoder", help="Representation folder trained on theory "
                                                        "('sim2sky represent fit THEORY')."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder."),
    by: Optional[str] = typer.Option(None, "--by", help="Label column present in both tables: statistics per group."),
    seed: int = typer.Option(0, min=0),
):
    """How far theory is from data: C2ST and MMD between their latents, and data outside the theory density."""
    from ..understand import tension as run

    s = run(theory, data, encoder, out_dir, by, seed)
    for g, r in s.items():
        out.print(f"{g:>12s}: C2ST {r['c2st']:.3f} ± {r['c2st_err']:.3f}, MMD² {r['mmd2']:.4f} (p={r['mmd_p']:.3f}), "
                  f"{100 * r['data_outside_theory_99']:.1f}% of data outside theory's 99%")
    out.print(f"-> {out_dir}/report.html")
