"""``sim2sky transits simulate|train|vet``: transit vetting from light curves, trained on simulations."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, out, user_errors

__all__ = ["transits_app", "simulate", "train", "vet_lightcurves"]

transits_app = typer.Typer(help="Transit candidates in light curves: simulate Kepler quarters (planets, eclipsing "
                           "binaries, background binaries, systematics), train a vetter on them, search and vet "
                           "your light curves.", no_args_is_help=True)


@user_errors
def simulate(
    out_path: Path = typer.Option(..., "--out", help="Long table (.csv/.ecsv/.fits/.parquet): id, t \\[d], flux, err, scenario, period."),
    n: int = typer.Option(8, "--n", help="Number of 90-d Kepler quarters (scenarios planet, EB, BEB, systematic cycled).", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Simulate Kepler long-cadence quarters with transits, eclipses and systematics."""
    file_out(out_path)
    from ..cases.transits import simulate_transits_file

    r = simulate_transits_file(out_path, n, seed)
    out.print(f"wrote {r['out']}: {r['n']} light curves, {r['cadences']} cadences")


@user_errors
def train(
    out_path: Path = typer.Option(..., "--out", help="Model folder to write."),
    n_per_scenario: int = typer.Option(1000, "--n", "--n-per-scenario", help="Simulated quarters per scenario.", min=1),
    epochs: int = typer.Option(40, help="Training epochs.", min=1),
    n_jobs: int = typer.Option(2, "--n-jobs", help="Processes for the transit search.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    overwrite: bool = OVERWRITE,
):
    """Train a calibrated light-curve vetter on simulated TCEs only (~0.2 s per quarter on 2 cores)."""
    model_out(out_path, overwrite, kind="classifier")
    from ..cases.transits import train_transits_file

    r = train_transits_file(out_path, n_per_scenario, epochs, seed, n_jobs, progress=True)
    out.print(f"wrote {r['out']} (classes {', '.join(r['classes'])}; temperature {r['temperature']:.2f})")


@user_errors
def vet_lightcurves(
    table: Path = typer.Argument(..., help="Long table of cadences: one row per flux measurement (CSV/ECSV/FITS/Parquet)."),
    out_path: Path = typer.Option(..., "--out", help="Per-star table: label, p_planet, p_<scenario>, period, t0, duration_hr, depth_ppm, snr."),
    model: Optional[Path] = typer.Option(None, help="Vetter model folder (default: the shipped simulation-trained vetter)."),
    id_col: str = typer.Option("id", "--id-col"), t_col: str = typer.Option("t", "--t-col", help="Time \\[days]."),
    flux_col: str = typer.Option("flux", "--flux-col", help="Relative flux (median ~1)."),
    err_col: str = typer.Option("err", "--err-col"),
    n_jobs: int = typer.Option(0, "--n-jobs", help="Processes for the transit search (~0.2 s per Kepler quarter "
                               "and process; 0: every available core).", min=0),
):
    """Search each light curve for its strongest periodic dip (BLS, S/N >= 7.1) and vet it."""
    file_out(out_path)
    from ..cases.transits import vet_lightcurves_file

    r = vet_lightcurves_file(table, out_path, model, n_jobs, id_col=id_col, t_col=t_col, flux_col=flux_col,
                             err_col=err_col)
    counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items() if v)
    out.print(f"wrote {r['out']}: {r['n']} light curves ({counts})")
