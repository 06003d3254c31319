"""File-level API of the deblending case: simulate blends, deblend a FITS image (catalogue + segmentation, WCS kept)."""

from __future__ import annotations

import json
import time
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable
from astropy.table import Table
from astropy.wcs import WCS, FITSFixedWarning

from ...core.atomic import atomic_file, save_npz, write_text
from ...core.errors import InputError
from ...core.contract import qtable, sky_positions
from ...core.tables import write_table
from ...core.units import parse_unit
from ...learn import Segmenter
from .deblender import deblend_image
from .measure import adaptive_shapes
from .schema import SURVEY
from .forward import simulate_blends, simulate_field

__all__ = ["load_models", "simulate_blends_file", "read_image", "deblend", "catalogue_table", "deblend_image_file"]


@lru_cache(maxsize=4)
def load_models(detector: str | None = None, fractions: str | None = None) -> tuple[Segmenter, Segmenter]:
    """The shipped (or given) centre detector and flux-fraction networks."""
    root = Path(str(resources.files("sim2sky.cases.blends") / "models"))
    return Segmenter.load(detector or root / "detector"), Segmenter.load(fractions or root / "fractions")


def simulate_blends_file(out, n: int = 1000, seed: int = 0, n_galaxies: int = 100, size: int = 512,
                         truth_out=None) -> dict:
    """``.npz``: ``n`` blend stamps (images, isolated, truth arrays); ``.fits``: a ``size``^2 survey
    field with ``n_galaxies`` (half in close pairs) and its truth table (``truth_out``, default
    ``<stem>_truth.csv``)."""

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        if n < 1:
            raise InputError(f"--n must be >= 1, got {n}")
        images, isolated, truth = simulate_blends(n, seed=seed)
        save_npz(out, images=images, isolated=isolated, **{f"truth_{k}": np.asarray(v) for k, v in truth.items()})
        return {"out": str(out), "stamps": n}
    if suffix != ".fits":
        raise InputError(f"--out: {out.name} must end in .npz (training stamps) or .fits (a survey field)")
    if n_galaxies < 1:
        raise InputError(f"--n-galaxies must be >= 1, got {n_galaxies}")
    image, truth, header = simulate_field(n_galaxies, (size, size), seed)
    with atomic_file(out) as tmp:
        fits.PrimaryHDU(image, header=header).writeto(tmp, overwrite=True)
    truth_out = Path(truth_out) if truth_out else out.with_name(out.stem + "_truth.csv")
    write_table(Table({k: np.asarray(v) for k, v in truth.items()}), truth_out)
    return {"out": str(out), "truth": str(truth_out), "galaxies": n_galaxies, "shape": [size, size]}


