"""The ``sim2sky`` command line: a thin layer over the Python API.

User errors (:class:`sim2sky.errors.InputError`) become one red line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .errors import InputError

__all__ = ["app", "main"]

console = Console(stderr=True)
out = Console()

app = typer.Typer(
    name="sim2sky",
    help="Train on theory, apply to the sky, with errors.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
npe_app = typer.Typer(help="Amortised posterior estimation (NPE) from simulations on file.", no_args_is_help=True)
sim_app = typer.Typer(help="Simulate training sets from built-in forward models.", no_args_is_help=True)
app.add_typer(npe_app, name="npe")
lit_app = typer.Typer(help="Literature assistant: index astro-ph, search, answer with citations.", no_args_is_help=True)
app.add_typer(sim_app, name="simulate")
app.add_typer(lit_app, name="lit")


def user_errors(fn):
    """Turn InputError into a clean message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            from rich.markup import escape

            # escaped: messages quote things like [SII] or [km/s] that rich would take for markup
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def _version(value: bool):
    if value:
        out.print(f"sim2sky {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit.")):
    """sim2sky: simulation-based inference, calibrated classifiers and cube processing for astronomy."""


def _split(cols: Optional[str]) -> Optional[list[str]]:
    return [c.strip() for c in cols.split(",") if c.strip()] if cols else None


def _load_json(path: Optional[Path], what: str):
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} file {path} is not valid JSON: {exc}") from None


# ----------------------------------------------------------------------------- simulate
@sim_app.command("sbibm")
@user_errors
def simulate_sbibm(
    task: str = typer.Argument(..., help="two_moons, gaussian_linear, gaussian_linear_uniform or gaussian_mixture."),
    out_path: Path = typer.Option(..., "--out", help="Output .npz with theta (n, d) and x (n, k)."),
    num: int = typer.Option(10_000, "--num", help="Number of simulations."),
    seed: int = typer.Option(0, help="Random seed."),
    bounds_out: Optional[Path] = typer.Option(None, help="Also write the box prior as JSON {low, high}."),
    observations_out: Optional[Path] = typer.Option(None, help="Also write the 10 sbibm reference observations (needs the shared data)."),
):
    """Simulate an sbibm benchmark task (Lueckmann et al. 2021) into an .npz training file."""
    import numpy as np

    from .cases.sbibm import get_task, load_reference

    t = get_task(task)
    if num < 1:
        raise InputError("--num must be positive")
    theta, x = t.sample_joint(num, seed=seed)
    _atomic_npz(out_path, theta=theta.numpy(), x=x.numpy(),
                theta_names=np.array([f"theta_{i + 1}" for i in range(t.theta_dim)]),
                x_names=np.array([f"x_{i + 1}" for i in range(t.x_dim)]))
    out.print(f"wrote {num} simulations of {task} to {out_path}")
    if bounds_out is not None:
        if not hasattr(t.prior, "low"):
            raise InputError(f"{task} has a Gaussian prior, not a box; omit --bounds-out")
        Path(bounds_out).write_text(json.dumps({"low": t.prior.low.tolist(), "high": t.prior.high.tolist()}))
    if observations_out is not None:
        refs = [load_reference(task, i) for i in range(1, 11)]
        _atomic_npz(observations_out, x=np.concatenate([r["x"] for r in refs]),
                    theta=np.concatenate([r["theta"] for r in refs]))
        out.print(f"wrote 10 reference observations to {observations_out}")


def _atomic_npz(path: Path, **arrays):
    import os
    import tempfile

    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- npe
