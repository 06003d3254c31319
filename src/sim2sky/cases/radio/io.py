"""Read radio cutouts for the classifier, in chunks, with their pixel scale, beam and position.

Accepted: one or many 2-D FITS cutouts with a celestial WCS (beam from BMAJ/BMIN, else from the
``SURVEY`` keyword, else ``beam=``); a stacked 3-D FITS image (n, ny, nx) with CDELT1/CDELT2 and
BMAJ/BMIN in degrees; an ``.npz`` with ``images`` (then ``pixel_scale`` and ``beam`` are needed,
and optional ``ra``/``dec`` arrays are kept); in Python also arrays, Quantities, NDData and
``(array, WCS)``. Degenerate axes (radio images' length-1 FREQ and STOKES) are dropped; a
spectral cube is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from ...core.errors import InputError
from .schema import SURVEYS

__all__ = ["Cutouts", "read_cutouts", "iter_chunks"]

_SPECTRAL = ("FREQ", "VRAD", "VOPT", "VELO", "WAVE", "ZOPT", "FELO", "AWAV", "ENER")


@dataclass
class Cutouts:
    """Cutouts of one pixel scale and beam: ``images`` (n, ny, nx) (an array, or a stack read by
    sections), ``pixel`` (y, x) [arcsec], ``beam`` [arcsec], ``ra``/``dec`` (n,) [deg] (NaN without
    a WCS), ``source`` (n,) names."""

    images: object
    pixel: tuple
    beam: float
    ra: np.ndarray
    dec: np.ndarray
    source: np.ndarray


def _positive(value, name: str):
    if value is not None and (not np.isfinite(value) or value <= 0):
        raise InputError(f"{name}: expected a positive number of arcsec, got {value}")
    return value


def _beam_of(header, beam, name: str) -> float:
    if beam is not None:                     # the user's --beam overrides the header
        return float(beam)
    if header.get("BMAJ") is not None:
        bmaj = float(header["BMAJ"]) * 3600
        bmin = float(header.get("BMIN", header["BMAJ"])) * 3600
        return float(np.sqrt(bmaj * bmin))
    survey = str(header.get("SURVEY", "")).strip().upper()
    if survey in SURVEYS:
        return SURVEYS[survey].beam_arcsec
    raise InputError(f"INPUT: {name} has no BMAJ/BMIN and no known SURVEY keyword; give --beam ARCSEC")


def _squeeze(hdu, header, name: str):
    naxis = int(header.get("NAXIS", 0))
    keep = []
    for ax in range(naxis, 0, -1):           # numpy axis order is NAXISn ... NAXIS1
        length = int(header.get(f"NAXIS{ax}", 1))
        ctype = str(header.get(f"CTYPE{ax}", "")).upper()
        if ax > 2 and length == 1:
            continue
        if ax > 2 and (ctype.startswith(_SPECTRAL) or ctype.startswith("STOKES")):
            raise InputError(f"INPUT: {name} is a spectral cube ({ctype.strip()} axis of {length}); expected a 2-D "
                             "image or a stack of images (use 'sim2sky hicubes predict' for HI cubes)")
        keep.append(ax)
    shape = tuple(int(header.get(f"NAXIS{ax}", 1)) for ax in keep)
    if len(shape) == 3 and naxis == 3:        # streamed through hdu.section: the data are never touched
        data = _Section(hdu, shape)
    else:
        data = hdu.data.reshape(shape)
    if data.ndim == 1:
        raise InputError(f"INPUT: {name} is 1-D (shape {data.shape}); expected an image (ny, nx) or a stack (n, ny, nx)")
    if data.ndim > 3:
        raise InputError(f"INPUT: {name} has shape {data.shape}; expected (ny, nx) or (n, ny, nx)")
    return data


def _fits(path: Path, pixel_scale, beam) -> Cutouts:
    try:
        hdul = fits.open(path, memmap=False)      # a stack is read by sections: never mapped whole
        hdu = next((h for h in hdul if getattr(h, "is_image", False) and h.header.get("NAXIS", 0) > 0), None)
    except (OSError, ValueError) as exc:
        raise InputError(f"INPUT: {path.name} is not a readable FITS file ({exc})") from None
    if hdu is None:
        raise InputError(f"INPUT: {path.name} has no image data")
    header = hdu.header
    data = _squeeze(hdu, header, path.name)
    if data.ndim == 3:                                   # a stack: CDELT in degrees, no per-image WCS
        if pixel_scale is None and header.get("CDELT1") is None:
            raise InputError(f"INPUT: {path.name} (a stack of {data.shape[0]} images) has no CDELT1/CDELT2; "
                             "give --pixel-scale ARCSEC")
        pix = (float(pixel_scale),) * 2 if pixel_scale is not None else (
            abs(float(header.get("CDELT2", header["CDELT1"]))) * 3600, abs(float(header["CDELT1"])) * 3600)
        n = data.shape[0]
        ra = dec = np.full(n, np.nan)
        if "POSITIONS" in hdul and len(hdul["POSITIONS"].data) == n:      # as 'radio simulate' writes them
            ra, dec = np.asarray(hdul["POSITIONS"].data["RA"], float), np.asarray(hdul["POSITIONS"].data["DEC"], float)
        return Cutouts(data, pix, _beam_of(header, beam, path.name), ra, dec,
                       np.array([f"{path.name}[{k}]" for k in range(n)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    if pixel_scale is not None:
        pix = (float(pixel_scale),) * 2
    elif wcs.has_celestial:
        scales = wcs.proj_plane_pixel_scales()
        pix = (abs(scales[1].to_value("arcsec")), abs(scales[0].to_value("arcsec")))
    else:
        raise InputError(f"INPUT: {path.name} has no celestial WCS; give --pixel-scale ARCSEC")
    ra = dec = np.nan
    if wcs.has_celestial:
        ra, dec = (float(v) for v in wcs.wcs_pix2world((data.shape[1] - 1) / 2, (data.shape[0] - 1) / 2, 0))
    return Cutouts(data[None], pix, _beam_of(header, beam, path.name), np.array([ra]), np.array([dec]),
                   np.array([path.name]))


class _Section:
    """A stacked image read by blocks through ``hdu.section``: the resident memory of a run stays
    that of one chunk however large the file (a memory map would keep every page it touched)."""

    def __init__(self, hdu, shape):
        self.hdu, self.shape, self.ndim = hdu, tuple(shape), len(shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, item):
        return np.asarray(self.hdu.section[item])


def _npz(path: Path, pixel_scale, beam) -> Cutouts:
    try:
        z = np.load(path, allow_pickle=False)
        images = np.asarray(z["images"])
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"INPUT: {path.name} is not an .npz with an 'images' array ({exc})") from None
    if pixel_scale is None or beam is None:
        raise InputError(f"INPUT: {path.name} is an .npz: give --pixel-scale ARCSEC and --beam ARCSEC")
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise InputError(f"INPUT: {path.name} 'images' has shape {images.shape}; expected (n, ny, nx)")
    n = len(images)
    ra = np.asarray(z["ra"], float) if "ra" in z.files else np.full(n, np.nan)
    dec = np.asarray(z["dec"], float) if "dec" in z.files else np.full(n, np.nan)
    return Cutouts(images, (float(pixel_scale),) * 2, float(beam), ra, dec,
                   np.array([f"{path.name}[{k}]" for k in range(n)]))


def _array(data, pixel_scale, beam) -> Cutouts:
    wcs = None
    if isinstance(data, tuple) and len(data) == 2:
        data, wcs = data
    elif hasattr(data, "data") and hasattr(data, "wcs"):          # NDData, CCDData
        wcs, meta = data.wcs, dict(getattr(data, "meta", {}) or {})
        if beam is None and meta.get("BMAJ") is not None:
            beam = float(np.sqrt(float(meta["BMAJ"]) * float(meta.get("BMIN", meta["BMAJ"])))) * 3600
        data = data.data
    images = np.asarray(getattr(data, "value", data), np.float32)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise InputError(f"data: expected an image (ny, nx) or a stack (n, ny, nx), got shape {images.shape}")
    if pixel_scale is None and wcs is not None and wcs.has_celestial:
        pixel_scale = float(np.mean(np.abs(wcs.celestial.proj_plane_pixel_scales())).to_value("arcsec"))
    if pixel_scale is None or beam is None:
        raise InputError("data: arrays need pixel_scale= and beam= [arcsec] (or an NDData/(array, WCS) with "
                         "a celestial WCS, and beam=)")
    n = len(images)
    ra = dec = np.full(n, np.nan)
    if wcs is not None and wcs.has_celestial and n == 1:
        r, d = wcs.celestial.wcs_pix2world((images.shape[2] - 1) / 2, (images.shape[1] - 1) / 2, 0)
        ra, dec = np.array([float(r)]), np.array([float(d)])
    return Cutouts(images, (float(pixel_scale),) * 2, float(beam), ra, dec,
                   np.array([f"image[{k}]" for k in range(n)]))


def read_cutouts(inputs, pixel_scale=None, beam=None) -> list[Cutouts]:
    """The user's inputs as groups of cutouts, in input order."""
    _positive(pixel_scale, "--pixel-scale")
    _positive(beam, "--beam")
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if not (isinstance(inputs, (list, tuple)) and inputs and all(isinstance(v, (str, Path)) for v in inputs)):
        return [_array(inputs, pixel_scale, beam)]
    groups = []
    for item in inputs:
        path = Path(item)
        if not path.is_file():
            raise InputError(f"INPUT: {path} does not exist")
        suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
        if suffix in (".fits", ".fit", ".fts", ".fits.gz"):
            g = _fits(path, pixel_scale, beam)
        elif suffix == ".npz":
            g = _npz(path, pixel_scale, beam)
        else:
            raise InputError(f"INPUT: {path.name}: expected FITS cutouts, a stacked FITS image or an .npz")
        if min(g.images.shape[1:]) < 8:
            raise InputError(f"INPUT: {path.name} images are {g.images.shape[1:]} pixels; expected at least 8 x 8")
        groups.append(g)
    return groups


def iter_chunks(groups: list[Cutouts], chunk: int = 2048):
    """``(images (m, ny, nx) float32, pixel, beam, rows)`` chunks, consecutive single cutouts of the
    same shape, pixel and beam stacked together; ``rows`` index into the concatenated metadata."""
    start, pending, key = 0, [], None

    def flush():
        return np.stack(pending), key[1], key[2], np.arange(start - len(pending), start)

    for g in groups:
        n = len(g.images)
        this = (g.images.shape[1:], g.pixel, g.beam)
        if pending and (n > 1 or this != key or len(pending) == chunk):
            yield flush()
            pending = []
        if n == 1:
            pending.append(np.asarray(g.images[0], np.float32))
            key, start = this, start + 1
            continue
        for i in range(0, n, chunk):
            m = min(chunk, n - i)
            yield np.asarray(g.images[i:i + m], np.float32), g.pixel, g.beam, np.arange(start + i, start + i + m)
        start += n
    if pending:
        yield flush()
