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

import gzip
import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..measure.lines import FLAG_BAD_PIXELS, FLAG_NO_DATA, FLAG_NO_HALPHA, measure_lines
from ..simulate.lines import LINE_NAMES, LINE_WAVES, line_index

__all__ = ["CubeSpec", "open_cube", "process_block", "classify_cube", "cube_features", "plane_names",
           "CLASS_CODES", "FLAG_NO_STAT"]

CLASS_CODES = ("HII", "PN", "SNR", "DIG", "unknown", "no-signal")
FLAG_NO_STAT = 8          # variance estimated from the data (no STAT extension / variance file)
PARAM_KEYS = ("OH", "LOGU", "LOGPK", "EBV")
_UNIT_TO_ANGSTROM = {"angstrom": 1.0, "a": 1.0, "aa": 1.0, "nm": 10.0, "um": 1e4, "micron": 1e4, "m": 1e10}


def plane_names() -> list[str]:
    names = []
    for line in LINE_NAMES:
        names += [line, f"{line}_ERR"]
    names += ["VELOCITY", "SIGMA", "SNR_HA", "FLAGS", "CLASS", "P_HII", "P_PN", "P_SNR", "P_DIG", "OOD_DISTANCE"]
    names += [f"{k}_MEAN" for k in PARAM_KEYS] + [f"{k}_STD" for k in PARAM_KEYS]
    return names


@dataclass(frozen=True)
class CubeSpec:
    """Where the cube's arrays are and what its axes mean (picklable: sent to dask workers)."""

    path: str                 # uncompressed FITS read through a memory map
    data_ext: int
    stat_ext: int | None
    dq_ext: int | None
    var_path: str | None
    var_ext: int | None
    shape: tuple[int, int, int]    # (n_wave, ny, nx)
    crval: float
    cdelt: float
    crpix: float
    wave_scale: float         # to Angstrom
    redshift: float
    celestial_header: str

    @property
    def wave(self) -> np.ndarray:
        return (self.crval + self.cdelt * (np.arange(self.shape[0]) + 1 - self.crpix)) * self.wave_scale


def _decompress(path: Path, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / (path.name[:-3] if path.name.endswith(".gz") else path.name)
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        try:
            with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except (OSError, EOFError) as exc:
            tmp.unlink(missing_ok=True)
            raise InputError(f"CUBE: {path} cannot be decompressed ({exc}); the file is truncated or not gzip") from None
        tmp.rename(target)
    return target


def _find_3d(hdul, names):
    for name in names:
        if name in hdul and getattr(hdul[name], "is_image", False) and hdul[name].header.get("NAXIS") == 3:
            return hdul.index_of(name)
    return None


def open_cube(path, var_path=None, redshift=None, workdir=None) -> CubeSpec:
    """Validate a MUSE-format cube and describe it (see :class:`CubeSpec`).

    Accepts DATA + STAT (+ DQ) extensions, or a single 3-D extension with ``var_path`` (a FITS
    file with the variance cube), or none (noise is then estimated; flag FLAG_NO_STAT).
    ``.gz`` files are decompressed into ``workdir`` first so that they can be memory-mapped.
    """
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    if not path.is_file():
        raise InputError(f"CUBE: {path} does not exist")
    if path.name.endswith(".gz"):
        path = _decompress(path, Path(workdir) if workdir else path.parent / ".sim2sky_tmp")
    try:
        hdul = fits.open(path, memmap=True)
        hdul.verify("silentfix")
        _ = [h.header for h in hdul]
    except (OSError, ValueError, fits.VerifyError) as exc:
        raise InputError(f"CUBE: {path.name} is not a readable FITS file ({exc})") from None
    with hdul:
        data_ext = _find_3d(hdul, ["DATA", "SCI"])
        if data_ext is None:
            data_ext = next((i for i, h in enumerate(hdul) if getattr(h, "is_image", False) and h.header.get("NAXIS") == 3), None)
        if data_ext is None:
            dims = [h.header.get("NAXIS", 0) for h in hdul]
            raise InputError(f"CUBE: {path.name} has no 3-D image extension (NAXIS per HDU: {dims}); "
                             "a 2-D image is not a cube — pass a (wavelength, y, x) cube")
        h = hdul[data_ext].header
        shape = tuple(h[f"NAXIS{i}"] for i in (3, 2, 1))
        nbytes = int(np.prod(shape)) * abs(h["BITPIX"]) // 8
        start = hdul.fileinfo(data_ext)["datLoc"]
        if start + nbytes > path.stat().st_size:
            raise InputError(f"CUBE: {path.name} is truncated: the DATA extension needs {nbytes} bytes, "
                             f"the file ends {start + nbytes - path.stat().st_size} bytes early")
        ctype3 = str(h.get("CTYPE3", "")).strip().upper()
        if not ctype3:
            raise InputError(f"CUBE: {path.name} has no spectral WCS (CTYPE3 missing); expected CTYPE3 = 'AWAV' or 'WAVE'")
        if not ctype3.startswith(("AWAV", "WAVE")):
            raise InputError(f"CUBE: spectral axis CTYPE3 = {ctype3!r}; expected a wavelength axis 'AWAV' or 'WAVE'")
        unit = str(h.get("CUNIT3", "")).strip().lower()
        if unit not in _UNIT_TO_ANGSTROM:
            raise InputError(f"CUBE: spectral unit CUNIT3 = {h.get('CUNIT3')!r} is not a wavelength unit; "
                             "expected Angstrom, nm, um or m (set CUNIT3 in the header)")
        cdelt = h.get("CD3_3", h.get("CDELT3"))
        if cdelt is None or "CRVAL3" not in h:
            raise InputError("CUBE: the spectral WCS needs CRVAL3 and CD3_3 (or CDELT3)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                cel = WCS(h).celestial
            except Exception as exc:  # astropy raises several types for broken WCS
                raise InputError(f"CUBE: the header's WCS cannot be parsed ({exc})") from None
        if not cel.has_celestial:
            raise InputError(f"CUBE: {path.name} has no celestial WCS (CTYPE1/CTYPE2); maps could not be placed on the sky")
        if redshift is None:
            for key in ("Z_SYS", "REDSHIFT", "Z"):
                for hh in (hdul[0].header, h):
                    if key in hh and isinstance(hh[key], (int, float)):
                        redshift = float(hh[key])
                        break
                if redshift is not None:
                    break
        if redshift is None:
            raise InputError("--redshift: the header has no Z_SYS/REDSHIFT keyword; give the systemic redshift with --redshift")
        if not (-0.01 < redshift < 0.5):
            raise InputError(f"--redshift: {redshift} is outside the range the line set supports (-0.01 to 0.5)")
        stat_ext = _find_3d(hdul, ["STAT", "VAR", "VARIANCE", "ERR_VAR"])
        dq_ext = _find_3d(hdul, ["DQ"])
        for ext, what in ((stat_ext, "STAT"), (dq_ext, "DQ")):
            if ext is not None and tuple(hdul[ext].header[f"NAXIS{i}"] for i in (3, 2, 1)) != shape:
                raise InputError(f"CUBE: the {what} extension's shape differs from DATA {shape}")
        spec = CubeSpec(str(path), data_ext, stat_ext, dq_ext, None, None, shape, float(h["CRVAL3"]), float(cdelt),
                        float(h.get("CRPIX3", 1.0)), _UNIT_TO_ANGSTROM[unit], float(redshift),
                        cel.to_header().tostring())
    if var_path is not None:
        var_path = Path(var_path)
        if not var_path.is_file():
            raise InputError(f"--var: {var_path} does not exist")
        if var_path.name.endswith(".gz"):
            var_path = _decompress(var_path, Path(workdir) if workdir else var_path.parent / ".sim2sky_tmp")
        with fits.open(var_path, memmap=True) as vh:
            ext = _find_3d(vh, ["STAT", "VAR", "VARIANCE"])
            if ext is None:
                ext = next((i for i, x in enumerate(vh) if getattr(x, "is_image", False) and x.header.get("NAXIS") == 3), None)
            if ext is None or tuple(vh[ext].header[f"NAXIS{i}"] for i in (3, 2, 1)) != shape:
                raise InputError(f"--var: {var_path.name} has no 3-D variance of shape {shape}")
        spec = CubeSpec(**{**asdict(spec), "var_path": str(var_path), "var_ext": ext})
    wave = spec.wave
    ha = LINE_WAVES[line_index("HA6563")] * (1 + spec.redshift)
    if not (wave[0] + 30 < ha < wave[-1] - 30):
        raise InputError(f"CUBE: the wavelength range {wave[0]:.0f}-{wave[-1]:.0f} Å does not contain Hα at "
                         f"z = {spec.redshift} ({ha:.0f} Å); check --redshift and CUNIT3")
    return spec


_PIPELINES: dict = {}
CUBE_POSTERIOR_SAMPLES = 32    # per HII spaxel: mean/std to ~12% (relative) of the std; the flow dominates run time


def _pipeline(model_dir):
    from ..apply.nebulae import NebulaPipeline

    key = str(model_dir)
    if key not in _PIPELINES:
        _PIPELINES[key] = NebulaPipeline(model_dir, num_samples=CUBE_POSTERIOR_SAMPLES)
    return _PIPELINES[key]


def _runs(idx: np.ndarray) -> list[slice]:
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts, ends = np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]] + 1
    return [slice(int(a), int(b)) for a, b in zip(starts, ends)]


