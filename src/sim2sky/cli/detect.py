"""``sim2sky detect cube``, ``sim2sky deblend`` and ``sim2sky simulate hicube|blends``: source finding and deblending."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import file_out, notice, out, user_errors

__all__ = ["detect_app", "detect_cube", "deblend", "simulate_hicube", "simulate_blends"]

detect_app = typer.Typer(help="Find sources in 3-D cubes: detection, segmentation, measurement, per-source posteriors.",
                         no_args_is_help=True)


def _shape(text: str) -> tuple[int, int, int]:
    from ..core.errors import InputError

    try:
        parts = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 1:
        raise InputError(f"--shape: expected three sizes 'channels,y,x' such as 128,192,192, got {text!r}")
    return parts


@user_errors
def simulate_hicube(
    out_path: Path = typer.Option(..., "--out", help="Output cube (.fits, DATA extension in Jy/beam with WCS)."),
    n_sources: int = typer.Option(100, "--n-sources", help="Number of HI galaxies.", min=1),
    shape: str = typer.Option("128,192,192", help="Channels, y, x (30 kHz channels from 1.15 GHz, 2.8\" pixels)."),
    noise: Optional[float] = typer.Option(None, help="Channel noise \\[Jy/beam] (default 30e-6, SDC2-like).", min=0.0),
    artefacts: bool = typer.Option(True, help="Continuum-subtraction residuals and RFI-like channels."),
    truth: Optional[Path] = typer.Option(None, help="Truth catalogue (.csv/.ecsv/.fits; default <out>_truth.csv)."),
    mask: Optional[Path] = typer.Option(None, help="Also write the truth source-id cube (.fits)."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Simulate a mock SKA-like HI cube (rotating discs, beam, noise, artefacts) with its truth catalogue."""
    file_out(out_path)
    from ..cases.hicubes import simulate_hicube_file

    r = simulate_hicube_file(out_path, n_sources, _shape(shape), seed, noise, artefacts, truth, mask)
    out.print(f"wrote {r['cube']} {tuple(r['shape'])} with {r['sources']} sources (median S/N {r['median_snr']:.1f}) "
              f"and {r['truth']}" if r["sources"] else f"wrote {r['cube']} (noise only)")


@user_errors
def simulate_blends(
    out_path: Path = typer.Option(..., "--out", help=".npz: training stamps (images, isolated truth images, "
                                  "positions, fluxes); .fits: a survey field image with WCS."),
    n: int = typer.Option(1000, "--n", help=".npz: number of 48x48 blend stamps (1-3 galaxies each).", min=1),
    n_galaxies: int = typer.Option(100, "--n-galaxies", help=".fits: galaxies in the field (half in close pairs).", min=1),
    size: int = typer.Option(512, help=".fits: field side \\[pixels of 0.2\"].", min=8),
    truth: Optional[Path] = typer.Option(None, help=".fits: truth table (default <out>_truth.csv)."),
    seed: int = typer.Option(0, help="Random seed.", min=0),
):
    """Simulate blended galaxies (GalSim Sersic profiles, Moffat PSF, sky noise) with isolated truth."""
    file_out(out_path)
    from ..cases.blends import simulate_blends_file

    r = simulate_blends_file(out_path, n, seed, n_galaxies, size, truth)
    out.print(f"wrote {r['out']}" + (f" and {r['truth']}" if "truth" in r else ""))


@user_errors
def detect_cube(
    cube: Path = typer.Argument(..., help="FITS cube (FREQ or AWAV/WAVE spectral axis; .fits or .fits.gz)."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder: catalogue.fits/.csv, mask.fits, summary.json."),
    method: str = typer.Option("unet", help="unet (shipped 3-D U-Net) or sofia-like (our re-implementation of SoFiA-2: smooth-and-clip, linker, reliability; SoFiA-2 itself is not installed)."),
    min_score: float = typer.Option(0.8, help="unet: minimum peak source probability (higher: purer, less complete).", min=0.0, max=1.0),
    threshold: float = typer.Option(4.0, help="sofia-like: clip level in sigma.", min=0.0),
    min_reliability: float = typer.Option(0.9, help="sofia-like: minimum reliability.", min=0.0, max=1.0),
    block: str = typer.Option("128,96,96", help="Tile core (channels,y,x); memory grows with it."),
    halo: str = typer.Option("32,16,16", help="Tile overlap (channels,y,x): at least half the largest source."),
    characterise: bool = typer.Option(True, help="Per-source posteriors (flux, w20, size, inclination, PA) with "
                                                 "the shipped network, when the cube matches its instrument."),
    continuum_window: int = typer.Option(0, help="Subtract a running median of this many channels first "
                                                 "(optical IFU cubes with continuum sources; 0: off).", min=0),
    scheduler: Optional[str] = typer.Option(None, help="dask.distributed scheduler address (default: local threads)."),
    workers: Optional[int] = typer.Option(None, help="Local worker threads (default: min(2, cores)).", min=1),
    progress: bool = typer.Option(True, help="Show a progress bar."),
):
    """Detect, segment, measure and characterise the sources of a cube, tile by tile (resumable)."""
    from ..cases.hicubes import DetectConfig, detect_cube_file

    config = DetectConfig(method=method, min_score=min_score, threshold=threshold, min_reliability=min_reliability,
                          block=_shape(block), halo=_shape(halo), characterise=characterise,
                          continuum_window=continuum_window)
    r = detect_cube_file(cube, out_dir, config, scheduler, progress, workers, log=out.print)
    for note in r["notes"]:
        notice(note)
    out.print(f"{r['sources']} sources in {cube.name} ({r['method']}, {r['tiles']} tiles, {r['wall_time_s']:.1f} s); "
              f"wrote {out_dir}/catalogue.fits, catalogue.csv, mask.fits")


@user_errors
def deblend(
    image: Path = typer.Argument(..., help="FITS image in counts, background subtracted."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder: catalogue.fits/.csv, segmentation.fits, summary.json."),
    hdu: Optional[str] = typer.Option(None, help="HDU name or index (default: the first image HDU)."),
    noise: Optional[float] = typer.Option(None, help="Sky rms per pixel (default: robust estimate from the image).", min=0.0),
    threshold: float = typer.Option(0.8, help="Minimum centre probability of a detection (lower: more complete, less pure).", min=0.0, max=1.0),
):
    """Detect and deblend the galaxies of an image: fluxes with errors, shapes, segmentation map (WCS kept)."""
    from ..cases.blends import deblend_image_file

    h = int(hdu) if hdu is not None and hdu.isdigit() else hdu
    r = deblend_image_file(image, out_dir, h, noise, threshold)
    for note in r["notes"]:
        notice(note)
    out.print(f"{r['sources']} galaxies in {image.name} ({r['wall_time_s']:.2f} s); wrote {out_dir}/catalogue.fits, "
              "catalogue.csv, segmentation.fits")
