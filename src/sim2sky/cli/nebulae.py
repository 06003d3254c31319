"""The nebula case on the command line: ``nebulae classify|adapt``, ``cube classify``,
``simulate nebulae|cube``, ``train nebulae``. Each command calls one API function."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, notice, out, user_errors

__all__ = ["app", "cube_app", "nebulae_classify", "nebulae_adapt", "simulate_nebulae", "simulate_cube", "train_nebulae"]

CLASS_PRIORS_OPTION = typer.Option(
    None, "--class-priors", help="Expected class fractions in your data, every class named (e.g. "
    "HII=0.7,PN=0.03,SNR=0.05,DIG=0.2,AGN=0.02), or a preset: field (a nearby star-forming galaxy: HII 0.6, "
    "DIG 0.2, SNR 0.1, PN 0.05, AGN 0.05) or balanced (as trained, the default). Probabilities are re-weighted "
    "by prior / training fraction (the training set is balanced); 'unknown' is unaffected.")

app = typer.Typer(help="Classify ionised nebulae (HII/PN/SNR/DIG/AGN/unknown) and infer HII-region parameters.",
                  no_args_is_help=True)
cube_app = typer.Typer(help="Data cubes: classify and infer every spaxel, with maps, a catalogue and a report.",
                       no_args_is_help=True)


@user_errors
def nebulae_classify(
    table: Path = typer.Argument(..., help="Line table (CSV, FITS, Parquet, ECSV): canonical columns HA6563, HB4861, "
                                           "OIII5007, NII6584, SII6717, SII6731 (or SII6717_31), OI6300... with "
                                           "optional <LINE>_ERR or <LINE>_IVAR, SIGMA (km/s), EW_HA6563 (Å); or any "
                                           "layout with --columns / --preset. NaN = missing; NaN flux with an error "
                                           "= undetected. Other columns are copied to the output."),
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .fits or .ecsv), written atomically."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Column map CANONICAL=SOURCE,... (e.g. "
                                          "HA6563=HA6562_FLUX,HA6563_ERR=HA6562_FLUX_ERR; '-SRC' negates, 'A+B' sums) "
                                          "or a .json/.yaml file with the same pairs."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Survey layout: phangs (PHANGS-MUSE), manga (MaNGA "
                                         "DAP) or mpajhu (SDSS MPA-JHU); detected from the Hα column if omitted."),
    allow_negative: bool = typer.Option(False, help="Accept negative (measured, undetected) fluxes as they are."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped models)."),
    class_priors: Optional[str] = CLASS_PRIORS_OPTION,
    seed: int = typer.Option(0, help="Seed of the posterior sampling.", min=0),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Write the table even when no row has a usable "
                                     "Hα (every row unclassified) instead of exiting 2."),
):
    """Classify each row: p_HII, p_PN, p_SNR, p_DIG, p_AGN, class, flag, ood_distance, and for HII the
    posterior mean/std of 12+log(O/H), log U, log P/k and E(B-V) (OH_, LOGU_, LOGPK_, EBV_mean/std)."""
    file_out(out_path)
    from ..cases.nebulae import classify_table

    res = classify_table(table, out_path, model_dir=model, seed=seed, columns=columns, preset=preset,
                         allow_negative=allow_negative, class_priors=class_priors, allow_empty=allow_empty)
    for message in res["notices"]:
        notice(message)
    counts = ", ".join(f"{k} {v}" for k, v in res["counts"].items())
    out.print(f"classified {res['n']} rows ({counts}) -> {res['out']}")


@user_errors
def nebulae_adapt(
    target: Path = typer.Option(..., "--target", help="Unlabelled target: a line table, or a MUSE-format cube (FITS)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the adapted model (use it with --model)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Base model folder (its HII posterior is copied)."),
    redshift: Optional[float] = typer.Option(None, "--redshift", help="Systemic redshift of a target cube."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Column map of a target table (see classify)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Survey layout of a target table (see classify)."),
    n_per_class: int = typer.Option(8000, help="Simulated source spectra per class.", min=1),
    epochs: int = typer.Option(25, help="Training epochs.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    overwrite: bool = OVERWRITE,
):
    """Domain adaptation (DANN): retrain the classifier so that simulated and target features
    look alike while still separating the simulated classes."""
    model_out(out_dir, overwrite)
    from ..cases.nebulae import adapt_to_target, cube_features, is_cube, table_features

    if target.name.lower().endswith((".fits", ".fits.gz", ".fit")) and is_cube(target):
        x = cube_features(target, redshift=redshift)
    else:
        x = table_features(target, columns=columns, preset=preset)
    adapt_to_target(x, out_dir, model_dir=model, n_per_class=n_per_class, epochs=epochs, seed=seed,
                    progress=True, log=out.print)
    out.print(f"adapted model written to {out_dir}/ (use: sim2sky nebulae classify TABLE --model {out_dir})")


@user_errors
def train_nebulae(
    out_dir: Path = typer.Option(..., "--out", help="Folder for classifier/ and hii_params/."),
    n_per_class: int = typer.Option(20000, "--n", "--n-per-class", help="Training spectra per class.", min=1),
    n_hii: int = typer.Option(40000, help="Simulated HII regions for the parameter posterior.", min=1),
    epochs: int = typer.Option(25, help="Classifier epochs.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    overwrite: bool = OVERWRITE,
):
    """Reproduce the shipped nebula models (classifier + HII posterior) from the theory grids."""
    model_out(out_dir, overwrite)
    from ..cases.nebulae import train_nebulae as train

    m = train(out_dir, n_per_class=n_per_class, n_hii_params=n_hii, seed=seed, epochs=epochs, progress=True,
              log=out.print)
    out.print(f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, ECE {m['ece']:.3f}")


@user_errors
def simulate_nebulae(
    out_path: Path = typer.Option(..., "--out", help="Line table to write (.csv/.fits/.ecsv)."),
    n_per_class: int = typer.Option(200, help="Nebulae per class.", min=1),
    sn: Optional[float] = typer.Option(None, "--sn", help="Fixed S/N(Hα) (default: log-uniform 3-300).", min=1e-06),
    domain: str = typer.Option("theory", help="theory (training domain), source or shifted (the DANN test domain)."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Write a line table of simulated, rendered and measured nebulae with TRUE_CLASS."""
    file_out(out_path)
    from ..cases.nebulae import write_line_table

    n = write_line_table(out_path, n_per_class, sn_halpha=sn, domain=domain, seed=seed)
    out.print(f"wrote {n} rows -> {out_path}")


@cube_app.command("classify")
@user_errors
def cube_classify(
    cube: Path = typer.Argument(..., help="MUSE-format cube: DATA + STAT (+ DQ) extensions with a wavelength WCS "
                                          "(.fits or .fits.gz), or a single 3-D extension with --var."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder: lines/classes/probabilities/params.fits, "
                                                    "nebulae.csv/.fits, report.html."),
    redshift: Optional[float] = typer.Option(None, "--redshift", help="Systemic redshift (default: header Z_SYS/REDSHIFT)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped models)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed scheduler, e.g. tcp://host:8786."),
    var: Optional[Path] = typer.Option(None, "--var", help="Variance cube for a single-extension cube."),
    block: int = typer.Option(64, help="Spatial block size in spaxels; memory per worker ~ block^2 x 10 kB.", min=4),
    report: bool = typer.Option(True, help="Write report.html and figures."),
    class_priors: Optional[str] = CLASS_PRIORS_OPTION,
    seed: int = typer.Option(0, help="Seed of the posterior sampling.", min=0),
):
    """Classify every spaxel (HII/PN/SNR/DIG/AGN/unknown/no-signal) and infer HII parameters; resumable."""
    from rich.table import Table as RichTable

    from ..cases.nebulae import classify_cube

    s = classify_cube(cube, out_dir, redshift=redshift, model_dir=model, scheduler=scheduler, var_path=var,
                      block=block, seed=seed, progress=True, report=report, log=out.print, class_priors=class_priors)
    t = RichTable("class", "spaxels", "nebulae", title=f"sim2sky cube classify: {cube.name}")
    for c, n in s["class_counts"].items():
        t.add_row(c, str(n), str(s["nebulae"].get(c, "")))
    out.print(t)
    out.print(f"{s['n_spectra']} spectra in {s['wall_s']:.1f} s ({s['spectra_per_s']:.0f} spectra/s) -> {out_dir}/")


@user_errors
def simulate_cube(
    out_path: Path = typer.Option(..., "--out", help="Mock cube to write (uncompressed FITS)."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    size: tuple[int, int] = typer.Option((60, 60), "--size", help="NX NY spaxels."),
    redshift: float = typer.Option(0.005, "--redshift", help="Systemic redshift."),
):
    """A MUSE-format mock cube of a nearby-galaxy field with TRUTH_* extensions."""
    file_out(out_path)
    from ..cases.nebulae import make_mock_cube

    nx, ny = size
    make_mock_cube(out_path, nx, ny, seed=seed, z=redshift)
    out.print(f"wrote {nx}x{ny} mock cube -> {out_path}")
