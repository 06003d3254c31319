"""Read 1-D spectra from the formats surveys deliver; validate them with clear errors.

Supported (detected from the file):

* SDSS/BOSS ``spec-lite`` files: table HDU ``COADD`` (``flux``, ``loglam``, ``ivar``); the
  ``SPECOBJ`` row's ``CLASS``, ``SUBCLASS`` and ``Z`` are passed through as ``SDSS_*``;
* image extensions ``WAVE``/``WAVELENGTH`` + ``FLUX`` (+ ``IVAR``, ``MASK``, ``Z``), one spectrum
  per row (MaNGA DAP test spectra, DESI single-arm), and DESI multi-arm coadds
  (``B_WAVELENGTH``, ``B_FLUX``, ``B_IVAR``, ``R_*``, ``Z_*``; arms merged);
* a FITS image (one spectrum, or a stack (n, λ) such as the MILES library) with a wavelength WCS
  ``CRVAL1``/``CDELT1`` (or ``CD1_1``)/``CRPIX1``; ``DC-FLAG = 1`` means log10 wavelengths;
  a table extension with one row per spectrum is passed through; optional ``IVAR``/``ERR``
  extensions;
* a table (CSV, ECSV, FITS table) with a wavelength column (``wave``, ``wavelength``,
  ``lambda``, ``loglam``) and ``flux`` (+ ``ivar`` or ``err``/``sigma``).

Wavelengths: ``CUNIT1`` (Å, nm, µm, m) or, without it, Å when the values lie in 1000-100000;
``CTYPE1 = 'AWAV'`` or ``AIRORVAC = 'air'`` means air (converted where needed), otherwise vacuum.
Without inverse variances the noise is estimated from the scatter of neighbouring pixels
(flag ``noise_estimated``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ...core.errors import InputError, reading
from ...core.units import parse_unit, spectral_scale
from ...core.tables import read_table, table_suffix

__all__ = ["SpectrumSet", "read_spectra", "spectrum_set", "iter_spectra", "estimate_ivar"]

_WAVE_COLS = ("WAVE", "WAVELENGTH", "LAMBDA", "LAM", "LOGLAM", "LOGLAMBDA")


@dataclass
class SpectrumSet:
    """Spectra sharing one wavelength grid: ``wave`` (L,) Å, ``flux``/``ivar`` (m, L), ``meta``
    (column -> (m,) values passed to the output), ``air`` (True if ``wave`` is in air)."""

    source: str
    wave: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    air: bool = False
    meta: dict = field(default_factory=dict)
    noise_estimated: bool = False

    def __len__(self) -> int:
        return len(self.flux)

    def __getitem__(self, rows) -> "SpectrumSet":
        """The spectra at ``rows`` (indices, a boolean mask or a slice) with their meta rows."""
        if isinstance(rows, (int, np.integer)):
            rows = [rows]
        meta = {k: np.asarray(v)[rows] for k, v in self.meta.items()}
        return replace(self, flux=self.flux[rows], ivar=self.ivar[rows], meta=meta)


def estimate_ivar(flux: np.ndarray) -> np.ndarray:
    """Constant inverse variance per spectrum from the robust scatter of pixel differences."""
    d = np.diff(flux, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mad = np.nanmedian(np.abs(d - np.nanmedian(d, axis=1, keepdims=True)), axis=1)
    var = (1.4826 * mad) ** 2 / 2
    var = np.where(np.isfinite(var) & (var > 0), var, np.nan)
    return np.repeat((1.0 / var)[:, None], flux.shape[1], axis=1)


def _unit_scale(header, wave: np.ndarray, what: str) -> float:
    """Factor to Angstrom from CUNIT1 (or IRAF's WAT1_001 ``units=``), read by astropy.units;
    without a unit, wavelengths between 1000 and 100000 are taken in Angstrom."""
    unit = str(header.get("CUNIT1", header.get("WAT1_001", "")) or "").strip()
    if "units=" in unit.lower():
        unit = unit[unit.lower().index("units=") + 6:].split()[0]
    if unit:
        return spectral_scale(unit, "wavelength", f"{what}: wavelength unit CUNIT1")
    w = np.nanmedian(wave)
    if 1000 <= w <= 100000:
        return 1.0
    raise InputError(f"{what}: wavelengths around {w:.4g} without a unit (CUNIT1); give them in Angstrom or set "
                     "CUNIT1 to nm or um")


def _is_air(header) -> bool:
    ctype = str(header.get("CTYPE1", "")).upper()
    return ctype.startswith("AWAV") or str(header.get("AIRORVAC", "")).lower().startswith("air")


def _check(wave: np.ndarray, flux: np.ndarray, what: str) -> None:
    if wave.ndim != 1 or len(wave) < 10:
        raise InputError(f"{what}: expected a 1-D wavelength axis of at least 10 pixels, got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise InputError(f"{what}: the wavelength axis contains NaN/inf")
    d = np.diff(wave)
    if not (np.all(d > 0) or np.all(d < 0)):
        raise InputError(f"{what}: the wavelength axis is not monotonic (it must increase or decrease throughout)")
    if np.shape(flux)[-1] != len(wave):
        raise InputError(f"{what}: flux has {np.shape(flux)[-1]} pixels per spectrum but the wavelength axis "
                         f"{len(wave)}; expected the same")
    if not np.isfinite(flux).any():
        raise InputError(f"{what}: every flux value is NaN/inf")


def _orient(wave, flux, ivar):
    if wave[0] > wave[-1]:
        return wave[::-1], flux[:, ::-1], ivar[:, ::-1]
    return wave, flux, ivar


def _wcs_wave(header, n: int, what: str) -> np.ndarray:
    """Wavelengths (n,) of a spectral image axis 1, in the header's CUNIT1 units.

    The FITS WCS (linear ``WAVE``/``AWAV``, logarithmic ``WAVE-LOG``/``AWAV-LOG``, ...) is
    evaluated by astropy.wcs; IRAF/SDSS log-linear axes (``DC-FLAG = 1`` or a ``LOG...``
    CTYPE1), outside the FITS standard, are 10**(linear WCS).
    """
    if "CRVAL1" not in header or not ("CDELT1" in header or "CD1_1" in header):
        raise InputError(f"{what}: no wavelength axis: the image has no CRVAL1 and CDELT1/CD1_1 (and no WAVE "
                         "extension or wavelength column)")
    step = float(header.get("CD1_1", header.get("CDELT1")))
    ctype = str(header.get("CTYPE1", "")).strip().upper()
    if header.get("DC-FLAG", 0) == 1 or ctype.startswith("LOG"):
        return 10 ** (float(header["CRVAL1"]) + step * (np.arange(n) + 1 - float(header.get("CRPIX1", 1.0))))
    cunit = str(header.get("CUNIT1", "") or "").strip()
    unit = None
    if cunit:
        spectral_scale(cunit, "wavelength", f"{what}: wavelength unit CUNIT1")     # refused before the WCS
        unit = parse_unit(cunit)
    axis = fits.Header({"NAXIS": 1, "NAXIS1": n, "CTYPE1": ctype if ctype.startswith(("WAVE", "AWAV")) else "",
                        "CRVAL1": float(header["CRVAL1"]), "CDELT1": step, "CRPIX1": float(header.get("CRPIX1", 1.0))})
    if unit is not None and axis["CTYPE1"]:
        axis["CUNIT1"] = unit.to_string("fits")
    from astropy.wcs import WCS                     # here: 0.3 s of imports most inputs never need

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # astropy's FITSFixedWarning on informal headers
        wcs = WCS(axis)
        wave = wcs.wcs_pix2world(np.arange(n, dtype=float), 0)[0]
    out = str(wcs.wcs.cunit[0])
    if out and "CUNIT1" in axis:                     # astropy gives spectral axes in SI: back to CUNIT1
        wave = wave * float(u.Unit(out).to(unit))
    return wave


def _first_image(hdul):
    """The first non-empty 1-D or 2-D image HDU, or None."""
    return next((h for h in hdul if getattr(h, "is_image", False) and h.header.get("NAXIS", 0) in (1, 2)
                 and h.header.get("NAXIS1", 0) > 0), None)


def _image_hdu(hdul, path: Path):
    img = _first_image(hdul)
    if img is None:
        raise InputError(f"{path.name}: no spectrum found: expected a 1-D/2-D image with a wavelength WCS, WAVE + FLUX "
                         "extensions, an SDSS COADD table or a table with wavelength and flux columns")
    return img


_BITPIX = {-32: ">f4", -64: ">f8", 16: ">i2", 32: ">i4"}


def _rows(hdu, sl: slice, shape) -> np.ndarray:
    """Rows ``sl`` of a 2-D image HDU as float32 (what the spectra are kept in: float64 doubled
    the memory traffic of every later pass; 8,192 x 4,000 pixels took 1.8 s from file to set).

    Uncompressed, unscaled images are read through a memory map of just those rows that is
    closed again at once: pages of a whole-file map stay in the resident set as they are read
    (measured: 3.9 GB RSS for a 1.6 GB file of 2x10^5 spectra), a per-chunk map keeps it bounded."""
    info = hdu.fileinfo() if hasattr(hdu, "fileinfo") else None
    h = hdu.header
    dtype = _BITPIX.get(h.get("BITPIX"))
    if (info and info.get("file") is not None and getattr(info["file"], "name", None) and dtype
            and len(shape) == 2 and h.get("BSCALE", 1) == 1 and h.get("BZERO", 0) == 0
            and not str(info["file"].name).endswith(".gz")):
        start, stop, _ = sl.indices(shape[0])
        width = shape[1] * np.dtype(dtype).itemsize
        m = np.memmap(info["file"].name, dtype=dtype, mode="r", offset=info["datLoc"] + start * width,
                      shape=(max(stop - start, 0), shape[1]))
        out = np.array(m, np.float32)
        del m
        return out
    data = hdu.data if hdu.data.ndim == 2 else hdu.data[None]
    return np.atleast_2d(np.asarray(data[sl], np.float32))


def _from_image(hdul, path: Path, rows: slice | None = None) -> SpectrumSet:
    what = path.name
    img = _image_hdu(hdul, path)
    naxis = img.header.get("NAXIS", 0)
    shape = (img.header["NAXIS2"], img.header["NAXIS1"]) if naxis == 2 else (1, img.header["NAXIS1"])
    sl = rows or slice(None)
    flux = _rows(img, sl, shape) if naxis == 2 else np.atleast_2d(np.asarray(img.data, np.float64))
    header = img.header
    wave = _wcs_wave(header, flux.shape[1], what)
    wave = wave * _unit_scale(header, wave, what)
    ivar = None
    size = shape[0] * shape[1]
    for name, kind in (("IVAR", "ivar"), ("ERR", "err"), ("ERROR", "err"), ("SIGMA", "err"), ("VAR", "var")):
        other = hdul[name] if name in hdul else None
        if other is not None and other.header.get("NAXIS", 0) >= 1 and \
                int(np.prod([other.header.get(f"NAXIS{k + 1}", 1) for k in range(other.header["NAXIS"])])) == size:
            if other.header["NAXIS"] == 2 and naxis == 2:
                a = _rows(other, sl, shape)
            else:
                a = np.atleast_2d(np.asarray(other.data.reshape(shape)[sl], np.float64))
            with np.errstate(divide="ignore"):
                # a negative error keeps its sign, so that it is refused below, not squared away
                ivar = a if kind == "ivar" else (np.sign(a) / a**2 if kind == "err" else 1 / a)
            break
    meta = {}
    tab = next((h for h in hdul if isinstance(h, fits.BinTableHDU) and h.header.get("NAXIS2") == shape[0]), None)
    if tab is not None:
        for c in tab.columns.names:
            meta[c] = np.asarray(tab.data[c][sl])
    return _finish(path, wave, flux, ivar, _is_air(header) or _is_air(hdul[0].header), meta)


def _finish(path: Path, wave, flux, ivar, air, meta) -> SpectrumSet:
    _check(wave, flux, path.name)
    _check_values(path.name, np.asarray(flux), None if ivar is None else np.asarray(ivar))
    estimated = ivar is None
    if ivar is None:
        ivar = estimate_ivar(flux)
    flux, ivar = np.asarray(flux, np.float32), np.asarray(ivar, np.float32)
    ivar = np.where(np.isfinite(ivar) & (ivar > 0) & np.isfinite(flux), ivar, np.float32(0.0))
    wave, flux, ivar = _orient(np.asarray(wave, float), flux, ivar)
    n = len(flux)
    meta = {k: v for k, v in meta.items() if np.ndim(v) == 1 and len(v) == n}
    return SpectrumSet(path.name, wave, flux, ivar, bool(air), meta, estimated)


def _from_sdss(hdul, path: Path) -> SpectrumSet:
    c = hdul["COADD"].data
    names = [n.lower() for n in c.columns.names]
    col = lambda n: np.asarray(c[c.columns.names[names.index(n)]], np.float64)  # noqa: E731
    wave = 10 ** col("loglam")
    flux, ivar = col("flux")[None], col("ivar")[None]
    if "and_mask" in names:
        ivar = np.where(col("and_mask")[None] > 0, 0.0, ivar)
    meta = {}
    if "SPECOBJ" in hdul:
        so = hdul["SPECOBJ"].data
        for k in ("CLASS", "SUBCLASS", "Z", "Z_ERR", "ZWARNING"):
            if k in so.columns.names:
                meta[f"SDSS_{k}"] = np.asarray([str(so[k][0]).strip() if so[k].dtype.kind in "SU" else so[k][0]])
    return _finish(path, wave, flux, ivar, False, meta)


def _from_extensions(hdul, path: Path) -> SpectrumSet:
    arms = [p[:-len("_WAVELENGTH")] for p in (h.name for h in hdul) if p.endswith("_WAVELENGTH")]
    if arms:   # DESI coadd: merge the arms on one sorted axis
        waves, fluxes, ivars = [], [], []
        for a in arms:
            waves.append(np.asarray(hdul[f"{a}_WAVELENGTH"].data, float))
            fluxes.append(np.atleast_2d(np.asarray(hdul[f"{a}_FLUX"].data, float)))
            ivars.append(np.atleast_2d(np.asarray(hdul[f"{a}_IVAR"].data, float)))
        order = np.argsort(np.concatenate(waves), kind="stable")
        wave = np.concatenate(waves)[order]
        keep = np.concatenate([[True], np.diff(wave) > 0])       # drop duplicated pixels of overlapping arms
        flux = np.concatenate(fluxes, 1)[:, order][:, keep]
        ivar = np.concatenate(ivars, 1)[:, order][:, keep]
        wave = wave[keep]
        meta = {}
        if "FIBERMAP" in hdul:
            fm = hdul["FIBERMAP"].data
            for k in ("TARGETID", "TARGET_RA", "TARGET_DEC"):
                if k in fm.columns.names:
                    meta[k] = np.asarray(fm[k])
        return _finish(path, wave, flux, ivar, False, meta)
    wname = "WAVE" if "WAVE" in hdul else "WAVELENGTH"
    wave = np.asarray(hdul[wname].data, float)
    flux = np.atleast_2d(np.asarray(hdul["FLUX"].data, float))
    ivar = np.atleast_2d(np.asarray(hdul["IVAR"].data, float)) if "IVAR" in hdul else None
    if ivar is not None and "MASK" in hdul:
        ivar = np.where(np.atleast_2d(hdul["MASK"].data) > 0, 0.0, ivar)
    wave = wave * _unit_scale(hdul[wname].header, wave, path.name)
    meta = {}
    if "Z" in hdul and np.size(hdul["Z"].data) == len(flux):
        meta["Z_CATALOGUE"] = np.asarray(hdul["Z"].data, float).ravel()
    return _finish(path, wave, flux, ivar, _is_air(hdul[wname].header), meta)


def _from_table(path: Path) -> SpectrumSet:
    return _table_spectra(read_table(path), path)


def _table_spectra(t, path: Path) -> SpectrumSet:
    """One spectrum per table (1-D columns) or one per row (array columns ``wave``, ``flux``...,
    as :func:`sim2sky.cases.spectra.simulate` writes them; other 1-D columns pass through)."""
    upper = {c.upper(): c for c in t.colnames}
    wcol = next((upper[c] for c in _WAVE_COLS if c in upper), None)
    if wcol is None or "FLUX" not in upper:
        raise InputError(f"{path.name}: no wavelength axis: a table needs a wavelength column ({', '.join(_WAVE_COLS)}) "
                         f"and a flux column; found {', '.join(t.colnames)}")
    try:
        wave = np.asarray(getattr(t[wcol], "value", t[wcol]), float)
        flux = np.asarray(getattr(t[upper["FLUX"]], "value", t[upper["FLUX"]]), float)
    except (TypeError, ValueError):
        raise InputError(f"{path.name}: wavelength and flux columns must be numeric") from None
    per_row = flux.ndim == 2
    if per_row and wave.ndim == 2:
        if not np.allclose(wave, wave[:1], rtol=1e-9, atol=0):
            raise InputError(f"{path.name}: the rows' wavelength grids differ; expected one shared grid "
                             "(resample the spectra first, or write one file per grid)")
        wave = wave[0]
    if not per_row:
        flux = flux[None]
    if wcol.upper().startswith("LOG"):
        wave = 10**wave
    unit = str(getattr(t[wcol], "unit", "") or "").strip()
    scale = spectral_scale(unit, "wavelength", f"{path.name}: wavelength column {wcol!r}") if unit else None
    wave = wave * (scale or _unit_scale({}, wave, path.name))
    ivar = None
    for name, kind in (("IVAR", "ivar"), ("ERR", "err"), ("ERROR", "err"), ("SIGMA", "err"), ("FLUX_ERR", "err")):
        if name in upper:
            a = np.asarray(getattr(t[upper[name]], "value", t[upper[name]]), float)
            a = a if per_row else a[None]
            with np.errstate(divide="ignore"):
                ivar = a if kind == "ivar" else np.sign(a) / a**2
            break
    used = {wcol, upper["FLUX"]} | {upper[k] for k in ("IVAR", "ERR", "ERROR", "SIGMA", "FLUX_ERR") if k in upper}
    meta = {c: np.asarray(t[c]) for c in t.colnames if per_row and c not in used and np.ndim(t[c]) == 1}
    return _finish(path, wave, flux, ivar, False, meta)


def spectrum_set(data, name: str = "data") -> SpectrumSet:
    """A :class:`SpectrumSet` from what a user holds in memory or on disk.

    Accepted: a :class:`SpectrumSet`; a path (:func:`read_spectra`); an astropy Table/QTable
    with a wavelength and a flux column, 1-D (one spectrum) or 2-D (one spectrum per row, as
    :func:`sim2sky.cases.spectra.simulate` returns); a ``(wave, flux)`` or ``(wave, flux, ivar)``
    tuple where ``wave`` is a :class:`~astropy.units.Quantity` in any spectral unit (frequency
    and energy are converted) and ``flux`` is (L,) or (n, L); a ``specutils.Spectrum``
    (``spectral_axis``, ``flux``, optional uncertainty), 1-D or with rows sharing one axis.
    Flux units are kept as given: the classifier normalises every spectrum.
    """
    if isinstance(data, SpectrumSet):
        return data
    if isinstance(data, (str, Path)):
        return read_spectra(data)
    if isinstance(data, Table):
        return _table_spectra(data, Path(name))
    if hasattr(data, "spectral_axis") and hasattr(data, "flux"):          # specutils Spectrum / Spectrum1D
        wave, flux, ivar = data.spectral_axis, data.flux, None
        unc = getattr(data, "uncertainty", None)
        if unc is not None:
            from astropy.nddata import InverseVariance      # a specutils input has loaded it already
            ivar = unc.represent_as(InverseVariance).array if hasattr(unc, "represent_as") else None
        return _arrays_spectra(wave, flux, ivar, name)
    if isinstance(data, tuple) and len(data) in (2, 3):
        return _arrays_spectra(*data, *([None] * (3 - len(data))), name=name)
    raise InputError(f"{name}: expected a spectrum file, an astropy Table, a (wave, flux[, ivar]) tuple of "
                     f"Quantities or a specutils Spectrum; got {type(data).__name__}")


def _arrays_spectra(wave, flux, ivar=None, name: str = "data") -> SpectrumSet:
    if not isinstance(wave, u.Quantity):
        raise InputError(f"{name}: the wavelength axis needs a unit (an astropy Quantity such as wave * u.AA)")
    try:
        wave = wave.to_value(u.AA, equivalencies=u.spectral())
    except u.UnitConversionError:
        raise InputError(f"{name}: the spectral axis is in {wave.unit}, which is not a wavelength, frequency "
                         "or energy") from None
    flux = np.atleast_2d(np.asarray(getattr(flux, "value", flux), float))
    if ivar is not None:
        ivar = np.broadcast_to(np.atleast_2d(np.asarray(getattr(ivar, "value", ivar), float)), flux.shape)
    return _finish(Path(name), np.asarray(wave, float), flux, ivar, False, {})


def read_spectra(path) -> SpectrumSet:
    """Read one file (see the module docstring for the formats); raise :class:`InputError` when unusable."""
    with reading(path):
        spectra = _read_spectra(path)
        np.asarray(spectra.flux[-1:]).sum()      # a truncated file fails here (its last row), not in a model
    return spectra


def _check_values(name: str, flux, ivar) -> None:
    """Refuse impossible values with one line: infinite flux, negative or infinite inverse
    variance, or no pixel with a positive inverse variance in the whole set. NaN flux and zero
    ivar are the usual way to mask pixels and pass."""
    if np.isinf(flux).any():
        rows = np.flatnonzero(np.isinf(flux).any(axis=-1) if flux.ndim > 1 else [True])
        raise InputError(f"INPUT: {name}: flux is infinite in {len(rows)} spectra (first: row {rows[0]}); "
                         "expected finite values, or NaN for masked pixels")
    if ivar is None:
        return
    bad = (ivar < 0) | np.isinf(ivar)
    if bad.any():
        raise InputError(f"INPUT: {name}: {int(bad.sum())} pixels have a negative or infinite inverse variance "
                         "(or a negative error); expected ivar >= 0 (0 = masked)")
    if flux.size and not (ivar > 0).any():
        raise InputError(f"INPUT: {name}: every pixel has zero inverse variance (all masked); expected ivar > 0 "
                         "where the spectrum is measured")


def _read_spectra(path) -> SpectrumSet:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"INPUT: {path} does not exist")
    if table_suffix(path) in (".csv", ".ecsv", ".txt", ".dat", ".parquet"):
        return _from_table(path)
    try:
        hdul = fits.open(path, memmap=True)
        _ = [h.header for h in hdul]
    except (OSError, ValueError) as exc:
        raise InputError(f"INPUT: {path.name} is neither a readable FITS file nor a table ({exc})") from None
    with hdul:
        names = {h.name for h in hdul}
        if "COADD" in names:
            return _from_sdss(hdul, path)
        if {"FLUX"} <= names and ({"WAVE"} & names or {"WAVELENGTH"} & names) or any(n.endswith("_WAVELENGTH") for n in names):
            return _from_extensions(hdul, path)
        if any(getattr(h, "is_image", False) and h.data is not None for h in hdul):
            return _from_image(hdul, path)
        tab = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
    if tab is not None:
        return _from_table(path)
    raise InputError(f"INPUT: {path.name}: no spectrum found (no image, WAVE/FLUX extensions or spectrum table)")


def iter_spectra(path, chunk: int = 8192):
    """Yield :class:`SpectrumSet` s of at most ``chunk`` spectra: a stacked FITS image, or a FITS
    table with one spectrum per row (what ``spectra simulate`` writes), is read block by block
    through a memory map (bounded memory for millions of spectra); other formats at once."""
    path = Path(path)
    if path.is_file() and table_suffix(path) in (".fits", ".fit", ".fits.gz", ".fit.gz"):
        try:
            hdul = fits.open(path, memmap=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"INPUT: {path.name} is not a readable FITS file ({exc})") from None
        with hdul:
            names = {h.name for h in hdul}
            if "COADD" not in names and "FLUX" not in names and not any(n.endswith("_WAVELENGTH") for n in names):
                img = _first_image(hdul)
                table = next((k for k, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU)), None)
                if img is not None and img.header["NAXIS"] == 2 and img.header["NAXIS2"] > chunk:
                    for i in range(0, img.header["NAXIS2"], chunk):
                        with reading(path):
                            block = _from_image(hdul, path, slice(i, min(img.header["NAXIS2"], i + chunk)))
                        yield block
                    return
                if img is None and table is not None and hdul[table].header["NAXIS2"] > chunk:
                    hdu = hdul[table]
                    units = {c.name: c.unit for c in hdu.columns if c.unit}
                    for i in range(0, hdu.header["NAXIS2"], chunk):
                        with reading(path):
                            # rows of the memory map only: Table.read would load the whole table
                            t = Table(np.array(hdu.data[i:i + chunk]))
                            for name, unit in units.items():
                                t[name].unit = parse_unit(unit)
                            block = _table_spectra(t, path)
                        yield block
                    return
    yield read_spectra(path)
