"""The survey-spectra case on the command line: ``spectra classify|stars``, ``simulate spectra``,
``train spectra``. Each command calls one API function."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, out, user_errors

__all__ = ["app", "simulate_spectra", "train_spectra"]

class Normalise(str, Enum):
    """Choices of --normalise (typer shows and checks them)."""

    mean = "mean"
    continuum = "continuum"


app = typer.Typer(help="1-D survey spectra: classify (stars, galaxies, quasars, unknown) with redshifts, and "
                       "stellar parameters with posteriors.", no_args_is_help=True)

_INPUTS = typer.Argument(..., help="Spectra: SDSS spec-lite, DESI-like or MaNGA-like FITS (WAVE/FLUX/IVAR), 1-D "
                                   "FITS with a wavelength WCS, a stacked (n, λ) FITS image with CRVAL1/CDELT1/CRPIX1 "
                                   "(its table extension is passed through), or a table (wavelength, flux[, ivar]).")


@user_errors
def spectra_classify(
    inputs: list[Path] = _INPUTS,
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .fits, .ecsv): one row per spectrum, in order."),
    redshift: Optional[float] = typer.Option(None, "--redshift", help="Known redshift: reported instead of the "
                                             "posterior (use 0 for stars)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped models)."),
    seed: int = typer.Option(0, help="Seed of the redshift posterior sampling.", min=0),
    z_posterior: bool = typer.Option(True, help="Sample the redshift posterior (--no-z-posterior: classes only, "
                                                 "~2x faster)."),
    progress: bool = typer.Option(True, help="Show progress."),
):
    """Classify every spectrum: p_<CLASS> for 13 classes, class (or unknown), z_mean, z_median, z_std, z_q16,
    z_q84 (68%), z_q025, z_q975 (95%; calibrated per S/N in the shipped model), snr, coverage, flag, ood_distance."""
    file_out(out_path)
    from ..cases.spectra import classify_files

    r = classify_files(inputs, out_path, redshift=redshift, model_dir=model, seed=seed, progress=progress,
                       z_posterior=z_posterior)
    counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
    out.print(f"classified {r['n']} spectra ({counts}) -> {r['out']}")


@user_errors
def spectra_stars(
    inputs: list[Path] = _INPUTS,
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .fits, .ecsv)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped models)."),
    seed: int = typer.Option(0, help="Seed of the posterior sampling.", min=0),
    progress: bool = typer.Option(True, help="Show progress."),
):
    """Stellar parameters with posteriors: TEFF (K), LOGG, FEH (dex) _mean/_std/_q16/_q84, class, flag."""
    file_out(out_path)
    from ..cases.spectra import stars_files

    r = stars_files(inputs, out_path, model_dir=model, seed=seed, progress=progress)
    out.print(f"{r['n']} spectra ({r['stars']} classified as stars) -> {r['out']}")


@user_errors
def simulate_spectra(
    out_path: Path = typer.Option(..., "--out", help="Output .fits: a stacked (n, 1024) image on the model grid "
                                                     "(WCS in log λ), IVAR extension and a TRUTH table."),
    n_per_class: int = typer.Option(100, help="Spectra per class.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Simulate labelled survey spectra of the 13 classes (theory + observational effects)."""
    file_out(out_path)
    from ..cases.spectra.training import write_simulated

    n = write_simulated(out_path, n_per_class, seed=seed)
    out.print(f"wrote {n} spectra -> {out_path}")


@user_errors
def train_spectra(
    out_dir: Path = typer.Option(..., "--out", help="Folder for classifier/, redshift/ and stars/."),
    n_per_class: int = typer.Option(8000, "--n", "--n-per-class", help="Training spectra per class.", min=1),
    n_stars: int = typer.Option(40000, help="Simulated ATLAS9 stars for the parameter posterior.", min=1),
    epochs: int = typer.Option(20, help="Classifier epochs.", min=1),
    normalise: Normalise = typer.Option(Normalise.mean, help="Stellar-parameter inputs: mean (keep the SED) or "
                                                             "continuum."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    model_error: str = typer.Option("miles", "--model-error", help="ATLAS9's error drawn into the stellar training "
                                    "spectra: 'miles' (fitted on the calibration half of MILES, as shipped; needs "
                                    "the miles dataset), 'none' (theory only) or an error-model JSON file."),
    overwrite: bool = OVERWRITE,
):
    """Reproduce the shipped spectra models from theory (~45 min on 2 cores)."""
    model_out(out_dir, overwrite)
    from ..cases.spectra import train_spectra as train

    m = train(out_dir, n_per_class=n_per_class, n_stars=n_stars, epochs=epochs, seed=seed, normalise=normalise.value,
              model_error=model_error, progress=True, log=out.print)
    c = m["classifier"]
    out.print(f"theory test: accuracy {c['accuracy']:.3f}, macro-F1 {c['macro_f1']:.3f}, ECE {c['ece']:.3f}")