def read_image(path, hdu=None):
    """``(image float32 (y, x), header)`` of the first 2-D image HDU (or ``hdu``), validated."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"IMAGE: {path} does not exist")
    try:
        with fits.open(path, memmap=False) as hdul:
            if hdu is not None:
                if hdu not in hdul:
                    names = [h.name for h in hdul]
                    raise InputError(f"--hdu: {path.name} has no HDU {hdu!r} (it has {names})")
                h = hdul[hdu]
            else:
                h = next((x for x in hdul if getattr(x, "is_image", False) and x.data is not None), None)
                if h is None:
                    raise InputError(f"IMAGE: {path.name} has no image data")
            data = np.asarray(h.data, np.float32)
            header = h.header.copy()
    except (OSError, ValueError) as exc:
        raise InputError(f"IMAGE: {path.name} is not a readable FITS image ({exc})") from None
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise InputError(f"IMAGE: expected a 2-D image, got shape {data.shape}; for cubes use 'sim2sky detect cube'")
    if min(data.shape) < 16:
        raise InputError(f"IMAGE: {data.shape} is too small (at least 16 x 16 pixels)")
    if not np.isfinite(data).any():
        raise InputError("IMAGE: every pixel is NaN")
    if np.isinf(data).any():
        raise InputError(f"IMAGE: {path.name} has {int(np.isinf(data).sum())} infinite pixels; expected finite values, "
                         "or NaN for masked pixels")
    return data, header


def deblend(image, noise=None, models=None, threshold: float = 0.8, zero_point=None) -> dict:
    """Catalogue columns (dict of (n,) arrays) and segmentation map of an image in counts."""
    detector, fractions = models or load_models()
    res = deblend_image(image, detector, fractions, noise=noise, threshold=threshold)
    data = np.nan_to_num(np.asarray(image, np.float32))
    stamp = res["fractions"].shape[-1] if len(res["x"]) else 0
    pad = np.pad(data, ((0, max(0, stamp - data.shape[0])), (0, max(0, stamp - data.shape[1]))))
    stamps = np.array([res["fractions"][k] * pad[y:y + stamp, x:x + stamp]
                       for k, (x, y) in enumerate(zip(res["x0"], res["y0"]))]) if stamp else np.zeros((0, 1, 1))
    shapes = adaptive_shapes(stamps) if len(stamps) else np.zeros((0, 2))
    cat = {"x": res["x"], "y": res["y"], "flux": res["flux"], "flux_err": res["flux_err"], "e1": shapes[:, 0],
           "e2": shapes[:, 1], "score": res["score"]}
    if zero_point is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            cat["mag"] = np.where(res["flux"] > 0, zero_point - 2.5 * np.log10(res["flux"]), np.nan)
    return {"catalogue": cat, "segmentation": res["segmentation"], "noise": res["noise"]}


def catalogue_table(cat: dict, wcs=None) -> QTable:
    """A deblended catalogue (dict of (n,) arrays from :func:`deblend`) as a QTable: ``id``, ``x``,
    ``y`` [pix], ``flux``, ``flux_err`` [count], ``e1``, ``e2``, ``score``, ``mag`` [mag] when a
    zero point was given, and ``ra``/``dec`` [deg] from the image's celestial ``wcs`` (NaN without)."""
    n = len(cat["x"])
    cols = {"id": np.arange(1, n + 1), **{k: np.asarray(v, float) for k, v in cat.items()}}
    cols["ra"], cols["dec"] = sky_positions(wcs, cols["x"], cols["y"])
    return qtable(cols, {"x": "pix", "y": "pix", "flux": "count", "flux_err": "count", "mag": "mag", "ra": "deg",
                         "dec": "deg"})


def deblend_image_file(image, out_dir, hdu=None, noise: float | None = None, threshold: float = 0.8) -> dict:
    """Deblend a FITS image; write ``catalogue.fits``/``.csv``, ``segmentation.fits`` (WCS kept), ``summary.json``."""

    t0 = time.perf_counter()
    data, header = read_image(image, hdu)
    if noise is not None and noise <= 0:
        raise InputError(f"--noise must be > 0, got {noise}")
    if not 0 < threshold < 1:
        raise InputError(f"--threshold must lie in (0, 1), got {threshold}")
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    if not wcs.has_celestial:
        notes.append("no celestial WCS in the header: ra/dec are NaN, pixel positions only")
    bunit = str(header.get("BUNIT", "")).strip()
    if bunit and parse_unit(bunit) is None:
        notes.append(f"BUNIT = {bunit!r} is not a unit astropy can read: fluxes are in the image's own units")
    pixel = abs(wcs.proj_plane_pixel_scales()[1].to_value("arcsec")) if wcs.has_celestial else None
    if pixel is not None and abs(pixel / SURVEY.pixel_arcsec - 1) > 0.2:
        notes.append(f"pixel scale {pixel:.3f} arcsec differs from the networks' training (0.2 arcsec): "
                     "retrain with 'tools/train_blend_models.py' for this survey")
    zp = header.get("MAGZP", header.get("ZEROPT"))
    res = deblend(data, noise, threshold=threshold, zero_point=float(zp) if zp is not None else None)
    cat = res["catalogue"]
    n = len(cat["x"])
    table = catalogue_table(cat, wcs if wcs.has_celestial else None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(table, out_dir / "catalogue.fits")
    write_table(table, out_dir / "catalogue.csv")
    seg_header = wcs.to_header() if wcs.has_celestial else fits.Header()
    seg_header["BUNIT"] = ""
    with atomic_file(out_dir / "segmentation.fits") as tmp:
        fits.PrimaryHDU(res["segmentation"], header=seg_header).writeto(tmp, overwrite=True)
    summary = {"image": str(image), "shape": list(data.shape), "sources": n, "noise": res["noise"], "notes": notes,
               "nan_pixels": int((~np.isfinite(data)).sum()), "wall_time_s": round(time.perf_counter() - t0, 3)}
    write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary
