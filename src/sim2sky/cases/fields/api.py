"""Fields from the command line: simulate to files, read them back (what ``sim2sky simulate fields`` runs).

A field file holds ``theta`` (n, d), ``x`` (n, *grid) and ``theta_names``, plus metadata
(kind, dim, size, box, depth, noise, seed, unit), as ``.npz``, HDF5 (``.h5``) or FITS (image
HDU ``X`` + table HDU ``THETA`` + header keywords). All three are read by ``sim2sky npe train``
and ``sim2sky emulate train``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ...core.atomic import atomic_file, save_npz
from ...core.errors import InputError
from ...core.extras import require
from ...core.progress import progress as progress_bar
from ...core.tables import read_arrays, table_suffix
from .schema import REION_KINDS, kind_spec
from .cross import twentyonecmfast_fields
from .forward import gaussian_fields, lognormal_fields, reion21cm_fields

__all__ = ["simulate_fields", "simulate_block", "write_fields", "read_fields", "simulate_fields_file", "FIELD_SUFFIXES"]

FIELD_SUFFIXES = (".npz", ".h5", ".hdf5", ".fits")


_BLOCK = 512     # fields per independently seeded block (the unit of work on a dask cluster)


def simulate_block(kind, theta, size, dim, box, depth, noise, wedge, seed, start) -> np.ndarray:
    """Fields (m, *(size,)*dim) for parameter rows ``theta`` (m, p) that start at row ``start``.

    Seeded by ``(seed, start)`` only, so any split of the rows over processes or machines gives
    the same fields.
    """
    sub = np.random.default_rng([seed, start])
    if kind == "gaussian":
        return gaussian_fields(theta, size, dim, box, depth, noise, sub)
    if kind == "lognormal":
        return lognormal_fields(theta, size, dim, box, depth, noise, sub)
    if kind == "21cmfast":
        return twentyonecmfast_fields(theta, size, box, noise, wedge, rng=sub)
    return reion21cm_fields(theta, size, box, noise, wedge, rng=sub)


def simulate_fields(kind: str, n: int, size: int | None = None, dim: int | None = None, box: float | None = None,
                    depth: float = 20.0, noise: float = 0.0, wedge: float | None = None, seed: int = 0,
                    theta=None, progress: bool = False, scheduler: str | None = None) -> dict:
    """Draw parameters from the kind's box prior (or take ``theta``) and simulate ``n`` fields.

    Returns ``{"theta", "x", "theta_names", "meta"}``; ``x`` is float32 of shape ``(n, *(size,) * dim)``.
    ``noise`` is the white-noise rms per pixel (density contrast; mK for ``reion21cm``).
    ``scheduler``: a dask.distributed scheduler address; blocks of 512 fields are simulated on
    its workers, giving exactly the fields of a local run.
    """
    spec = kind_spec(kind)
    dim = int(dim or spec.dims[-1] if kind in REION_KINDS else dim or spec.dims[0])
    if dim not in spec.dims:
        raise InputError(f"--dim: {kind} fields come in {', '.join(map(str, spec.dims))} dimensions, not {dim}")
    size = int(size or spec.size[dim])
    box = float(box or spec.box[dim])
    if size < 8 or size % 2:
        raise InputError(f"--size must be an even number of pixels >= 8, got {size}")
    if n < 1:
        raise InputError(f"--n must be positive, got {n}")
    if noise < 0:
        raise InputError(f"--noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    low, high = np.array(spec.low), np.array(spec.high)
    if theta is None:
        theta = low + (high - low) * rng.random((n, len(low)))
    theta = np.atleast_2d(np.asarray(theta, float))
    if theta.shape[1] != len(low):
        raise InputError(f"theta must have {len(low)} columns ({', '.join(spec.parameters)}), got {theta.shape[1]}")
    x = np.empty((len(theta),) + (size,) * dim, np.float32)
    starts = list(range(0, len(theta), _BLOCK))
    args = (size, dim, box, depth, noise, wedge, seed)
    if scheduler:
        from distributed import Client  # distributed (~1 s) only with --scheduler

        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler: cannot connect to {scheduler} ({exc})") from None
        try:
            futures = [client.submit(simulate_block, kind, theta[i:i + _BLOCK], *args, i, pure=False) for i in starts]
            for i, part in zip(starts, client.gather(futures)):
                x[i:i + _BLOCK] = part
        finally:
            client.close()
    else:
        with progress_bar(len(theta), f"simulating {kind} fields", progress) as bar:
            for i in starts:
                x[i:i + _BLOCK] = simulate_block(kind, theta[i:i + _BLOCK], *args, i)
                bar.advance(len(theta[i:i + _BLOCK]))
    meta = {"kind": kind, "dim": dim, "size": size, "box": box, "depth": depth if dim == 2 else None,
            "noise": noise, "wedge": wedge, "seed": seed, "unit": spec.field_unit,
            "bounds": {"low": low.tolist(), "high": high.tolist()}, "units": list(spec.units)}
    return {"theta": theta.astype(np.float32), "x": x, "theta_names": list(spec.parameters), "meta": meta}


def write_fields(out, result: dict) -> Path:
    """Write a :func:`simulate_fields` result to ``.npz``, ``.h5`` or ``.fits`` atomically."""
    out = Path(out)
    suffix = table_suffix(out)
    if suffix not in FIELD_SUFFIXES:
        raise InputError(f"--out: {out.name} must end in {', '.join(FIELD_SUFFIXES)}")
    meta = json.dumps(result["meta"])
    names = np.array(result["theta_names"])
    if suffix == ".npz":
        return save_npz(out, theta=result["theta"], x=result["x"], theta_names=names, meta=np.array(meta))
    with atomic_file(out, suffix=suffix) as tmp:
        if suffix in (".h5", ".hdf5"):
            h5py = require("h5py")

            with h5py.File(tmp, "w") as fh:
                fh.create_dataset("theta", data=result["theta"])
                fh.create_dataset("x", data=result["x"], chunks=(1, *result["x"].shape[1:]), compression="gzip")
                fh.create_dataset("theta_names", data=names.astype("S"))
                fh.attrs["meta"] = meta
        else:

            image = fits.ImageHDU(result["x"], name="X")
            m = result["meta"]
            image.header["KIND"], image.header["BOXSIZE"] = m["kind"], (m["box"], "box side [Mpc/h]")
            image.header["BUNIT"] = m["unit"] or "1"
            image.header["NOISE"] = (m["noise"], "white-noise rms per pixel")
            theta = Table(result["theta"], names=result["theta_names"])
            hdul = fits.HDUList([fits.PrimaryHDU(), image, fits.table_to_hdu(theta)])
            hdul[2].name = "THETA"
            hdul.writeto(tmp, overwrite=True)
    return out


def read_fields(path) -> dict:
    """Read a field file: ``{"theta", "x", "theta_names"}`` (x float32 (n, *grid))."""
    arrays, names = read_arrays(path, ("theta", "x"), {})
    x = np.asarray(arrays["x"], np.float32)
    if x.ndim not in (3, 4):
        raise InputError(f"{Path(path).name}: x has shape {x.shape}; field files hold maps (n, H, W) or cubes "
                         f"(n, D, H, W)")
    theta = np.asarray(arrays["theta"], np.float32)
    if len(theta) != len(x):
        raise InputError(f"{Path(path).name}: theta has {len(theta)} rows but x has {len(x)} fields")
    return {"theta": theta, "x": x, "theta_names": names["theta"] or [f"theta_{i}" for i in range(theta.shape[1])]}


def simulate_fields_file(kind: str, n: int, out, bounds_out=None, progress: bool = False, **options) -> dict:
    """Simulate and write a field file (and the box prior as JSON with ``bounds_out``)."""
    result = simulate_fields(kind, n, progress=progress, **options)
    write_fields(out, result)
    if bounds_out is not None:
        with atomic_file(bounds_out) as tmp:
            tmp.write_text(json.dumps(result["meta"]["bounds"]))
    return result
