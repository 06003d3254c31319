"""NPE from files: what ``sim2sky npe train|sample|check`` run, as Python functions.

Simulations and observations are ``.npz`` files (``theta`` (n, d), ``x`` (n, k), optional
``theta_names``/``x_names``) or FITS/Parquet/CSV tables with named columns.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from astropy.table import Table

from ..core.atomic import save_npz
from ..core.config import from_dict
from ..core.errors import InputError
from ..core.modelio import WEIGHTS, sha256_file
from ..core.progress import progress as progress_bar
from ..core.tables import is_array_file, read_arrays, write_table
from .checks import run_checks
from .io import load_posterior, save_posterior
from .estimator import NPEConfig
from .npe import NPE
from .priors import prior_from_dict
from .train import TrainConfig, validate_training_data

__all__ = ["train_npe_file", "sample_npe_file", "check_npe_file", "load_json"]


def load_json(path, what: str):
    """Parse a small JSON file (bounds, column maps); ``None`` stays ``None``."""
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} file {path} is not valid JSON: {exc}") from None


def train_npe_file(sims, out_dir, bounds=None, theta_cols=None, x_cols=None, theta_units=None, architecture=None,
                   training=None, drop_invalid: bool = False, progress: bool = False, log=print) -> dict:
    """Train NPE on the simulations in ``sims`` and write the model folder ``out_dir``.

    Parameters
    ----------
    sims : path (.npz or table)
    bounds : path to ``{"low": [...], "high": [...]}`` JSON, or a dict, optional (box prior)
    theta_cols, x_cols : list of str, table input only
    theta_units : list of str, optional (stored in the model)
    architecture, training : dicts of :class:`NPEConfig` / :class:`TrainConfig` settings

    Returns the training history (best validation loss, epochs, wall time...).
    """
    arrays, names = read_arrays(sims, ("theta", "x"), {"theta": theta_cols, "x": x_cols})
    prior = prior_from_dict(bounds if isinstance(bounds, dict) else load_json(bounds, "--bounds"))
    arch = from_dict(NPEConfig, architecture or {}, "architecture")
    tcfg = from_dict(TrainConfig, training or {}, "training")
    theta, x = validate_training_data(arrays["theta"], arrays["x"], prior, drop_invalid=drop_invalid)
    if theta_units is not None and len(theta_units) != theta.shape[1]:
        raise InputError(f"--theta-units has {len(theta_units)} entries for {theta.shape[1]} parameters")
    candidates = arch.candidates(theta.shape[1])
    flows = " or ".join(f"{c.ensemble} {c.flow}" for c in candidates)
    log(f"training NPE ({flows}{', the lower validation loss kept' if len(candidates) > 1 else ''}) on {len(theta)} simulations: {theta.shape[1]} parameters, "
        f"{x.shape[1] if x.ndim == 2 else 'observations of shape ' + str(tuple(x.shape[1:]))}{' features' if x.ndim == 2 else ''}")
    npe = NPE(prior=prior, config=arch, train_config=tcfg, progress=progress).fit(
        theta, x, theta_names=names["theta"], x_names=names["x"])
    npe.posterior_.theta_units = list(theta_units or [""] * theta.shape[1])
    save_posterior(npe.posterior_, out_dir, tcfg, npe.history_,
                   provenance={"seed": tcfg.seed, "data_file": str(sims), "data_sha256": sha256_file(sims),
                               "n_simulations": int(len(theta))})
    return npe.history_


#: Observations per sampling task: each chunk has its own seed, so a local run and a run split
#: across a dask cluster draw exactly the same samples.
SAMPLE_CHUNK = 4096


@lru_cache(maxsize=4)
def _worker_posterior(model_dir: str, weights_mtime_ns: int):
    # keyed by the weights' mtime too: a folder retrained in place is loaded afresh
    return load_posterior(model_dir)


def _chunk_samples(post, x: np.ndarray, num_samples: int, seed: int, index: int) -> np.ndarray:
    """Samples (m, N, d) for one chunk of observations, from its own RNG stream (seed, index)."""
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1)[0]))
    return post.sample_batched(x, num_samples, generator=g)


def sample_chunk(model_dir: str, weights_mtime_ns: int, x: np.ndarray, num_samples: int, seed: int,
                 index: int) -> np.ndarray:
    """One chunk on a dask worker: the model folder is loaded once per worker process."""
    return _chunk_samples(_worker_posterior(model_dir, weights_mtime_ns), x, num_samples, seed, index)


def sample_observations(model_dir, x: np.ndarray, num_samples: int, seed: int = 0, scheduler: str | None = None,
                        chunk: int = SAMPLE_CHUNK, progress: bool = False, posterior=None) -> np.ndarray:
    """Amortised sampling of many observations, chunk by chunk, locally or on a dask.distributed
    cluster (``scheduler`` address; workers load the model folder, so it must be on a shared path).
    Identical results either way (tested). ``posterior``: the already loaded model folder (local runs)."""
    starts = list(range(0, len(x), chunk))
    if scheduler:
        from distributed import Client  # distributed (~1 s) only with --scheduler

        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler: cannot connect to {scheduler} ({exc})") from None
        folder = Path(model_dir).resolve()
        stamp = (folder / WEIGHTS).stat().st_mtime_ns
        try:
            futures = client.map(sample_chunk, [str(folder)] * len(starts), [stamp] * len(starts),
                                 [x[i:i + chunk] for i in starts], [num_samples] * len(starts),
                                 [seed] * len(starts), list(range(len(starts))), pure=False)
            parts = client.gather(futures)
        finally:
            client.close()
    else:
        post = posterior if posterior is not None else load_posterior(model_dir)
        parts = []
        with progress_bar(len(x), "sampling", progress) as bar:
            for k, i in enumerate(starts):
                parts.append(_chunk_samples(post, x[i:i + chunk], num_samples, seed, k))
                bar.advance(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, num_samples, 0), np.float32)


def sample_npe_file(model_dir, obs, num_samples: int = 1000, out=None, csv=None, x_cols=None, seed: int = 0,
                    allow_out_of_range: bool = False, progress: bool = False, scheduler: str | None = None) -> dict:
    """Posterior samples for every observation in ``obs``.

    Writes ``out`` (.npz: ``samples`` (m, N, d) + summary arrays) and ``csv`` (one row per
    observation and parameter: mean, std, q16, q50, q84) when given. With ``scheduler`` the
    observations are split across a dask.distributed cluster (same samples as locally). Returns
    ``{"samples", "summary", "theta_names", "rows"}``.
    """
    if num_samples < 1:
        raise InputError("--num-samples must be positive")
    post = load_posterior(model_dir)
    cols = x_cols
    if cols is None and not is_array_file(obs):
        cols = post.x_names
    arrays, _ = read_arrays(obs, ("x",), {"x": cols})
    x = post.check_x(arrays["x"], allow_out_of_range=allow_out_of_range)
    samples = sample_observations(model_dir, x, num_samples, seed=seed, scheduler=scheduler, progress=progress,
                                  posterior=post)
    summary = post.summarize(samples)
    if out is not None:
        save_npz(out, samples=samples, theta_names=np.array(post.theta_names), **summary)
    rows = [(i, name, *(float(summary[k][i, j]) for k in ("mean", "std", "q16", "q50", "q84")))
            for i in range(len(x)) for j, name in enumerate(post.theta_names)]
    if csv is not None:

        write_table(Table(rows=rows, names=("obs", "parameter", "mean", "std", "q16", "q50", "q84")), csv,
                    default_format="ascii.csv")
    return {"samples": samples, "summary": summary, "theta_names": post.theta_names, "rows": rows}


def check_npe_file(model_dir, sims, out_dir, num_sims: int = 500, num_samples: int = 1000, theta_cols=None,
                   x_cols=None, seed: int = 0) -> dict:
    """Calibration diagnostics (coverage, SBC, TARP) on held-out simulations; plots into ``out_dir``."""
    post = load_posterior(model_dir)
    arrays, _ = read_arrays(sims, ("theta", "x"), {"theta": theta_cols, "x": x_cols})
    return run_checks(post, arrays["theta"], arrays["x"], out_dir, num_sims=num_sims, num_samples=num_samples,
                      seed=seed)
