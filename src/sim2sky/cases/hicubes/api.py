"""File-level API of the HI-cube case: simulate a mock cube to FITS, with its truth catalogue."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ...core.atomic import atomic_file
from ...core.errors import InputError
from ...core.tables import write_table
from .schema import INSTRUMENT, UNITS
from .forward import simulate_cube

__all__ = ["simulate_hicube_file", "truth_table"]


def truth_table(truth: dict):
    """The truth catalogue as an astropy Table with units in the column metadata."""

    table = Table({k: np.asarray(v) for k, v in truth.items()})
    for k, unit in UNITS.items():
        if k in table.colnames:
            table[k].unit = unit if unit not in ("pix", "chan") else None
    return table


def simulate_hicube_file(out, n_sources: int = 100, shape=(128, 192, 192), seed: int = 0, noise_jy: float | None = None,
                         artefacts: bool = True, truth_out=None, mask_out=None) -> dict:
    """Write a mock HI cube ``out`` (.fits: DATA extension in Jy/beam with WCS and beam) and its truth.

    ``truth_out`` (default ``<out stem>_truth.csv``; .csv/.ecsv/.fits) gets the catalogue,
    ``mask_out`` (optional .fits) the truth source-id cube. Returns a small summary.
    """
    out = Path(out)
    if out.suffix.lower() != ".fits":
        raise InputError(f"--out: {out.name} must end in .fits")
    if n_sources < 0:
        raise InputError(f"--n-sources must be >= 0, got {n_sources}")
    if len(shape) != 3:
        raise InputError(f"--shape: expected three sizes (channels, y, x), got {shape}")
    inst = INSTRUMENT if noise_jy is None else replace(INSTRUMENT, noise_jy=float(noise_jy))
    if inst.noise_jy <= 0:
        raise InputError(f"--noise must be > 0 Jy/beam, got {inst.noise_jy}")
    cube, labels, truth, header = simulate_cube(n_sources, tuple(shape), inst, seed, artefacts)
    header["EXTNAME"] = "DATA"
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube, header=header, name="DATA")])
    with atomic_file(out) as tmp:
        hdul.writeto(tmp, overwrite=True)
    truth_out = Path(truth_out) if truth_out else out.with_name(out.stem + "_truth.csv")
    write_table(truth_table(truth), truth_out)
    if mask_out:
        with atomic_file(Path(mask_out)) as tmp:
            fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(labels, header=header, name="MASK")]).writeto(tmp, overwrite=True)
    return {"cube": str(out), "truth": str(truth_out), "sources": int(n_sources), "shape": list(cube.shape),
            "noise_jy": inst.noise_jy, "median_snr": float(np.median(truth["snr"])) if n_sources else None}