@npe_app.command("train")
@user_errors
def npe_train(
    sims: Path = typer.Argument(..., help="Simulations: .npz with theta (n, d) and x (n, k), or a FITS/Parquet/CSV table."),
    out_dir: Path = typer.Option(..., "--out", help="Model folder to write (config.json + weights.safetensors)."),
    flow: str = typer.Option("nsf", help="Flow family: nsf (neural spline) or maf (masked affine)."),
    bounds: Optional[Path] = typer.Option(None, help='Box prior as JSON {"low": [...], "high": [...]}; samples never leave it.'),
    seed: int = typer.Option(0, help="Seed for initialisation, data split and batches."),
    theta_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated parameter columns."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated feature columns."),
    theta_units: Optional[str] = typer.Option(None, help="Comma-separated units of the parameters (stored in the model)."),
    embedding: str = typer.Option("none", help="Embedding network for x: none, mlp, or cnn1d (spectra)."),
    transforms: int = typer.Option(5, help="Number of flow transforms."),
    hidden: int = typer.Option(64, help="Hidden units per layer of each transform."),
    batch_size: int = typer.Option(256, help="Training batch size."),
    learning_rate: float = typer.Option(1e-3, help="Initial Adam learning rate."),
    max_epochs: int = typer.Option(500, help="Upper limit on epochs (early stopping usually ends sooner)."),
    patience: int = typer.Option(20, help="Stop after this many epochs without validation improvement."),
    drop_invalid: bool = typer.Option(False, help="Drop rows with NaN/inf instead of failing."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
):
    """Train a neural posterior estimator on simulations stored in a file."""
    import numpy as np

    from .config import from_dict
    from .infer.io import save_posterior
    from .infer.npe import NPE, NPEConfig
    from .infer.priors import prior_from_dict
    from .infer.train import TrainConfig, validate_training_data
    from .modelio import sha256_file
    from .tables import read_arrays

    arrays, names = read_arrays(sims, ("theta", "x"), {"theta": _split(theta_cols), "x": _split(x_cols)})
    prior = prior_from_dict(_load_json(bounds, "--bounds"))
    arch = from_dict(NPEConfig, {"flow": flow, "embedding": embedding, "transforms": transforms,
                                 "hidden_features": (hidden, hidden)}, "architecture")
    tcfg = from_dict(TrainConfig, {"batch_size": batch_size, "learning_rate": learning_rate, "max_epochs": max_epochs,
                                   "patience": patience, "seed": seed}, "training")
    theta, x = validate_training_data(arrays["theta"], arrays["x"], prior, drop_invalid=drop_invalid)
    units = _split(theta_units)
    if units is not None and len(units) != theta.shape[1]:
        raise InputError(f"--theta-units has {len(units)} entries for {theta.shape[1]} parameters")
    console.print(f"training NPE ({flow}) on {len(theta)} simulations: {theta.shape[1]} parameters, {x.shape[1]} features")
    npe = NPE(prior=prior, config=arch, train_config=tcfg, progress=progress).fit(
        theta, x, theta_names=names["theta"], x_names=names["x"])
    npe.posterior_.theta_units = units or [""] * theta.shape[1]
    save_posterior(npe.posterior_, out_dir, tcfg, npe.history_,
                   provenance={"seed": seed, "data_file": str(sims), "data_sha256": sha256_file(sims),
                               "n_simulations": int(len(theta))})
    h = npe.history_
    out.print(f"best validation loss {h['best_val_loss']:.4f} at epoch {h['best_epoch'] + 1}/{h['epochs']} "
              f"({h['wall_time_s']:.1f} s); model written to {out_dir}")


