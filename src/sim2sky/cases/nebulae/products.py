"""Products of a cube run: FITS maps with the input's celestial WCS, a nebula catalogue, a report.

Everything is written into a staging folder first and moved into the output folder only when
complete, so an interrupted run never leaves a half-written set of products.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy import ndimage

from ...core.atomic import deferred_signals
from .lines import LINE_NAMES
from .report import write_report
from .schema import (CATALOGUE_MIN_AREA, CATALOGUE_MIN_SNR, CLASSES, CUBE_CLASSES, FLAG_DESCRIPTION, HII_KEYS,
                     HII_UNITS)

__all__ = ["write_products", "segment_nebulae"]

#: Classes segmented into discrete nebulae (diffuse gas is not).
CATALOGUED = tuple(c for c in CLASSES if c != "DIG")


def _image_hdus(p: dict, names, header, extra=None):
    hdus = [fits.PrimaryHDU()]
    for name, arr in zip(names, [p[n] for n in names]):
        hdu = fits.ImageHDU(arr.astype(np.float32), header=header.copy(), name=name)
        for k, v in (extra or {}).get(name, {}).items():
            hdu.header[k] = v
        hdus.append(hdu)
    return fits.HDUList(hdus)


def segment_nebulae(p: dict, spec, min_snr: float = CATALOGUE_MIN_SNR, min_area: int = CATALOGUE_MIN_AREA):
    """Connected regions (8-connected, >= ``min_area`` spaxels, about the seeing disk) of spaxels of
    one class among HII/PN/SNR with S/N(Hα) >= min_snr.

    ``p`` maps plane names to (ny, nx) maps. Returns an astropy Table: id, class, probability,
    ra, dec (Hα-weighted centroid), area_spaxels, <LINE> and <LINE>_ERR integrated over the
    region, and for HII the mean parameters of its spaxels.
    """
    cls, snr, ha = p["CLASS"], p["SNR_HA"], p["HA6563"]
    wcs = WCS(fits.Header.fromstring(spec.celestial_header))
    labels = np.zeros(cls.shape, np.int32)
    kinds = []
    for code, name in enumerate(CUBE_CLASSES):
        if name not in CATALOGUED:
            continue
        lab, n = ndimage.label((cls == code) & (snr >= min_snr), structure=np.ones((3, 3)))
        small = np.bincount(lab.ravel(), minlength=n + 1) < min_area
        small[0] = True
        lab, n = ndimage.label(~small[lab], structure=np.ones((3, 3)))   # drop regions below min_area
        labels[lab > 0] = lab[lab > 0] + len(kinds)
        kinds += [name] * n
    columns = ["id", "class", "probability", "ra", "dec", "x", "y", "area_spaxels"]
    if not kinds:
        return Table(names=columns, dtype=[int, str, float, float, float, float, float, int])
    # one pass per plane over all regions (ndimage reductions), not a Python loop per nebula
    index = np.arange(1, len(kinds) + 1)
    kinds = np.asarray(kinds)
    weight = np.clip(np.nan_to_num(ha), 0, None) + 1e-12
    yc, xc = np.asarray(ndimage.center_of_mass(weight, labels, index)).T
    ra, dec = wcs.pixel_to_world_values(xc, yc)
    area = ndimage.sum_labels(np.ones(cls.shape), labels, index).astype(int)
    prob = np.full(len(kinds), np.nan)
    for name in CATALOGUED:
        sel = kinds == name
        prob[sel] = (ndimage.sum_labels(np.nan_to_num(p[f"P_{name}"]), labels, index) / area)[sel]
    table = Table({"id": index, "class": kinds, "probability": prob, "ra": ra, "dec": dec, "x": xc, "y": yc,
                   "area_spaxels": area})
    for line in LINE_NAMES:
        f, e = p[line], p[f"{line}_ERR"]
        table[line] = ndimage.sum_labels(np.nan_to_num(f), labels, index)
        table[f"{line}_ERR"] = np.sqrt(ndimage.sum_labels(np.nan_to_num(e) ** 2, labels, index))
    for key in HII_KEYS:
        mean = p[f"{key}_MEAN"]
        finite = np.isfinite(mean)
        n_ok = ndimage.sum_labels(finite, labels, index)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = ndimage.sum_labels(np.where(finite, mean, 0.0), labels, index) / n_ok
        table[f"{key}_MEAN"] = np.where((kinds == "HII") & (n_ok > 0), avg, np.nan)
    return table


def write_products(spec, z: float, planes: np.ndarray, names, out_dir: Path, staging: Path,
                   report: bool = True) -> dict:
    """Write maps (FITS, input WCS), the nebula catalogue and the report; return the summary.

    ``planes`` (len(names), ny, nx) are the block outputs named by ``names``. Files are
    written into ``staging`` and moved into ``out_dir`` only when all are complete.
    """
    p = dict(zip(names, planes))
    staging = Path(staging)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cel = fits.Header.fromstring(spec.celestial_header)
    cel["BUNIT"] = "10**(-20)*erg/s/cm**2"
    lines = [n for l in LINE_NAMES for n in (l, f"{l}_ERR")] + ["VELOCITY", "SIGMA", "SNR_HA", "FLAGS"]
    units = {"VELOCITY": {"BUNIT": "km/s", "COMMENT": f"relative to z = {z}"},
             "SIGMA": {"BUNIT": "km/s", "COMMENT": "intrinsic (LSF removed)"}, "SNR_HA": {"BUNIT": ""},
             "FLAGS": {"BUNIT": "", "COMMENT": FLAG_DESCRIPTION}}
    _image_hdus(p, lines, cel, units).writeto(staging / "lines.fits")
    cls = _image_hdus(p, ["CLASS"], cel)
    cls[1].header["BUNIT"] = ""
    for i, c in enumerate(CUBE_CLASSES):
        cls[1].header[f"CLASS{i}"] = c
    cls.writeto(staging / "classes.fits")
    prob_names = [f"P_{c}" for c in CLASSES] + ["OOD_DISTANCE"]
    _image_hdus(p, prob_names, cel, {k: {"BUNIT": ""} for k in prob_names}).writeto(staging / "probabilities.fits")
    pnames = [f"{k}_{s}" for k in HII_KEYS for s in ("MEAN", "STD")]
    punits = dict(zip(HII_KEYS, HII_UNITS))
    _image_hdus(p, pnames, cel, {n: {"BUNIT": punits[n.rsplit("_", 1)[0]]} for n in pnames}).writeto(staging / "params.fits")
    cat = segment_nebulae(p, spec)
    cat.write(staging / "nebulae.csv", format="ascii.csv")
    cat.write(staging / "nebulae.fits")
    code = p["CLASS"]
    counts = {c: int((code == i).sum()) for i, c in enumerate(CUBE_CLASSES)}
    n_neb = {c: int((np.asarray(cat["class"]) == c).sum()) for c in CATALOGUED} if len(cat) else {}
    summary = {"class_counts": counts, "nebulae": n_neb, "out_dir": str(out_dir)}
    if report:
        write_report(spec, z, p, cat, summary, staging)
    out_dir.mkdir(parents=True, exist_ok=True)
    with deferred_signals():            # all new products or all old ones, whatever signal arrives
        for f in staging.iterdir():
            os.replace(f, out_dir / f.name)
    return summary
