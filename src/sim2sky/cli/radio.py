"""``sim2sky radio predict`` (alias ``classify``): radio-source morphology of FITS cutouts, stacks or ``.npz``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import file_out, out, user_errors

__all__ = ["radio_predict"]


@user_errors
def radio_predict(
    inputs: list[Path] = typer.Argument(..., help="2-D FITS cutouts with a celestial WCS (BMAJ/BMIN or a known SURVEY "
                                        "keyword give the beam), a stacked 3-D FITS (n, ny, nx) with CDELT1/2 and "
                                        "BMAJ/BMIN in degrees, or an .npz with 'images' (needs --pixel-scale and "
                                        "--beam)."),
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .ecsv, .fits): one row per image, in input "
                                  "order: class (FRI, FRII, Bent, Compact or unknown), p_<class>, flag, ood_distance, "
                                  "peak_snr, ra, dec."),
    pixel_scale: Optional[float] = typer.Option(None, "--pixel-scale", help="Pixel size \\[arcsec] (overrides the header)."),
    beam: Optional[float] = typer.Option(None, "--beam", help="Beam FWHM \\[arcsec] (overrides BMAJ/BMIN)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped classifier)."),
    class_priors: Optional[str] = typer.Option(
        None, "--class-priors", help="Class fractions of your sample, every class named (e.g. "
        "FRI=0.4,FRII=0.5,Bent=0.1,Compact=0), or a preset: mirabest (a sample selected like MiraBest: FRI 0.433, "
        "FRII 0.515, Bent 0.052, no compact sources) or trained (no re-weighting, the default). Probabilities are "
        "re-weighted by prior / training fraction; 'unknown' is unaffected."),
):
    """Classify radio sources into FRI, FRII, Bent (wide-angle and head-tail), Compact or unknown.

    Any survey: cutouts finer than FIRST are smoothed to its 5.4" beam, all are resampled to 64 x 1.8"
    (115") around their centre; coarser beams are kept and flagged coarse_beam beyond 20". The
    absolute flux scale does not matter (Jy/beam or rescaled 8-bit cutouts give the same answer).
    """
    from ..cases.radio import load
    from ..core.tables import write_table

    file_out(out_path)
    table = load(model).predict([str(p) for p in inputs], pixel_scale=pixel_scale, beam=beam,
                                class_priors=class_priors)
    write_table(table, out_path)
    counts = {c: int((table["class"] == c).sum()) for c in ("FRI", "FRII", "Bent", "Compact", "unknown")}
    out.print(f"{len(table)} images: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v) + f" -> {out_path}")