@npe_app.command("sample")
@user_errors
def npe_sample(
    model_dir: Path = typer.Argument(..., help="Model folder written by 'sim2sky npe train'."),
    obs: Path = typer.Argument(..., help="Observations: .npz with x (m, k), or a table with --x-cols."),
    num_samples: int = typer.Option(1000, "--num-samples", "-n", help="Posterior samples per observation."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Write samples (m, N, d) to this .npz."),
    csv: Optional[Path] = typer.Option(None, help="Write the summary table (mean, std, 16/50/84%) to CSV instead of stdout."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: comma-separated feature columns (default: the model's names)."),
    seed: int = typer.Option(0, help="Random seed."),
    allow_out_of_range: bool = typer.Option(False, help="Sample even for observations outside the training range."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
):
    """Draw posterior samples for every observation in a file, with a summary table."""
    import numpy as np

    from .infer.io import load_posterior
    from .tables import read_arrays

    if num_samples < 1:
        raise InputError("--num-samples must be positive")
    post = load_posterior(model_dir)
    cols = _split(x_cols)
    if cols is None and not str(obs).endswith(".npz"):
        cols = post.x_names
    arrays, _ = read_arrays(obs, ("x",), {"x": cols})
    x = post.check_x(arrays["x"], allow_out_of_range=allow_out_of_range)
    samples = post.sample_batched(x, num_samples, seed=seed, progress=progress)
    summary = post.summarize(samples)
    if out_path is not None:
        _atomic_npz(out_path, samples=samples, theta_names=np.array(post.theta_names),
                    **{f"{k}": v for k, v in summary.items()})
        console.print(f"wrote samples {samples.shape} to {out_path}")
    rows = []
    for i in range(len(x)):
        for j, name in enumerate(post.theta_names):
            rows.append((i, name, *(float(summary[k][i, j]) for k in ("mean", "std", "q16", "q50", "q84"))))
    header = ("obs", "parameter", "mean", "std", "q16", "q50", "q84")
    if csv is not None:
        from astropy.table import Table

        Table(rows=rows, names=header).write(csv, format="ascii.csv", overwrite=True)
        console.print(f"wrote summary table to {csv}")
    else:
        from rich.table import Table as RichTable

        table = RichTable(*header, title=f"posterior summary ({num_samples} samples per observation)")
        for r in rows[:200]:
            table.add_row(str(r[0]), r[1], *(f"{v:.4g}" for v in r[2:]))
        out.print(table)
        if len(rows) > 200:
            out.print(f"... {len(rows) - 200} more rows; use --csv to write them all")


@npe_app.command("check")
@user_errors
def npe_check(
    model_dir: Path = typer.Argument(..., help="Model folder written by 'sim2sky npe train'."),
    sims: Path = typer.Argument(..., help="Held-out simulations (.npz or table) never used for training."),
    out_dir: Path = typer.Option(Path("npe_check"), "--out", help="Folder for plots and check.json."),
    num_sims: int = typer.Option(500, help="Number of held-out simulations to use."),
    num_samples: int = typer.Option(1000, help="Posterior samples per simulation."),
    theta_cols: Optional[str] = typer.Option(None, help="Table input: parameter columns."),
    x_cols: Optional[str] = typer.Option(None, help="Table input: feature columns."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Calibration diagnostics on held-out simulations: expected coverage, SBC ranks, TARP."""
    from .infer.checks import run_checks
    from .infer.io import load_posterior
    from .tables import read_arrays

    post = load_posterior(model_dir)
    arrays, _ = read_arrays(sims, ("theta", "x"), {"theta": _split(theta_cols), "x": _split(x_cols)})
    report = run_checks(post, arrays["theta"], arrays["x"], out_dir, num_sims=num_sims, num_samples=num_samples, seed=seed)
    from rich.table import Table as RichTable

    t = RichTable("diagnostic", "value", "ideal", title=f"calibration on {report['num_sims']} held-out simulations")
    t.add_row("max |coverage - level| (HPD)", f"{report['coverage_max_error']:.3f}", "0")
    t.add_row("max |ECP - level| (TARP)", f"{report['tarp_max_error']:.3f}", "0")
    for name, p in report["sbc_ks_pvalue"].items():
        t.add_row(f"SBC rank uniformity p-value ({name})", f"{p:.3f}", "> 0.01")
    out.print(t)
    out.print(f"plots and check.json in {out_dir}")


# ----------------------------------------------------------------------------- literature
def _index_dir(index: Optional[Path]) -> Path:
    from .literature.index import default_index_dir

    return index or default_index_dir()


def _options(k, since, until, category, mode, recency, citations):
    from .config import from_dict
    from .literature.search import SearchOptions

    return from_dict(SearchOptions, {"k": k, "since": since, "until": until, "category": category, "mode": mode,
                                     "recency_boost": recency, "citation_boost": citations}, "search option")


@lit_app.command("index")
@user_errors
def lit_index(
    corpus: list[Path] = typer.Argument(..., help="JSON Lines files (.jsonl or .jsonl.gz): arXiv metadata, Kaggle snapshot or ADS export."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Index folder (default: the per-user data folder)."),
    dense: bool = typer.Option(False, help="Also embed abstracts with all-MiniLM-L6-v2 (~35 abstracts/s on 2 cores)."),
    progress: bool = typer.Option(True, help="Show progress."),
):
    """Build or update an index; re-indexing adds new papers and replaces new versions only."""
    from .literature.corpus import read_corpus
    from .literature.index import LitIndex

    idx = LitIndex(_index_dir(out_dir), create=True)
    errors: list = []
    papers = [p for f in corpus for p in read_corpus(f, errors)]
    for path, line, reason in errors[:20]:
        console.print(f"[yellow]skipped[/] {path}:{line}: {reason}")
    if len(errors) > 20:
        console.print(f"[yellow]... and {len(errors) - 20} more malformed lines[/]")
    stats = idx.add(papers, dense=dense, progress=progress)
    out.print(f"indexed {len(papers)} records into {idx.folder}: {stats['added']} new, {stats['replaced']} replaced, "
              f"{stats['unchanged']} unchanged, {stats['embedded']} embedded, {len(errors)} malformed lines skipped "
              f"({stats['seconds']:.1f} s); {len(idx)} papers in the index")


def _print_results(results, title: str):
    from rich.table import Table as RichTable

    t = RichTable("#", "arXiv id", "relevance", "date", "title", "first author", title=title)
    for i, r in enumerate(results, 1):
        t.add_row(str(i), r.id, f"{r.score:.3f}", r.date, r.title[:90], r.first_author[:30])
    out.print(t)


@lit_app.command("search")
@user_errors
def lit_search(
    query: str = typer.Argument(..., help="What to look for, in plain words."),
    k: int = typer.Option(10, "-k", help="Number of papers."),
    since: Optional[str] = typer.Option(None, help="Earliest date: 2024, 2024-05 or 2024-05-17."),
    until: Optional[str] = typer.Option(None, help="Latest date, same forms."),
    category: Optional[str] = typer.Option(None, help="Hard filter on an arXiv category, e.g. astro-ph.GA."),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    recency: float = typer.Option(0.0, help="Recency boost weight (0 = off)."),
    citations: float = typer.Option(0.0, help="Citation boost weight (0 = off; needs citation counts)."),
    index: Optional[Path] = typer.Option(None, help="Index folder (default: the per-user data folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
):
    """Search the index; prints a ranked table (or JSON)."""
    from .literature.index import LitIndex
    from .literature.search import search

    results = search(LitIndex(_index_dir(index)), query, _options(k, since, until, category, mode, recency, citations))
    if as_json:
        print(json.dumps([{k2: v for k2, v in r.to_dict().items() if k2 != "abstract"} for r in results], indent=1))
    else:
        _print_results(results, f"{len(results)} papers for: {query}")


@lit_app.command("ask")
@user_errors
def lit_ask(
    question: str = typer.Argument(..., help="A question about the literature."),
    k: int = typer.Option(5, "-k", help="Papers to retrieve and cite."),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080 (llama.cpp server)."),
    gguf: Optional[Path] = typer.Option(None, help="Local GGUF model file (needs llama-cpp-python)."),
    model: str = typer.Option("default", help="Model name sent to the endpoint."),
    since: Optional[str] = typer.Option(None, help="Earliest date."),
    category: Optional[str] = typer.Option(None, help="Hard filter on an arXiv category."),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    index: Optional[Path] = typer.Option(None, help="Index folder."),
):
    """Answer a question from retrieved papers, citing them as \\[n], then show the papers."""
    from .literature.answer import answer
    from .literature.index import LitIndex
    from .literature.search import search

    results = search(LitIndex(_index_dir(index)), question, _options(k, since, None, category, mode, 0.0, 0.0))
    ans = answer(question, results, llm_url=llm_url, gguf=str(gguf) if gguf else None, model=model)
    out.print(f"[bold]Answer[/] ({ans.backend}): {ans.text}", highlight=False)
    _print_results(results, "sources")


@lit_app.command("serve")
@user_errors
def lit_serve(
    index: Optional[Path] = typer.Option(None, help="Index folder."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1: this machine only)."),
    port: int = typer.Option(8765, help="Port."),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for answers (default: extractive)."),
):
    """Serve a local search page: search box, paper table with arXiv links, cited answer."""
    from .literature.serve import make_server

    server = make_server(_index_dir(index), host=host, port=port, llm_url=llm_url)
    out.print(f"serving on http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


from . import cli_nebulae  # noqa: E402,F401  (registers the nebula commands)


def main():
    app()


if __name__ == "__main__":
    main()
