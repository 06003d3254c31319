"""``sim2sky npe train|sample|check`` and ``sim2sky simulate sbibm``: NPE from simulations on file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, console, file_out, model_out, out, split, user_errors

__all__ = ["app", "simulate_sbibm"]

app = typer.Typer(help="Amortised posterior estimation (NPE) from simulations on file.", no_args_is_help=True)


@user_errors
def simulate_sbibm(
    task: str = typer.Argument(..., help="two_moons, gaussian_linear, gaussian_linear_uniform, gaussian_mixture, slcp, "
                                           "bernoulli_glm, sir or lotka_volterra."),
    out_path: Path = typer.Option(..., "--out", help="Output .npz with theta (n, d) and x (n, k)."),
    num: int = typer.Option(10_000, "--n", "--num", help="Number of simulations.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    bounds_out: Optional[Path] = typer.Option(None, help="Also write the prior as JSON for 'npe train --bounds' ({low, high} for a box, else {kind, loc, scale})."),
    observations_out: Optional[Path] = typer.Option(None, help="Also write the 10 sbibm reference observations "
                                                              "(needs the 'sbibm' dataset, or 'sbibm-pypi' for slcp, "
                                                              "bernoulli_glm, sir, lotka_volterra: sim2sky data fetch NAME)."),
):
    """Simulate an sbibm benchmark task (Lueckmann et al. 2021) into an .npz training file."""
    file_out(out_path)
    from ..cases.sbibm import simulate_task_file

    simulate_task_file(task, out_path, num=num, seed=seed, bounds_out=bounds_out, observations_out=observations_out)
    out.print(f"wrote {num} simulations of {task} to {out_path}")
    if observations_out is not None:
        out.print(f"wrote 10 reference observations to {observations_out}")


@app.command("train")
@user_errors
def npe_train(
    sims: Path = typer.Argument(..., help="Simulations: .npz/.h5 with theta (n, d) and x (n, k) or fields (n, *grid) "
                                          "(e.g. from 'simulate fields'), or a FITS/Parquet/CSV table."),
    out_dir: Path = typer.Option(..., "--out", help="Model folder to write (config.json + weights.safetensors)."),
    flow: str = typer.Option("auto", help="Flow family: auto (NSF for <= 2 parameters, 3 MAFs above 5, the better of both "
                                          "by validation loss in between), "
                                          "nsf (neural spline) or maf (masked affine)."),
    ensemble: int = typer.Option(0, help="Independently trained flows mixed into the posterior (0: automatic).", min=0),
    bounds: Optional[Path] = typer.Option(None, help='Prior as JSON: a box {"low": [...], "high": [...]} (samples never leave it), '
                                                           '{"kind": "gaussian", "loc", "scale"} or {"kind": "lognormal", "loc", "scale"} '
                                                           '(of log theta; samples stay positive).'),
    seed: int = typer.Option(0, help="Seed for initialisation, data split and batches.", min=0),
    theta_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated parameter columns."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated feature columns."),
    theta_units: Optional[str] = typer.Option(None, help="Comma-separated units of the parameters (stored in the model)."),
    embedding: str = typer.Option("none", help="Embedding network trained with the flow: none, mlp, cnn1d or resnet1d "
                                               "(spectra: x of shape (n, L) or (n, C, L)), cnn2d (maps: (n, H, W) or "
                                               "(n, C, H, W)), cnn3d (cubes: (n, D, H, W) or (n, C, D, H, W)), "
                                               "powerspectrum (maps or cubes reduced to their binned log P(k)), "
                                               "cnn2d+powerspectrum / cnn3d+powerspectrum (both, concatenated); "
                                               "N-D x must come from .npz, .h5 or a FITS field file."),
    transforms: int = typer.Option(5, help="Number of flow transforms.", min=1),
    hidden: int = typer.Option(64, help="Hidden units per layer of each transform.", min=1),
    batch_size: int = typer.Option(0, help="Training batch size (0: automatic: n_train/8 clipped to 32-1024 for "
                                           "feature vectors, n_train/16 clipped to 32-256 with an embedding network).", min=0),
    learning_rate: float = typer.Option(0.0, help="Initial Adam learning rate (0: automatic, 1e-3 scaled with batches "
                                                  "above 256, at most 4e-3).", min=0.0),
    max_epochs: int = typer.Option(500, help="Upper limit on epochs (early stopping usually ends sooner).", min=1),
    patience: int = typer.Option(0, help="Stop after this many epochs without validation improvement (0: automatic, "
                                         "10 with weight averaging, 20 without).", min=0),
    drop_invalid: bool = typer.Option(False, help="Drop rows with NaN/inf instead of failing."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    overwrite: bool = OVERWRITE,
):
    """Train a neural posterior estimator on simulations stored in a file."""
    model_out(out_dir, overwrite, kind="npe")
    from ..infer.api import train_npe_file

    h = train_npe_file(sims, out_dir, bounds=bounds, theta_cols=split(theta_cols), x_cols=split(x_cols),
                       theta_units=split(theta_units),
                       architecture={"flow": flow, "ensemble": ensemble, "embedding": embedding, "transforms": transforms,
                                     "hidden_features": (hidden, hidden)},
                       training={"batch_size": batch_size, "learning_rate": learning_rate, "max_epochs": max_epochs,
                                 "patience": patience, "seed": seed},
                       drop_invalid=drop_invalid, progress=progress, log=console.print)
    out.print(f"best validation loss {h['best_val_loss']:.4f} at epoch {h['best_epoch'] + 1}/{h['epochs']} "
              f"({h['wall_time_s']:.1f} s); model written to {out_dir}")


@app.command("sample")
@user_errors
def npe_sample(
    model_dir: Path = typer.Argument(..., help="Model folder written by 'sim2sky npe train'."),
    obs: Path = typer.Argument(..., help="Observations: .npz with x (m, k), or a table with --x-cols."),
    num_samples: int = typer.Option(1000, "--num-samples", "-n", help="Posterior samples per observation.", min=1),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Write samples (m, N, d) to this .npz."),
    csv: Optional[Path] = typer.Option(None, help="Write the summary table (mean, std, 16/50/84%) to CSV instead of stdout."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated feature columns (default: the model's names)."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    allow_out_of_range: bool = typer.Option(False, help="Sample even for observations outside the training range."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed scheduler (e.g. "
                                            "tcp://host:8786): observations are split across its workers in chunks "
                                            "of 4096; the model folder must be on a path the workers can read. "
                                            "Same samples as a local run."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
):
    """Draw posterior samples for every observation in a file, with a summary table."""
    file_out(out_path)
    from rich.table import Table as RichTable

    from ..infer.api import sample_npe_file

    res = sample_npe_file(model_dir, obs, num_samples=num_samples, out=out_path, csv=csv, x_cols=split(x_cols),
                          seed=seed, allow_out_of_range=allow_out_of_range, progress=progress, scheduler=scheduler)
    if out_path is not None:
        console.print(f"wrote samples {res['samples'].shape} to {out_path}")
    if csv is not None:
        console.print(f"wrote summary table to {csv}")
        return
    rows = res["rows"]
    table = RichTable("obs", "parameter", "mean", "std", "q16", "q50", "q84",
                      title=f"posterior summary ({num_samples} samples per observation)")
    for r in rows[:200]:
        table.add_row(str(r[0]), r[1], *(f"{v:.4g}" for v in r[2:]))
    out.print(table)
    if len(rows) > 200:
        out.print(f"... {len(rows) - 200} more rows; use --csv to write them all")


@app.command("sequential")
@user_errors
def npe_sequential(
    task: str = typer.Argument(..., help="sbibm task with a built-in simulator (two_moons, gaussian_mixture, "
                               "gaussian_linear, gaussian_linear_uniform)."),
    observation: int = typer.Option(1, help="sbibm observation number (1-10).", min=1, max=10),
    out_dir: Path = typer.Option(..., "--out", help="Model folder (read by 'npe sample') + sequential.json."),
    rounds: int = typer.Option(4, help="Rounds; every round after the first draws from the truncated prior.", min=1),
    simulations: int = typer.Option(1000, help="Simulations per round.", min=1),
    epsilon: float = typer.Option(1e-4, help="Posterior mass left outside the truncation region.", min=0.0, max=1.0),
    coverage_sims: int = typer.Option(300, "--coverage-sims", help="Simulations from the final truncated prior "
                                      "for the coverage check.", min=1),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    overwrite: bool = OVERWRITE,
):
    """Truncated sequential NPE (TSNPE) for one observation: rounds, coverage on the truncated prior, C2ST."""
    model_out(out_dir, overwrite, kind="npe")
    from ..cases.sbibm import run_tsnpe_task

    r = run_tsnpe_task(task, observation, out_dir, rounds, simulations, epsilon, seed, coverage_sims, progress=True)
    for row in r["rounds"]:
        out.print(f"round {row['round']}: {row['simulations']} simulations, proposal acceptance "
                  f"{row['acceptance']:.3f}, prior volume {row['prior_volume']:.3f}")
    out.print(f"coverage error on the truncated prior: {r['coverage_max_error_truncated_prior']:.3f}"
              + (f"; C2ST vs the sbibm reference {r['c2st']:.3f}" if "c2st" in r else ""))
    out.print(f"wrote {out_dir}")


@app.command("check")
@user_errors
def npe_check(
    model_dir: Path = typer.Argument(..., help="Model folder written by 'sim2sky npe train'."),
    sims: Path = typer.Argument(..., help="Held-out simulations (.npz or table) never used for training."),
    out_dir: Path = typer.Option(Path("npe_check"), "--out", help="Folder for plots and check.json."),
    num_sims: int = typer.Option(500, help="Number of held-out simulations to use.", min=1),
    num_samples: int = typer.Option(1000, help="Posterior samples per simulation.", min=1),
    theta_cols: Optional[str] = typer.Option(None, help="Table input: parameter columns."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: feature columns."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Calibration diagnostics on held-out simulations: expected coverage, SBC ranks, TARP."""
    from rich.table import Table as RichTable

    from ..infer.api import check_npe_file

    report = check_npe_file(model_dir, sims, out_dir, num_sims=num_sims, num_samples=num_samples,
                            theta_cols=split(theta_cols), x_cols=split(x_cols), seed=seed)
    t = RichTable("diagnostic", "value", "ideal", title=f"calibration on {report['num_sims']} held-out simulations")
    t.add_row("max |coverage - level| (HPD)", f"{report['coverage_max_error']:.3f}", "0")
    t.add_row("max |ECP - level| (TARP)", f"{report['tarp_max_error']:.3f}", "0")
    for name, p in report["sbc_ks_pvalue"].items():
        t.add_row(f"SBC rank uniformity p-value ({name})", f"{p:.3f}", "> 0.01")
    out.print(t)
    out.print(f"plots and check.json in {out_dir}")
