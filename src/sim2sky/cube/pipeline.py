"""Classify and infer every spaxel of a MUSE-format cube, chunk by chunk, out of core.

Iterating axes are the two spatial axes, the fitting axis is wavelength: the cube becomes a
dask array of spatial blocks, each computed by :func:`process_block` (read the block through a
memory map -> measure lines -> features -> calibrated classifier -> HII posterior) with explicit
``dtype`` and ``chunks`` via ``dask.array.map_blocks``. Every finished block is saved under
``OUT/.partial/`` first, so an interrupted run resumes where it stopped; final products are
staged and moved into place only when complete. The same graph runs on a dask.distributed
cluster with ``scheduler="tcp://host:port"`` (workers must see the same file system).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..measure.lines import FLAG_NO_DATA, FLAG_NO_HALPHA, measure_lines
from ..simulate.lines import LINE_NAMES
from .fitsio import CubeSpec, open_cube, read_block

__all__ = ["CubeSpec", "open_cube", "process_block", "classify_cube", "cube_features", "plane_names",
           "CLASS_CODES", "FLAG_NO_STAT"]

CLASS_CODES = ("HII", "PN", "SNR", "DIG", "unknown", "no-signal")
FLAG_NO_STAT = 8          # variance estimated from the data (no STAT extension / variance file)
PARAM_KEYS = ("OH", "LOGU", "LOGPK", "EBV")


def plane_names() -> list[str]:
    names = []
    for line in LINE_NAMES:
        names += [line, f"{line}_ERR"]
    names += ["VELOCITY", "SIGMA", "SNR_HA", "FLAGS", "CLASS", "P_HII", "P_PN", "P_SNR", "P_DIG", "OOD_DISTANCE"]
    names += [f"{k}_MEAN" for k in PARAM_KEYS] + [f"{k}_STD" for k in PARAM_KEYS]
    return names


_PIPELINES: dict = {}
CUBE_POSTERIOR_SAMPLES = 32    # per HII spaxel: mean/std to ~12% (relative) of the std; the flow dominates run time


def _pipeline(model_dir):
    from ..apply.nebulae import NebulaPipeline

    key = str(model_dir)
    if key not in _PIPELINES:
        _PIPELINES[key] = NebulaPipeline(model_dir, num_samples=CUBE_POSTERIOR_SAMPLES)
    return _PIPELINES[key]


def process_block(spec: CubeSpec, ys: slice, xs: slice, model_dir=None, seed: int = 0) -> np.ndarray:
    """All output planes (n_planes, by, bx) float32 for one spatial block."""
    import torch

    from ..learn.features import measured_to_table

    torch.set_num_threads(1)
    _pin_blas()
    flux, var, wave, (by, bx) = read_block(spec, ys, xs)
    n = len(flux)
    pipe = _pipeline(model_dir)
    m = measure_lines(flux, var, wave, z=spec.redshift)
    res = pipe.predict(measured_to_table(m), n, seed=seed)
    flags = m["flags"].astype(np.int32) | (FLAG_NO_STAT if var is None else 0)
    label = res["label"]
    code = np.array([CLASS_CODES.index(c) for c in label], np.float32)
    no_signal = (flags & (FLAG_NO_DATA | FLAG_NO_HALPHA)) != 0
    code[no_signal] = CLASS_CODES.index("no-signal")
    planes = []
    for i in range(len(LINE_NAMES)):
        planes += [m["flux"][:, i], m["err"][:, i]]
    planes += [m["velocity"], m["sigma"], m["snr_halpha"], flags.astype(np.float32), code]
    proba = np.where(no_signal[:, None], np.nan, res["proba"])
    planes += [proba[:, k] for k in range(proba.shape[1])]
    planes.append(np.where(no_signal, np.nan, res["distance"]))
    mean, std = res["param_mean"], res["param_std"]
    planes += [mean[:, j] for j in range(mean.shape[1])] + [std[:, j] for j in range(std.shape[1])]
    return np.stack(planes).astype(np.float32).reshape(-1, by, bx)


def _pin_blas():
    """One BLAS thread in this process, set (not restored) at the start of every block.

    dask supplies the parallelism. BLAS thread limits are process-wide, so a per-block
    ``with threadpool_limits(1)`` in concurrent threads would race (one block restoring two
    threads while another computes) and break bitwise reproducibility across schedulers;
    setting it without restoring is idempotent. ``run_blocks`` restores the caller's limits.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _block_file(partial: Path, ys: slice, xs: slice) -> Path:
    return partial / f"block_{ys.start:05d}_{xs.start:05d}.npy"


def _cached_block(spec, ys, xs, model_dir, partial: str, seed):
    """Load a finished block, or compute and save it atomically (the resume mechanism)."""
    f = _block_file(Path(partial), ys, xs)
    if f.exists():
        try:
            return np.load(f, allow_pickle=False)
        except (OSError, ValueError):
            f.unlink(missing_ok=True)       # a block torn by a crash: recompute it
    planes = process_block(spec, ys, xs, model_dir, seed)
    tmp = f.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, planes)
    os.replace(tmp, f)
    return planes


