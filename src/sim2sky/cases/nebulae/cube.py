"""Classify and infer every spaxel of a MUSE-format cube, chunk by chunk, out of core.

Iterating axes are the two spatial axes, the fitting axis is wavelength: the cube is cut into
spatial blocks (:func:`sim2sky.apply.run_blocks`), each computed by :func:`process_block`
(read only the channels the line fit uses through a memory map -> measure lines -> features
-> calibrated classifier -> HII posterior). Finished blocks are kept under ``OUT/.partial/`` so
an interrupted run resumes; final products are staged and moved into place only when complete.
The same graph runs on a dask.distributed cluster with ``scheduler="tcp://host:port"``.
A refused input writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from ...apply.blocks import check_scheduler, file_identity, folder_identity, prepare_partial, run_blocks
from ...apply.fitscube import CubeSpec, header_number, open_cube, read_block
from ...core.errors import InputError
from ...core.threads import pin_threads
from .features import line_features, measured_to_table
from .lines import LINE_NAMES, LINE_WAVES, line_index
from .measure import measure_lines, needed_channels
from .pipeline import DEFAULT_MODEL_DIR, NebulaPipeline, parse_class_priors
from .products import write_products
from .schema import (CLASSES, CUBE_CLASSES, CUBE_POSTERIOR_SAMPLES, DEFAULT_BLOCK, FLAG_NO_DATA, FLAG_NO_HALPHA,
                     FLAG_NO_STAT, HII_KEYS, NO_SIGNAL)

__all__ = ["PLANE_NAMES", "cube_manifest", "process_block", "classify_cube", "cube_features", "cube_redshift", "is_cube"]

PLANE_NAMES = tuple(
    [n for line in LINE_NAMES for n in (line, f"{line}_ERR")]
    + ["VELOCITY", "SIGMA", "SNR_HA", "FLAGS", "CLASS"] + [f"P_{c}" for c in CLASSES] + ["OOD_DISTANCE"]
    + [f"{k}_MEAN" for k in HII_KEYS] + [f"{k}_STD" for k in HII_KEYS]
)

_PIPELINES: dict = {}


def _pipeline(model_dir) -> NebulaPipeline:
    """One pipeline per process and model folder (dask worker threads share it read-only)."""
    key = str(model_dir)
    if key not in _PIPELINES:
        _PIPELINES[key] = NebulaPipeline(model_dir, num_samples=CUBE_POSTERIOR_SAMPLES)
    return _PIPELINES[key]


def process_block(ys: slice, xs: slice, spec: CubeSpec = None, z: float = 0.0, model_dir=None,
                  seed: int = 0, class_priors=None) -> np.ndarray:
    """All output planes (len(PLANE_NAMES), by, bx) float32 for one spatial block."""
    pin_threads(1)
    flux, var, wave, (by, bx) = read_block(spec, ys, xs, needed_channels(spec.wave, z))
    n = len(flux)
    pipe = _pipeline(model_dir)
    m = measure_lines(flux, var, wave, z=z)
    res = pipe.predict(measured_to_table(m), n, seed=seed, class_priors=class_priors)
    flags = m["flags"].astype(np.int32) | (FLAG_NO_STAT if var is None else 0)
    code = np.array([CUBE_CLASSES.index(c) for c in res["label"]], np.float32)
    no_signal = (flags & (FLAG_NO_DATA | FLAG_NO_HALPHA)) != 0
    code[no_signal] = CUBE_CLASSES.index(NO_SIGNAL)
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


def cube_redshift(spec: CubeSpec, redshift: float | None) -> float:
    """The systemic redshift (argument, else header Z_SYS/REDSHIFT/Z), checked against the cube's range."""
    if redshift is None:
        redshift = header_number(spec, ("Z_SYS", "REDSHIFT", "Z"))
    if redshift is None:
        raise InputError("--redshift: the header has no Z_SYS/REDSHIFT keyword; give the systemic redshift with --redshift")
    if not (-0.01 < redshift < 0.5):
        raise InputError(f"--redshift: {redshift} is outside the range the line set supports (-0.01 to 0.5)")
    wave = spec.wave
    ha = LINE_WAVES[line_index("HA6563")] * (1 + redshift)
    if not (wave[0] + 30 < ha < wave[-1] - 30):
        raise InputError(f"CUBE: the wavelength range {wave[0]:.0f}-{wave[-1]:.0f} Å does not contain Hα at "
                         f"z = {redshift} ({ha:.0f} Å); check --redshift and CUNIT3")
    return float(redshift)


