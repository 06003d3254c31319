"""What the HI-cube case accepts in memory or from disk: a cube in Jy/beam with its WCS, and the
instrument (pixel, beam, channel) read from that WCS."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from ...core.contract import Dataset
from ...core.errors import InputError
from .schema import INSTRUMENT, Instrument

__all__ = ["read_cube", "wcs_instrument"]


def read_cube(data):
    """``(cube (c, y, x) float32 Jy/beam, WCS, header)`` from what predict accepts."""
    if isinstance(data, Dataset):
        return np.asarray(data["cube"].to_value(u.Jy / u.beam), np.float32), data.wcs, data.meta.get("header", {})
    if isinstance(data, (str, Path)):
        with fits.open(data) as hdul:
            hdu = next((h for h in hdul if getattr(h, "is_image", False) and h.data is not None and h.data.ndim >= 3),
                       None)
            if hdu is None:
                raise InputError(f"data: {Path(data).name} has no 3-D image extension")
            return np.asarray(np.squeeze(hdu.data), np.float32), WCS(hdu.header), hdu.header.copy()
    if isinstance(data, tuple) and len(data) == 2:
        array, wcs = data
        return np.asarray(getattr(array, "value", array), np.float32), wcs, {}
    if hasattr(data, "wcs") and hasattr(data, "data"):       # NDData, CCDData
        if data.wcs is None:
            raise InputError("data: the NDData has no WCS; the catalogue needs one for RA/Dec and channel widths")
        return np.asarray(data.data, np.float32), data.wcs, dict(getattr(data, "meta", {}) or {})
    raise InputError(f"data: expected a Dataset, NDData, (array, WCS) or a FITS path; got {type(data).__name__}")


def wcs_instrument(wcs, header) -> Instrument:
    """Pixel, beam and channel sizes of an in-memory cube from its WCS (+ BMAJ in the header)."""
    if wcs is None or wcs.naxis < 3 or not wcs.has_celestial or not wcs.has_spectral:
        raise InputError("data: expected a cube WCS with RA/Dec and a spectral (FREQ) axis")
    spectral = wcs.spectral
    if not str(spectral.wcs.ctype[0]).startswith("FREQ"):
        raise InputError(f"data: the spectral axis is {spectral.wcs.ctype[0]!r}; HI characterisation needs FREQ "
                         "(optical IFU cubes go through 'sim2sky hicubes predict' on a FITS file)")
    freq = spectral.pixel_to_world([0.0, 1.0])
    f0, f1 = (q.to_value(u.Hz) for q in (freq if isinstance(freq, u.Quantity) else u.Quantity(freq)))
    pixel = float(abs(wcs.celestial.proj_plane_pixel_scales()[1].to_value(u.arcsec)))
    bmaj = header.get("BMAJ") if hasattr(header, "get") else None
    return replace(INSTRUMENT, pixel_arcsec=pixel, beam_fwhm_arcsec=float(bmaj) * 3600 if bmaj else 2 * pixel,
                   channel_hz=f1 - f0, freq0_hz=f0, beam_correlated_noise=bmaj is not None)