def _map_block(block_info=None, spec=None, model_dir=None, partial=None, seed=0):
    (ys0, ys1), (xs0, xs1) = block_info[None]["array-location"][1:]
    return _cached_block(spec, slice(ys0, ys1), slice(xs0, xs1), model_dir, partial, seed)


def _manifest(spec: CubeSpec, model_dir, block: int) -> dict:
    st = os.stat(spec.path)
    return {"cube": spec.path, "size": st.st_size, "mtime": st.st_mtime, "model": str(model_dir),
            "block": block, "redshift": spec.redshift}


def run_blocks(spec: CubeSpec, partial: Path, model_dir=None, block: int = 64, scheduler: str | None = None,
               seed: int = 0, progress: bool = False) -> np.ndarray:
    """Compute all planes (n_planes, ny, nx) with dask, reusing finished blocks in ``partial``."""
    import dask
    import dask.array as da

    L, ny, nx = spec.shape
    n_planes = len(plane_names())
    chunks = ((n_planes,), _split(ny, block), _split(nx, block))
    arr = da.map_blocks(_map_block, dtype=np.float32, chunks=chunks, meta=np.empty((0, 0, 0), np.float32),
                        spec=spec, model_dir=None if model_dir is None else str(model_dir), partial=str(partial),
                        seed=seed)
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler: cannot connect to {scheduler} ({exc})") from None
        with client:
            return client.compute(arr).result()
    from threadpoolctl import threadpool_limits

    # pinned before the worker threads start (process-wide), restored when the run is over
    with threadpool_limits(1):
        if progress:
            with _rich_progress_class()():
                return arr.compute(scheduler="threads", num_workers=min(2, os.cpu_count() or 1))
        return dask.compute(arr, scheduler="threads", num_workers=min(2, os.cpu_count() or 1))[0]


def _rich_progress_class():
    from dask.callbacks import Callback
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    class RichProgress(Callback):
        """A rich progress bar over the tasks of a local dask run (one task per block)."""

        def _start(self, dsk):
            self._bar = Progress(TextColumn("cube blocks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            self._bar.start()
            self._task = self._bar.add_task("blocks", total=len(dsk))

        def _posttask(self, key, result, dsk, state, worker_id):
            self._bar.advance(self._task)

        def _finish(self, dsk, state, errored):
            self._bar.stop()

    return RichProgress



def _split(n, b):
    return tuple(min(b, n - i) for i in range(0, n, b))


def classify_cube(cube, out_dir, redshift=None, model_dir=None, scheduler=None, var_path=None, block: int = 64,
                  seed: int = 0, progress: bool = False, report: bool = True, log=print) -> dict:
    """Run the whole cube pipeline; write maps, catalogue and report into ``out_dir``.

    Returns a summary dict (class counts, timings, spectra/s, paths).
    """
    from .products import write_products

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    partial = out_dir / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    spec = open_cube(cube, var_path=var_path, redshift=redshift, workdir=partial / "input")
    if spec.stat_ext is None and spec.var_path is None:
        log("warning: no STAT extension or --var file: the noise is estimated from the data (flag 8 in FLAGS)")
    manifest = _manifest(spec, model_dir, block)
    mf = partial / "manifest.json"
    if mf.exists():
        try:
            old = json.loads(mf.read_text())
        except json.JSONDecodeError:
            old = None
        if old != manifest:
            for f in partial.glob("block_*.npy"):
                f.unlink()
        else:
            done = len(list(partial.glob("block_*.npy")))
            if done:
                log(f"resuming: {done} finished blocks found in {partial}")
    mf.write_text(json.dumps(manifest))
    t1 = time.perf_counter()
    planes = run_blocks(spec, partial, model_dir, block, scheduler, seed, progress)
    t_compute = time.perf_counter() - t1
    summary = write_products(spec, planes, out_dir, partial / "staging", report=report)
    shutil.rmtree(partial, ignore_errors=True)
    n = spec.shape[1] * spec.shape[2]
    wall = time.perf_counter() - t0
    summary.update(n_spectra=n, wall_s=wall, compute_s=t_compute, spectra_per_s=n / wall, redshift=spec.redshift)
    return summary


def cube_features(cube, redshift=None, min_snr: float = 3.0, workdir=None) -> np.ndarray:
    """Classifier features of the spaxels of a cube with S/N(Hα) >= ``min_snr`` (for ``nebulae adapt``)."""
    import tempfile

    from ..learn.features import line_features, measured_to_table

    with tempfile.TemporaryDirectory() as tmp:
        spec = open_cube(cube, redshift=redshift, workdir=workdir or tmp)
        L, ny, nx = spec.shape
        feats = []
        for y0 in range(0, ny, 32):
            flux, var, wave, _ = read_block(spec, slice(y0, min(ny, y0 + 32)), slice(0, nx))
            m = measure_lines(flux, var, wave, z=spec.redshift)
            x, valid = line_features(measured_to_table(m), len(flux))
            feats.append(x[valid & (m["snr_halpha"] >= min_snr)])
    return np.concatenate(feats)
