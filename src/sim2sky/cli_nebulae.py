"""CLI commands of the nebula case: ``nebulae classify|adapt``, ``train nebulae``, ``simulate nebulae``.

Registered on the apps of :mod:`sim2sky.cli` (imported at its end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli import app, out, sim_app, user_errors
from .errors import InputError

nebulae_app = typer.Typer(help="Classify ionised nebulae (HII/PN/SNR/DIG/unknown) and infer HII-region parameters.",
                          no_args_is_help=True)
train_app = typer.Typer(help="Retrain the shipped models from their simulations.", no_args_is_help=True)
app.add_typer(nebulae_app, name="nebulae")
app.add_typer(train_app, name="train")


@nebulae_app.command("classify")
@user_errors
def nebulae_classify(
    table: Path = typer.Argument(..., help="Line table (CSV, FITS, Parquet, ECSV) with columns such as HA6563, HB4861, "
                                           "OIII5007, NII6584, SII6717, SII6731 (or SII6717_31), OI6300 and optional "
                                           "<LINE>_ERR, SIGMA (km/s); NaN = missing; NaN flux with an error = undetected."),
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .fits or .ecsv), written atomically."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped models)."),
    seed: int = typer.Option(0, help="Seed of the posterior sampling."),
):
    """Classify each row: p_HII, p_PN, p_SNR, p_DIG, class, and for HII the posterior mean/std of
    12+log(O/H), log U, log P/k and E(B-V)."""
    from .apply.nebulae import classify_table

    res = classify_table(table, out_path, model_dir=model, seed=seed)
    counts = ", ".join(f"{k} {v}" for k, v in res["counts"].items())
    out.print(f"classified {res['n']} rows ({counts}) -> {res['out']}")


@nebulae_app.command("adapt")
@user_errors
def nebulae_adapt(
    target: Path = typer.Option(..., "--target", help="Unlabelled target: a line table, or a MUSE-format cube (FITS)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the adapted model (use it with --model)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Base model folder (its HII posterior is copied)."),
    redshift: Optional[float] = typer.Option(None, "--redshift", help="Systemic redshift of a target cube."),
    n_per_class: int = typer.Option(8000, help="Simulated source spectra per class."),
    epochs: int = typer.Option(25, help="Training epochs."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Domain adaptation (DANN): retrain the classifier so that simulated and target features
    look alike while still separating the simulated classes."""
    from .apply.nebulae import adapt_to_target, table_features

    name = target.name.lower()
    if name.endswith((".fits", ".fits.gz", ".fit")) and _is_cube(target):
        from .cube.pipeline import cube_features

        x = cube_features(target, redshift=redshift)
    else:
        x = table_features(target)
    if len(x) < 50:
        raise InputError(f"--target: only {len(x)} usable rows/spaxels with Hα; DANN needs at least 50")
    adapt_to_target(x, out_dir, model_dir=model, n_per_class=n_per_class, epochs=epochs, seed=seed,
                    progress=True, log=out.print)
    out.print(f"adapted model written to {out_dir}/ (use: sim2sky nebulae classify TABLE --model {out_dir})")


def _is_cube(path: Path) -> bool:
    from astropy.io import fits

    try:
        with fits.open(path) as h:
            return any(getattr(hdu, "data", None) is not None and hdu.header.get("NAXIS", 0) == 3 for hdu in h)
    except OSError:
        return False


