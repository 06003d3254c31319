"""``sim2sky lightcurves simulate|train|classify|vet`` and ``sim2sky spectra sntype``: the time-domain case."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, out, user_errors

__all__ = ["lightcurves_app", "simulate", "train", "classify", "vet", "sntype"]

lightcurves_app = typer.Typer(help="Variable-star light curves and transit candidates: simulate, train on theory, "
                              "classify real surveys, vet Kepler TCEs.", no_args_is_help=True)

_SURVEY_HELP = "Survey cadence and noise: eros1 (EROS-1 LMC, B_E), s82 (SDSS Stripe 82, g) or kepler."


@user_errors
def simulate(
    out_path: Path = typer.Option(..., "--out", help="Long table (.csv/.ecsv/.fits): id, t \\[d], mag, err, class, period."),
    n: int = typer.Option(700, "--n", help="Number of light curves (classes RRab, RRc, Cep, LPV, EB, DSCT, constant cycled).", min=1),
    survey: str = typer.Option("eros1", help=_SURVEY_HELP),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Simulate variable-star light curves (OGLE-III shapes, eclipsing-binary physics) at a survey's cadence."""
    file_out(out_path)
    from ..cases.variables import simulate_lightcurves_file

    r = simulate_lightcurves_file(out_path, n, survey, seed)
    out.print(f"wrote {r['out']}: {r['n']} light curves, {r['epochs']} epochs")


@user_errors
def train(
    out_path: Path = typer.Option(..., "--out", help="Model folder to write."),
    survey: str = typer.Option("eros1", help=_SURVEY_HELP),
    n_per_class: int = typer.Option(2000, "--n", "--n-per-class", help="Simulated light curves per class.", min=1),
    epochs: int = typer.Option(60, help="Training epochs.", min=1),
    n_jobs: int = typer.Option(2, "--n-jobs", help="Processes for the feature extraction.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    encoder: str = typer.Option("mlp", help="mlp: periodogram/Fourier features; cnn: the same + a 1-D CNN on the "
                                "folded light curve (docs/guide.md says which is better where)."),
    overwrite: bool = OVERWRITE,
):
    """Train a calibrated light-curve classifier on simulations only (no real labels)."""
    model_out(out_path, overwrite, kind="classifier")
    from ..cases.variables import train_lightcurves_file

    r = train_lightcurves_file(out_path, survey, n_per_class, epochs, seed, n_jobs, progress=True, encoder=encoder)
    out.print(f"wrote {r['out']} (classes {', '.join(r['classes'])}; temperature {r['temperature']:.2f})")


@user_errors
def classify(
    table: Path = typer.Argument(..., help="Long table of epochs: one row per observation (CSV/ECSV/FITS/Parquet)."),
    out_path: Path = typer.Option(..., "--out", help="Per-star table (.csv/.ecsv/.fits): class, p_<class>, period, flag."),
    model: str = typer.Option("eros1", help="Shipped model (eros1, s82; both calibrated on real development "
                              "labels) or a model folder from 'lightcurves train' or 'lightcurves calibrate'."),
    id_col: str = typer.Option("id", "--id-col"), t_col: str = typer.Option("t", "--t-col", help="Time column, in days (or with a time unit)."),
    mag_col: str = typer.Option("mag", "--mag-col"), err_col: str = typer.Option("err", "--err-col"),
    n_jobs: int = typer.Option(0, "--n-jobs", help="Processes for the period search and features (0: every "
                               "available core).", min=0),
):
    """Classify light curves: period (Lomb-Scargle), class probabilities and 'unknown'; with a model calibrated on
    survey groups (the shipped eros1), also group, p_group, p_group_<G> and the conformal group_set."""
    file_out(out_path)
    from ..cases.variables import classify_lightcurves_file

    r = classify_lightcurves_file(table, out_path, model, n_jobs, id_col=id_col, t_col=t_col, mag_col=mag_col,
                                  err_col=err_col)
    counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items() if v)
    out.print(f"wrote {r['out']}: {r['n']} stars ({counts})")


@user_errors
def vet(
    table: Path = typer.Argument(..., help="TCE table with the DR24 columns (kepid, tce_period, tce_duration, "
                                 "tce_depth, errors), or a long light-curve table (id, t, flux, err)."),
    out_path: Path = typer.Option(..., "--out", help="Scores table (.csv/.ecsv/.fits) with p_planet per TCE or star."),
    model: Optional[Path] = typer.Option(None, help="Vetter model folder (default: the shipped vetter for the input kind)."),
    n_jobs: int = typer.Option(0, "--n-jobs", help="Processes for the transit search (light curves only; 0: every "
                               "available core).", min=0),
):
    """Vet transit candidates: a TCE table (catalogue features, DR24-trained vetter) or light curves
    (BLS search + the simulation-trained light-curve vetter; see 'sim2sky transits vet' for column options)."""
    file_out(out_path)
    from ..cases.variables import vet_tces_file
    from ..core.tables import table_columns
    from .transits import vet_lightcurves

    if "tce_period" not in table_columns(table):
        vet_lightcurves(table, out_path, model, id_col="id", t_col="t", flux_col="flux", err_col="err", n_jobs=n_jobs)
        return
    r = vet_tces_file(table, out_path, model)
    out.print(f"wrote {r['out']}: {r['n']} TCEs, {r['n_above_0.5']} with P(planet) > 0.5")


@user_errors
def sntype(
    spectrum: Path = typer.Argument(..., help="Spectrum file (FITS image/table, SDSS spec, CSV with wave/flux)."),
    z: float = typer.Option(..., "--z", help="Redshift (the spectrum is moved to the rest frame).", min=0.0),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Table (.csv/.ecsv/.fits) with one row per spectrum."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: shipped), e.g. one written "
                                         "by 'supernovae calibrate' (adds the conformal subtype_set)."),
):
    """Type a supernova spectrum: subtype, broad type and age bin with calibrated probabilities."""
    file_out(out_path)
    from ..cases.supernovae import load
    from ..core.tables import write_table

    pred = load(model).predict(spectrum, z=z)
    keep = [c for c in ("subtype", "p_subtype", "subtype_set", "set_size", "broad_type", "p_broad", "age_bin", "p_age",
                        "distance") if c in pred.colnames]
    tab = pred[keep]
    for row in tab:
        sets = f"; set {row['subtype_set']}" if "subtype_set" in tab.colnames else ""
        out.print(f"{row['subtype']} (P={float(row['p_subtype']):.2f}{sets}; broad {row['broad_type']} "
                  f"P={float(row['p_broad']):.2f}), age {row['age_bin']} (P={float(row['p_age']):.2f})")
    if out_path:
        write_table(tab, out_path)
        out.print(f"wrote {out_path}")