def _read_block(spec: CubeSpec, ys: slice, xs: slice):
    """Spectra (n, c) of a spatial block, only at the channels the line measurement uses.

    Returns ``(flux, var or None, wave (c,), (by, bx))``; DQ-flagged pixels become NaN.
    """
    from astropy.io import fits

    from ..measure.lines import needed_channels

    wave = spec.wave
    runs = _runs(needed_channels(wave, spec.redshift))

    def read(hdu):
        return np.concatenate([np.asarray(hdu.data[r, ys, xs], np.float32) for r in runs])

    with fits.open(spec.path, memmap=True) as h:
        data = read(h[spec.data_ext])
        var = read(h[spec.stat_ext]) if spec.stat_ext is not None else None
        if spec.dq_ext is not None:
            dq = np.concatenate([np.asarray(h[spec.dq_ext].data[r, ys, xs]) for r in runs])
            if dq.any():
                data[dq != 0] = np.nan
    if spec.var_path is not None:
        with fits.open(spec.var_path, memmap=True) as vh:
            var = read(vh[spec.var_ext])
    c, by, bx = data.shape
    flux = np.ascontiguousarray(data.reshape(c, -1).T)
    var = np.ascontiguousarray(var.reshape(c, -1).T) if var is not None else None
    return flux, var, np.concatenate([wave[r] for r in runs]), (by, bx)


def process_block(spec: CubeSpec, ys: slice, xs: slice, model_dir=None, seed: int = 0) -> np.ndarray:
    """All output planes (n_planes, by, bx) float32 for one spatial block."""
    import torch

    from ..learn.features import measured_to_table

    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    flux, var, wave, (by, bx) = _read_block(spec, ys, xs)
    n = len(flux)
    pipe = _pipeline(model_dir)
    # one BLAS thread per block: dask supplies the parallelism, and results are then bitwise
    # identical whatever the scheduler (threads here, processes on a cluster)
    with threadpool_limits(1):
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
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar(minimum=1.0):
            return arr.compute(scheduler="threads", num_workers=min(2, os.cpu_count() or 1))
    return dask.compute(arr, scheduler="threads", num_workers=min(2, os.cpu_count() or 1))[0]


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
    from ..learn.features import line_features, measured_to_table

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        spec = open_cube(cube, redshift=redshift, workdir=workdir or tmp)
        L, ny, nx = spec.shape
        feats = []
        for y0 in range(0, ny, 32):
            flux, var, wave, _ = _read_block(spec, slice(y0, min(ny, y0 + 32)), slice(0, nx))
            m = measure_lines(flux, var, wave, z=spec.redshift)
            x, valid = line_features(measured_to_table(m), len(flux))
            feats.append(x[valid & (m["snr_halpha"] >= min_snr)])
    return np.concatenate(feats)
