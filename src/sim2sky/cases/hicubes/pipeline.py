"""Source finding in FITS cubes: detect, segment, measure and characterise, tile by tile with dask.

:func:`find_sources` works on an in-memory cube (simulations, benchmarks); :func:`detect_cube_file`
runs the same function on overlapping 3-D tiles of a memory-mapped FITS cube (bounded memory,
resumable through ``OUT/partial``, same code on a dask cluster) and writes a catalogue (FITS +
CSV, sky positions from the cube's WCS) and a mask cube of source ids with the cube's WCS.
A source belongs to the tile whose core holds its centroid; the halo lets it be seen whole.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy import ndimage
from astropy.wcs import WCS
from astropy.table import Table

from ...apply.blocks import file_identity, folder_identity, prepare_partial, run_tiles
from ...apply.fitscube import (CubeSpec, celestial_header, create_empty_fits, header_number, open_cube,
                              read_subcube)
from ...core.atomic import atomic_file, write_text
from ...core.calibration import read_calibration
from ...core.errors import InputError
from ...core.modelio import verify_folder
from ...core.tables import write_table
from ...infer import load_posterior
from ...infer.calibrate import IntervalCalibration
from ...learn import Segmenter
from .characterise import characterise
from .detector import detect
from .finder import channel_noise, compress_labels, normalise_cube, sofia_like_find
from .measure import measure_sources
from .schema import INSTRUMENT, Instrument

__all__ = ["DetectConfig", "METHODS", "load_models", "models_dir", "find_sources", "detect_cube_file", "cube_instrument",
           "posterior_calibration",
           "subtract_continuum", "width_scale"]

METHODS = ("unet", "sofia-like")
# the name of earlier releases, kept so that scripts written for them still run
_ALIASES = {"sofia": "sofia-like"}


@dataclass(frozen=True)
class DetectConfig:
    """Settings of a source-finding run.

    Attributes
    ----------
    method : str
        ``unet`` (the shipped 3-D U-Net) or ``sofia-like`` (our re-implementation of SoFiA-2's
        smooth-and-clip finder, linker and reliability filter; ``sofia`` is accepted).
    min_score : float
        U-Net: minimum peak probability of a source (completeness/purity trade-off).
    threshold, min_reliability : float
        SoFiA-like: clip level [sigma] and reliability cut.
    block, halo : tuple of int
        Tile core and overlap (channels, y, x).
    characterise : bool
        Posterior properties with the shipped characterisation network (only for cubes whose
        pixel, beam and channel width match its training instrument within 10%).
    continuum_window : int
        If > 0, subtract a running median of this many channels from every spectrum first
        (optical IFU cubes, whose galaxies have continua; radio cubes come continuum-subtracted).
    """

    method: str = "unet"
    min_score: float = 0.8
    threshold: float = 4.0
    min_reliability: float = 0.9
    block: tuple = (128, 96, 96)
    halo: tuple = (32, 16, 16)
    characterise: bool = True
    num_samples: int = 200
    continuum_window: int = 0

    def __post_init__(self):
        # one place for the old name, whichever entry point builds the config
        object.__setattr__(self, "method", _ALIASES.get(self.method, self.method))


@lru_cache(maxsize=None)
def models_dir() -> Path:
    return Path(str(resources.files("sim2sky.cases.hicubes") / "models"))


@lru_cache(maxsize=4)
def load_models(detector: str | None = None, characteriser: str | None = None):
    """The shipped (or given) detector segmenter and characterisation posterior."""
    seg = Segmenter.load(detector or models_dir() / "detector")
    post = load_posterior(characteriser or models_dir() / "characteriser")
    return seg, post


_SUFFIXES = ("err", "q16", "q84", "q025", "q975")


@lru_cache(maxsize=4)
def posterior_calibration(root=None):
    """The :class:`~sim2sky.infer.calibrate.IntervalCalibration` written by ``hicubes calibrate`` in
    model folder ``root`` (the shipped one when None), or None (the folder's seal is checked)."""
    record, _ = read_calibration(Path(root or models_dir()))
    if record is None or record.get("case") != "hicubes":
        return None
    return IntervalCalibration.from_dict(record["fitted"]["intervals"])


@lru_cache(maxsize=4)
def width_scale(root=None) -> dict:
    """Calibration factors of the characteriser's posterior widths in model folder ``root``
    (the shipped one when None); empty when the folder has none."""
    path = Path(root or models_dir()) / "characteriser_calibration.json"
    if not path.exists():
        return {}
    verify_folder(path.parent)          # the factors widen every posterior: they must be the ones shipped
    return json.loads(path.read_text())["width_scale"]


def _matches_training(inst: Instrument) -> bool:
    ref = INSTRUMENT
    return all(abs(abs(a) / b - 1) < 0.1 for a, b in ((inst.pixel_arcsec, ref.pixel_arcsec),
                                                  (inst.beam_fwhm_arcsec, ref.beam_fwhm_arcsec),
                                                  (inst.channel_hz, ref.channel_hz)))


def find_sources(cube: np.ndarray, inst: Instrument = INSTRUMENT, config: DetectConfig = DetectConfig(),
                 noise: np.ndarray | None = None, freq0_hz: float | None = None, offset=(0, 0, 0), models=None,
                 widths: dict | None = None):
    """Detect, segment, measure (and characterise) the sources of a (c, y, x) cube in Jy/beam.

    Returns ``(labels int32 (c, y, x), catalogue dict of (n,) arrays)``; the catalogue has the
    moment measurements, a ``score`` (U-Net peak probability or SoFiA-like reliability) and, when
    characterised, ``<property>_npe`` and ``<property>_npe_err`` posterior medians and widths (and, with a
    ``hicubes calibrate`` calibration, the 68%/95% interval ends ``<property>_npe_q16/_q84/_q025/_q975``).
    NaN voxels are treated as empty and flag the sources touching them. ``models``
    (detector, characteriser) replace the shipped ones, with ``widths`` their posterior calibration
    (an :class:`~sim2sky.infer.calibrate.IntervalCalibration` or a dict of width factors).
    """
    if config.method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {config.method!r}")
    if config.continuum_window > 0:
        cube = subtract_continuum(cube, config.continuum_window)
    snr, _, bad = normalise_cube(cube, noise)
    seg, post = (models or load_models()) if config.method == "unet" or config.characterise else (None, None)
    if config.method == "unet":
        labels, score, _ = detect(seg, snr, min_score=config.min_score)
    else:
        labels, score = sofia_like_find(snr, threshold=config.threshold, min_reliability=config.min_reliability,
                                   beam_sigma_px=inst.beam_sigma_px if inst.beam_correlated_noise else 0.0)
    cat = measure_sources(cube, labels, inst, freq0_hz, bad if bad.any() else None, offset)
    cat["score"] = np.asarray(score, float)
    if config.characterise and _matches_training(inst) and len(score):
        centres = np.column_stack([cat["z"] - offset[0], cat["y"] - offset[1], cat["x"] - offset[2]])
        centres = np.nan_to_num(centres)
        # the shipped widths are calibrated on simulated detections; a user's own network is taken as is
        # seeded by the tile's origin: the same samples whichever worker runs the tile, in any order
        tile_seed = int(np.random.SeedSequence([0, *(int(o) for o in offset)]).generate_state(1)[0])
        if models:
            cal, factors = (widths, None) if isinstance(widths, IntervalCalibration) else (None, widths)
        else:
            cal, factors = posterior_calibration(), width_scale()
        props = characterise(post, snr, centres, config.num_samples, seed=tile_seed, width_scale=factors,
                             calibration=cal)
        for k, v in props.items():              # flux -> flux_npe, flux_err -> flux_npe_err, flux_q16 -> flux_npe_q16
            base, _, tail = k.rpartition("_") if k.rsplit("_", 1)[-1] in _SUFFIXES else (k, "", "")
            cat[f"{base}_npe" + (f"_{tail}" if tail else "")] = np.asarray(v, float)
    return labels, cat


def subtract_continuum(cube: np.ndarray, window: int) -> np.ndarray:
    """Cube minus a running median of ``window`` channels along the spectral axis (NaN kept)."""

    filled = np.where(np.isfinite(cube), cube, np.nanmedian(cube, axis=0, keepdims=True))
    filled = np.nan_to_num(filled)
    return (cube - ndimage.median_filter(filled, size=(int(window), 1, 1), mode="nearest")).astype(np.float32)


def cube_instrument(spec: CubeSpec) -> tuple[Instrument, list[str]]:
    """The pixel, beam and channel sizes of a cube from its header (with notes on what was assumed)."""

    notes = []
    pix = float(abs(WCS(celestial_header(spec)).proj_plane_pixel_scales()[1].to_value("arcsec")))
    bmaj = header_number(spec, ("BMAJ",))
    if bmaj is None:
        beam = 2.0 * pix
        notes.append(f"no BMAJ in the header: beam (PSF) FWHM assumed 2 pixels = {beam:.2f} arcsec")
    else:
        beam = bmaj * 3600
    channel = spec.cdelt * spec.wave_scale          # signed: channels may run down in frequency
    freq0 = spec.wave[0]
    return Instrument(pixel_arcsec=pix, beam_fwhm_arcsec=beam, channel_hz=channel, freq0_hz=freq0,
                      beam_correlated_noise=bool(bmaj is not None)), notes


def _tile(core, extended, spec: CubeSpec, inst: Instrument, noise: np.ndarray, config: DetectConfig) -> dict:
    data = read_subcube(spec, extended)
    if np.isinf(data).any():
        bad = np.argwhere(np.isinf(data))[0] + [s.start for s in extended]
        raise InputError(f"CUBE: {Path(spec.path).name} holds infinite values (first at channel, y, x = "
                         f"{tuple(int(v) for v in bad)}); expected finite values, or NaN for blanked voxels")
    off = tuple(s.start for s in extended)
    # after continuum subtraction the noise is measured on the tile itself
    tile_noise = noise[extended[0]] if config.continuum_window == 0 else None
    labels, cat = find_sources(data, inst, config, tile_noise, inst.freq0_hz, off)
    centre = np.rint(np.nan_to_num(np.column_stack([cat["z"], cat["y"], cat["x"]]), nan=-1))
    own = np.all([(centre[:, axis] >= s.start) & (centre[:, axis] < s.stop) for axis, s in enumerate(core)], axis=0)
    labels = compress_labels(labels, np.concatenate([[False], own]))
    flat = np.flatnonzero(labels)
    out = {f"cat_{k}": np.asarray(v)[own] for k, v in cat.items()}
    out.update({"voxels": flat.astype(np.int64), "ids": labels.ravel()[flat].astype(np.int32),
                "origin": np.array(off), "shape": np.array(labels.shape)})
    return out


def _streamed_noise(spec: CubeSpec, chunk: int = 16) -> np.ndarray:
    """Per-channel robust noise read a few channels at a time (bounded memory)."""
    c = spec.shape[0]
    out = np.empty(c)
    with fits.open(spec.path, memmap=True) as h:
        data = h[spec.data_ext].data
        for i in range(0, c, chunk):
            out[i:i + chunk] = channel_noise(np.asarray(data[i:i + chunk, ::2, ::2], np.float32))
    return out


def detect_cube_file(cube, out_dir, config: DetectConfig = DetectConfig(), scheduler: str | None = None,
                     progress: bool = False, workers: int | None = None, log=None) -> dict:
    """Find the sources of a FITS cube; write ``catalogue.fits``, ``catalogue.csv``, ``mask.fits``, ``summary.json``.

    Radio cubes (CTYPE3 = FREQ) and optical IFU cubes (AWAV/WAVE) are accepted; for the latter
    the spectral column is ``central_wave`` [Angstrom] and no HI characterisation is run.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    try:
        return _detect_cube_file(cube, out_dir, config, scheduler, progress, workers, log, t0)
    except InputError:
        if created:             # a refused input leaves nothing behind (a .gz is decompressed into OUT/partial)
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _detect_cube_file(cube, out_dir: Path, config: DetectConfig, scheduler, progress, workers, log, t0) -> dict:
    try:
        spec, kind = open_cube(cube, workdir=out_dir / "partial", spectral="frequency"), "frequency"
    except InputError as exc:
        if "spectral axis CTYPE3" not in str(exc):
            raise
        try:
            spec, kind = open_cube(cube, workdir=out_dir / "partial", spectral="wavelength"), "wavelength"
        except InputError:
            raise InputError(f"{exc}; or an optical wavelength axis 'AWAV'/'WAVE'") from None
    if config.method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {config.method!r}")
    if config.continuum_window < 0:
        raise InputError(f"--continuum-window must be >= 0 channels, got {config.continuum_window}")
    if min(config.block) < 8 or min(config.halo) < 0:
        raise InputError(f"--block must be >= 8 and --halo >= 0 on every axis, got {config.block} and {config.halo}")
    inst, notes = cube_instrument(spec)
    if kind == "wavelength" or not _matches_training(inst):
        if config.characterise:
            notes.append("characterisation skipped: the cube's pixel/beam/channel differ from the network's training "
                         "instrument (2.8 arcsec, 7 arcsec beam, 30 kHz); moment measurements only")
        config = replace(config, characterise=False)
    block = tuple(min(b, n) for b, n in zip(config.block, spec.shape))
    partial = out_dir / "partial"
    # resumed only for the same cube content, model folders and options (see prepare_partial)
    manifest = {"cube": file_identity(cube), "config": json.loads(json.dumps(asdict(config))),
                "models": [folder_identity(models_dir() / n) for n in ("detector", "characteriser")]
                + [width_scale(), getattr(posterior_calibration(), "to_dict", dict)()]
                if config.characterise else None}
    reused = prepare_partial(partial, manifest, log=log)
    noise = _streamed_noise(spec)
    results = run_tiles(_tile, spec.shape, block, config.halo, partial, scheduler, progress, workers,
                        spec=spec, inst=inst, noise=noise, config=config)
    table = _assemble(results, spec, kind, out_dir)
    n = len(table)
    summary = {"cube": str(cube), "shape": list(spec.shape), "spectral_axis": kind, "method": config.method,
               "sources": n, "tiles": len(results), "tiles_reused": reused, "notes": notes,
               "wall_time_s": round(time.perf_counter() - t0, 2),
               "instrument": {"pixel_arcsec": inst.pixel_arcsec, "beam_fwhm_arcsec": inst.beam_fwhm_arcsec,
                              "channel": inst.channel_hz}}
    write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    shutil.rmtree(partial, ignore_errors=True)
    return summary


def _assemble(results: list[dict], spec: CubeSpec, kind: str, out_dir: Path):

    keys = [k for k in results[0] if k.startswith("cat_")] if results else []
    cat = {k[4:]: np.concatenate([r[k] for r in results]) for k in keys}
    n = len(cat.get("x", []))
    header = fits.Header(celestial_header(spec))
    cube_header = fits.getheader(spec.path, spec.data_ext)
    for key in ("CTYPE3", "CUNIT3", "CRVAL3", "CRPIX3", "CDELT3", "CD3_3", "SPECSYS", "RESTFRQ", "BMAJ", "BMIN", "BPA"):
        if key in cube_header:
            header[key] = cube_header[key]
    header["BUNIT"] = ""
    mask_path = out_dir / "mask.fits"
    with atomic_file(mask_path) as tmp:
        create_empty_fits(tmp, [("PRIMARY", None, None, None), ("MASK", header, tuple(spec.shape), np.int32)])
        with fits.open(tmp, mode="update", memmap=True) as h:
            data = h["MASK"].data
            start = 0
            for r in results:
                if len(r["ids"]):
                    idx = np.unravel_index(r["voxels"], tuple(r["shape"]))
                    glob = tuple(i + o for i, o in zip(idx, r["origin"]))
                    data[glob] = r["ids"] + start
                start += len(r["cat_x"])
            h.flush()
    table = Table()
    table["id"] = np.arange(1, n + 1)
    if n:
        wcs = WCS(header).celestial
        table["ra"], table["dec"] = wcs.wcs_pix2world(cat["x"], cat["y"], 0)
    else:
        table["ra"], table["dec"] = np.zeros(0), np.zeros(0)
    for k, v in cat.items():
        name = "central_wave" if (k == "central_freq" and kind == "wavelength") else k
        if kind == "wavelength" and k == "z_hi":
            continue
        table[name] = v
    write_table(table, out_dir / "catalogue.fits")
    write_table(table, out_dir / "catalogue.csv")
    return table