def cube_manifest(cube, spec: CubeSpec, z: float, model_dir, block: int, class_priors=None, seed: int = 0) -> dict:
    """What identifies a run: the input cube as given (and its variance file) by content, the
    model folder's files, the seed, block size, redshift and class priors. Finished blocks of
    any other run are discarded."""
    return {"cube": file_identity(cube), "var": None if spec.var_path is None else file_identity(spec.var_path),
            "model": folder_identity(DEFAULT_MODEL_DIR if model_dir is None else model_dir),
            "seed": int(seed), "block": block, "redshift": z,
            "class_priors": None if class_priors is None else [float(v) for v in class_priors]}


def classify_cube(cube, out_dir, redshift=None, model_dir=None, scheduler=None, var_path=None,
                  block: int = DEFAULT_BLOCK, seed: int = 0, progress: bool = False, report: bool = True,
                  log=print, class_priors=None) -> dict:
    """Run the whole cube pipeline; write maps, catalogue and report into ``out_dir``.

    Returns a summary dict (class counts, nebulae, timings, spectra/s, redshift).
    """
    t0 = time.perf_counter()
    if block < 4:
        raise InputError(f"--block: {block} is too small; use at least 4 spaxels")
    out_dir = Path(out_dir)
    partial = out_dir / ".partial"
    created_out, created_partial = not out_dir.exists(), not partial.exists()
    try:
        spec = open_cube(cube, var_path=var_path, workdir=partial / "input")
        z = cube_redshift(spec, redshift)
        # a broken model folder or bad priors are refused before any work (the pipeline is then
        # cached for blocks run in this process)
        pipe = _pipeline(None if model_dir is None else str(model_dir))
        priors = parse_class_priors(class_priors, pipe.classes)
        pipe.classifier.prior_weights(priors)
        if scheduler:
            check_scheduler(scheduler)
    except InputError:
        # nothing may be left behind for a refused input
        if created_out:
            shutil.rmtree(out_dir, ignore_errors=True)
        elif created_partial:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if spec.stat_ext is None and spec.var_path is None:
        log("warning: no STAT extension or --var file: the noise is estimated from the data (flag 8 in FLAGS)")
    done = prepare_partial(partial, cube_manifest(cube, spec, z, model_dir, block, priors, seed), log=log)
    if done:
        log(f"resuming: {done} finished blocks found in {partial}")
    t1 = time.perf_counter()
    planes = run_blocks(process_block, spec.shape[1:], len(PLANE_NAMES), partial, block=block, scheduler=scheduler,
                        progress=progress, spec=spec, z=z,
                        model_dir=None if model_dir is None else str(model_dir), seed=seed,
                        class_priors=None if priors is None else [float(v) for v in priors])
    t_compute = time.perf_counter() - t1
    summary = write_products(spec, z, planes, PLANE_NAMES, out_dir, partial / "staging", report=report)
    shutil.rmtree(partial, ignore_errors=True)
    n = spec.shape[1] * spec.shape[2]
    wall = time.perf_counter() - t0
    summary.update(n_spectra=n, wall_s=wall, compute_s=t_compute, spectra_per_s=n / wall, redshift=z)
    return summary


def cube_features(cube, redshift=None, min_snr: float = 3.0) -> np.ndarray:
    """Classifier features of the spaxels of a cube with S/N(Hα) >= ``min_snr`` (for ``nebulae adapt``)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = open_cube(cube, workdir=tmp)
        z = cube_redshift(spec, redshift)
        _, ny, nx = spec.shape
        channels = needed_channels(spec.wave, z)
        feats = []
        for y0 in range(0, ny, 32):
            flux, var, wave, _ = read_block(spec, slice(y0, min(ny, y0 + 32)), slice(0, nx), channels)
            m = measure_lines(flux, var, wave, z=z)
            x, valid = line_features(measured_to_table(m), len(flux))
            feats.append(x[valid & (m["snr_halpha"] >= min_snr)])
    return np.concatenate(feats)


def is_cube(path) -> bool:
    """True if ``path`` is a FITS file with a 3-D image extension."""
    try:
        with fits.open(path) as h:
            return any(getattr(hdu, "data", None) is not None and hdu.header.get("NAXIS", 0) == 3 for hdu in h)
    except (OSError, ValueError):
        return False
