"""``sim2sky simulate fields`` and ``sim2sky emulate train|sample|check``: periodic fields and their emulators."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, console, file_out, model_out, out, user_errors

__all__ = ["emulate_app", "simulate_fields"]

emulate_app = typer.Typer(help="Conditional emulators of fields: learn p(field | parameters), then sample.",
                          no_args_is_help=True)


@user_errors
def simulate_fields(
    kind: str = typer.Option("lognormal", "--kind", help="gaussian or lognormal (matter density contrast, "
                             "parameters omega_m, sigma_8), reion21cm (21-cm brightness temperature at z=8 \\[mK], "
                             "parameters zeta, log10_tvir), or 21cmfast (the same from 21cmFAST, an independent "
                             "simulator; needs sim2sky\\[cross], ~1 s per cube)."),
    n: int = typer.Option(1000, "--n", help="Number of fields; parameters drawn uniformly from the kind's prior.", min=1),
    out_path: Path = typer.Option(..., "--out", help="Output file: .npz, .h5 or .fits (theta, x, names, metadata)."),
    size: Optional[int] = typer.Option(None, "--size", help="Pixels per side (default 64 for maps, 32 for cubes).", min=8),
    dim: Optional[int] = typer.Option(None, "--dim", help="2 (maps) or 3 (cubes); 21-cm kinds are 3-D only.", min=2, max=3),
    box: Optional[float] = typer.Option(None, "--box", help="Box side \\[Mpc/h] (default 256 for maps, 128 for cubes).", min=1e-06),
    depth: float = typer.Option(20.0, help="Maps: depth \\[Mpc/h] of the projected slab.", min=1e-06),
    noise: float = typer.Option(0.0, help="White-noise rms per pixel (density contrast; mK for the 21-cm kinds).", min=0.0),
    wedge: Optional[float] = typer.Option(None, help="21-cm kinds: foreground avoidance, drop modes with "
                                                     "|k_par| < WEDGE |k_perp| + 0.05 h/Mpc.", min=0.0),
    seed: int = typer.Option(0, help="Random seed (same seed, same fields).", min=0),
    bounds_out: Optional[Path] = typer.Option(None, help="Also write the box prior as JSON {low, high} for 'npe train --bounds'."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    scheduler: Optional[str] = typer.Option(None, help="dask.distributed scheduler address (tcp://host:8786): "
                                            "blocks of 512 fields are simulated on its workers, same fields as locally."),
):
    """Simulate Gaussian, log-normal or 21-cm reionisation fields with their parameters."""
    file_out(out_path)
    from ..cases.fields import simulate_fields_file

    r = simulate_fields_file(kind, n, out_path, bounds_out=bounds_out, size=size, dim=dim, box=box, depth=depth,
                             noise=noise, wedge=wedge, seed=seed, progress=progress, scheduler=scheduler)
    out.print(f"wrote {len(r['x'])} {kind} fields of shape {r['x'].shape[1:]} ({', '.join(r['theta_names'])}) "
              f"to {out_path}")


@emulate_app.command("train")
@user_errors
def emulate_train(
    fields: Path = typer.Argument(..., help="Field file from 'sim2sky simulate fields' (.npz, .h5 or .fits)."),
    out_dir: Path = typer.Option(..., "--out", help="Model folder to write."),
    method: str = typer.Option("fourier", help="fourier: exact-likelihood Fourier flow (trains in minutes on a CPU); "
                               "flowmatch: flow-matching U-Net (sized for a GPU: --device cuda)."),
    layers: int = typer.Option(3, help="fourier: spline + Fourier-filter layers of the flow.", min=1),
    knots: int = typer.Option(16, help="fourier: knots in log k of each filter.", min=2),
    bins: int = typer.Option(24, help="fourier: spline bins.", min=1),
    channels: str = typer.Option("32,64,128,128", help="flowmatch: U-Net widths per level (comma-separated); "
                                 "the grid side must be divisible by 2^(levels - 1)."),
    steps: int = typer.Option(24, help="flowmatch: Heun steps of the sampling ODE (2 network passes each).", min=1),
    device: str = typer.Option("cpu", help="flowmatch: cpu, cuda or auto."),
    epochs: int = typer.Option(30, help="Training epochs.", min=1),
    batch_size: int = typer.Option(64, help="Fields per batch.", min=0),
    learning_rate: float = typer.Option(0.0, help="Peak learning rate (one-cycle schedule); 0: 3e-3 for fourier, "
                                        "2e-3 for flowmatch.", min=0.0),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    overwrite: bool = OVERWRITE,
):
    """Train a conditional field emulator (Fourier flow or flow matching) on simulated fields."""
    model_out(out_dir, overwrite)
    from ..cases.fields import train_emulator_file
    from ..core.errors import InputError

    try:
        widths = tuple(int(c) for c in channels.split(","))
    except ValueError:
        raise InputError(f"--channels: expected comma-separated integers, got {channels!r}") from None
    h = train_emulator_file(fields, out_dir, method=method, layers=layers, knots=knots, bins=bins, epochs=epochs,
                            batch_size=batch_size, learning_rate=learning_rate, channels=widths, steps=steps,
                            device=device, seed=seed, progress=progress)
    what = "NLL" if method == "fourier" else "velocity loss"
    unit = " nats/pixel" if method == "fourier" else ""
    out.print(f"best held-out {what} {h['best_val_loss']:.4f}{unit} at epoch {h['best_epoch'] + 1} "
              f"({h['wall_time_s']:.0f} s); model written to {out_dir}")


@emulate_app.command("sample")
@user_errors
def emulate_sample(
    model_dir: Path = typer.Argument(..., help="Model folder from 'sim2sky emulate train'."),
    out_path: Path = typer.Option(..., "--out", help="Output field file (.npz, .h5 or .fits)."),
    theta: Optional[str] = typer.Option(None, help='One parameter vector, comma-separated (e.g. "0.3,0.8").'),
    theta_file: Optional[Path] = typer.Option(None, help="Or a file with theta: one field per row."),
    n: int = typer.Option(1, "--n", help="Fields per --theta.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    allow_out_of_range: bool = typer.Option(False, help="Sample parameters outside the training range."),
):
    """Emulate fields at given parameters."""
    file_out(out_path)
    from ..cases.fields import sample_emulator_file

    r = sample_emulator_file(model_dir, out_path, theta=theta, theta_file=theta_file, n=n, seed=seed,
                             allow_out_of_range=allow_out_of_range)
    out.print(f"wrote {len(r['x'])} emulated fields of shape {r['x'].shape[1:]} to {out_path}")


@emulate_app.command("check")
@user_errors
def emulate_check(
    model_dir: Path = typer.Argument(..., help="Model folder from 'sim2sky emulate train'."),
    sims: Path = typer.Argument(..., help="Held-out simulated fields (never used for training)."),
    report: Optional[Path] = typer.Option(None, "--out", help="Write the full comparison as JSON."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Compare emulated with simulated fields at the same parameters: P(k), PDF, peaks, Minkowski functionals."""
    from rich.table import Table as RichTable

    from ..cases.fields import check_emulator_file

    r = check_emulator_file(model_dir, sims, out=report, seed=seed)
    t = RichTable("statistic", "emulated vs simulated", title=f"emulator check on {r['n_fields']} fields")
    t.add_row("max |P_emu/P_sim - 1|, k < half-Nyquist", f"{r['pk_max_error']:.3f}")
    t.add_row("max PDF relative error (bins with >= 1% of pixels)", f"{r['pdf_max_error']:.3f}")
    t.add_row("peaks > 1, 2 sigma: max relative error", f"{r['peaks_max_error']:.3f}")
    t.add_row("std", f"{r['std_emu']:.4g} vs {r['std_sim']:.4g}")
    out.print(t)
    if report is not None:
        console.print(f"report written to {report}")