@train_app.command("nebulae")
@user_errors
def train_nebulae_cmd(
    out_dir: Path = typer.Option(..., "--out", help="Folder for classifier/ and hii_params/."),
    n_per_class: int = typer.Option(20000, help="Training spectra per class."),
    n_hii: int = typer.Option(40000, help="Simulated HII regions for the parameter posterior."),
    epochs: int = typer.Option(25, help="Classifier epochs."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Reproduce the shipped nebula models (classifier + HII posterior) from the theory grids."""
    from .cases.nebulae import train_nebulae

    m = train_nebulae(out_dir, n_per_class=n_per_class, n_hii_params=n_hii, seed=seed, epochs=epochs,
                      progress=True, log=out.print)
    out.print(f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, ECE {m['ece']:.3f}")


@sim_app.command("nebulae")
@user_errors
def simulate_nebulae_cmd(
    out_path: Path = typer.Option(..., "--out", help="Line table to write (.csv/.fits/.ecsv)."),
    n_per_class: int = typer.Option(200, help="Nebulae per class."),
    sn: Optional[float] = typer.Option(None, "--sn", help="Fixed S/N(Hα) (default: log-uniform 3-300)."),
    domain: str = typer.Option("theory", help="theory (training domain) or shifted (the DANN test domain)."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Write a line table of simulated, rendered and measured nebulae with TRUE_CLASS."""
    from .cases.nebulae import write_line_table

    n = write_line_table(out_path, n_per_class, sn_halpha=sn, domain=domain, seed=seed)
    out.print(f"wrote {n} rows -> {out_path}")


cube_app = typer.Typer(help="Data cubes: classify and infer every spaxel, with maps, a catalogue and a report.",
                       no_args_is_help=True)
app.add_typer(cube_app, name="cube")


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
    block: int = typer.Option(64, help="Spatial block size in spaxels; memory per worker ~ block^2 x 10 kB."),
    report: bool = typer.Option(True, help="Write report.html and figures."),
    seed: int = typer.Option(0, help="Seed of the posterior sampling."),
):
    """Classify every spaxel (HII/PN/SNR/DIG/unknown/no-signal) and infer HII parameters; resumable."""
    from rich.table import Table as RichTable

    from .cube.pipeline import classify_cube

    if block < 4:
        raise InputError(f"--block: {block} is too small; use at least 4 spaxels")
    s = classify_cube(cube, out_dir, redshift=redshift, model_dir=model, scheduler=scheduler, var_path=var,
                      block=block, seed=seed, progress=True, report=report, log=out.print)
    t = RichTable("class", "spaxels", "nebulae", title=f"sim2sky cube classify: {cube.name}")
    for c, n in s["class_counts"].items():
        t.add_row(c, str(n), str(s["nebulae"].get(c, "")))
    out.print(t)
    out.print(f"{s['n_spectra']} spectra in {s['wall_s']:.1f} s ({s['spectra_per_s']:.0f} spectra/s) -> {out_dir}/")


@sim_app.command("cube")
@user_errors
def simulate_cube_cmd(
    out_path: Path = typer.Option(..., "--out", help="Mock cube to write (uncompressed FITS)."),
    seed: int = typer.Option(0, help="Random seed."),
    size: tuple[int, int] = typer.Option((60, 60), "--size", help="NX NY spaxels."),
    redshift: float = typer.Option(0.005, "--redshift", help="Systemic redshift."),
):
    """A MUSE-format mock cube of a nearby-galaxy field with TRUTH_* extensions."""
    from .simulate.cube import make_mock_cube

    nx, ny = size
    if nx < 8 or ny < 8:
        raise InputError(f"--size: {nx} x {ny} is too small; use at least 8 x 8 spaxels")
    if not out_path.name.endswith((".fits", ".fit")):
        raise InputError(f"--out: {out_path.name} must end in .fits (uncompressed, so that it can be memory-mapped)")
    make_mock_cube(out_path, nx, ny, seed=seed, z=redshift)
    out.print(f"wrote {nx}x{ny} mock cube -> {out_path}")


@app.command("demo")
@user_errors
def demo(
    out_dir: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the cube, maps, report and tables."),
    case: str = typer.Option("cube", help="cube (the product demo) or npe (two-moons NPE with calibration checks)."),
    size: int = typer.Option(80, help="Mock cube size (spaxels per side)."),
    seed: int = typer.Option(0, help="Random seed."),
    progress: bool = typer.Option(True, help="Show progress bars."),
):
    """Run the embedded demo end to end (offline)."""
    from rich.table import Table as RichTable

    if case == "npe":
        from .cases.demo_npe import run_npe_demo

        res = run_npe_demo(out_dir, num_simulations=10_000, seed=seed, progress=progress, log=out.print)
        t = RichTable("measure", "value", title="sim2sky demo: two moons NPE")
        t.add_row("training wall time", f"{res['train_s']:.1f} s ({res['epochs']} epochs)")
        if "c2st_obs1" in res:
            t.add_row("C2ST vs exact posterior (obs 1)", f"{res['c2st_obs1']:.3f} (0.5 = perfect)")
        t.add_row("1000 samples x 10 observations", f"{res['sample_s']:.2f} s")
        t.add_row("TARP max |ECP - level|", f"{res['tarp_max_error']:.3f}")
        out.print(t)
        return
    if case != "cube":
        raise InputError(f"--case: {case!r} is not a demo; choose cube or npe")
    from .cases.demo_cube import run_cube_demo

    r = run_cube_demo(out_dir, size=size, seed=seed, progress=progress, log=out.print)
    cm = RichTable("true \\ found", *r["classes"], title="spaxel confusion matrix (mock truth vs sim2sky)")
    for name, row in zip(r["classes"], r["confusion"]):
        if row.sum():
            cm.add_row(name, *[str(v) for v in row])
    out.print(cm)
    t = RichTable("measure", "value", title="sim2sky demo: mock MUSE cube")
    t.add_row("spectra", f"{r['n_spectra']} ({size}x{size}x3681)")
    t.add_row("accuracy / macro-F1 (spaxels with signal)", f"{r['accuracy_signal']:.3f} / {r['macro_f1_signal']:.3f}")
    t.add_row("12+log(O/H) bias / rms (HII spaxels)", f"{r['oh_bias']:+.3f} / {r['oh_rms']:.3f} dex ({r['n_hii_spaxels']} spaxels)")
    t.add_row("E(B-V) rms", f"{r['ebv_rms']:.3f} mag")
    t.add_row("velocity rms", f"{r['velocity_rms']:.1f} km/s")
    t.add_row("nebulae catalogued", ", ".join(f"{k} {v}" for k, v in r["nebulae"].items()))
    t.add_row("cube classify wall time", f"{r['wall_s']:.1f} s ({r['spectra_per_s']:.0f} spectra/s incl. start-up)")
    out.print(t)
    out.print(f"maps, nebulae.csv and report.html are in {out_dir}/")
