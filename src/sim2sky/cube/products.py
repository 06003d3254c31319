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

from ..simulate.lines import LINE_NAMES

__all__ = ["write_products", "segment_nebulae"]



def _planes(planes, names):
    from .pipeline import plane_names

    idx = {n: i for i, n in enumerate(plane_names())}
    return [planes[idx[n]] for n in names]


def _image_hdus(planes, names, header, extra=None):
    hdus = [fits.PrimaryHDU()]
    for name, arr in zip(names, _planes(planes, names)):
        hdu = fits.ImageHDU(arr.astype(np.float32), header=header.copy(), name=name)
        for k, v in (extra or {}).get(name, {}).items():
            hdu.header[k] = v
        hdus.append(hdu)
    return fits.HDUList(hdus)


def segment_nebulae(planes, spec, min_snr: float = 5.0, min_area: int = 3):
    """Connected regions (8-connected, >= ``min_area`` spaxels, about the seeing disk) of spaxels of
    one class among HII/PN/SNR with S/N(Hα) >= min_snr.

    Returns an astropy Table: id, class, probability, ra, dec (Hα-weighted centroid),
    area_spaxels, <LINE> and <LINE>_ERR integrated over the region, and for HII the mean
    parameters of its spaxels.
    """
    from astropy.table import Table
    from astropy.wcs import WCS
    from scipy import ndimage

    from .pipeline import CLASS_CODES, PARAM_KEYS

    cls, snr, ha = _planes(planes, ["CLASS", "SNR_HA", "HA6563"])
    wcs = WCS(fits.Header.fromstring(spec.celestial_header))
    labels = np.zeros(cls.shape, np.int32)
    kinds = []
    for code, name in enumerate(CLASS_CODES[:3]):
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
    for name in CLASS_CODES[:3]:
        (p,) = _planes(planes, [f"P_{name}"])
        sel = kinds == name
        prob[sel] = (ndimage.sum_labels(np.nan_to_num(p), labels, index) / area)[sel]
    table = Table({"id": index, "class": kinds, "probability": prob, "ra": ra, "dec": dec, "x": xc, "y": yc,
                   "area_spaxels": area})
    for line in LINE_NAMES:
        f, e = _planes(planes, [line, f"{line}_ERR"])
        table[line] = ndimage.sum_labels(np.nan_to_num(f), labels, index)
        table[f"{line}_ERR"] = np.sqrt(ndimage.sum_labels(np.nan_to_num(e) ** 2, labels, index))
    for key in PARAM_KEYS:
        (mean,) = _planes(planes, [f"{key}_MEAN"])
        finite = np.isfinite(mean)
        n_ok = ndimage.sum_labels(finite, labels, index)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = ndimage.sum_labels(np.where(finite, mean, 0.0), labels, index) / n_ok
        table[f"{key}_MEAN"] = np.where((kinds == "HII") & (n_ok > 0), avg, np.nan)
    return table


def write_products(spec, planes, out_dir: Path, staging: Path, report: bool = True) -> dict:
    from .pipeline import CLASS_CODES, PARAM_KEYS

    staging = Path(staging)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cel = fits.Header.fromstring(spec.celestial_header)
    cel["BUNIT"] = "10**(-20)*erg/s/cm**2"
    lines = [n for l in LINE_NAMES for n in (l, f"{l}_ERR")] + ["VELOCITY", "SIGMA", "SNR_HA", "FLAGS"]
    units = {"VELOCITY": {"BUNIT": "km/s", "COMMENT": f"relative to z = {spec.redshift}"},
             "SIGMA": {"BUNIT": "km/s", "COMMENT": "intrinsic (LSF removed)"}, "SNR_HA": {"BUNIT": ""},
             "FLAGS": {"BUNIT": "", "COMMENT": "1 no data, 2 no Halpha (S/N<3), 4 masked pixels, 8 noise estimated"}}
    _image_hdus(planes, lines, cel, units).writeto(staging / "lines.fits")
    cls = _image_hdus(planes, ["CLASS"], cel)
    cls[1].header["BUNIT"] = ""
    for i, c in enumerate(CLASS_CODES):
        cls[1].header[f"CLASS{i}"] = c
    cls.writeto(staging / "classes.fits")
    _image_hdus(planes, ["P_HII", "P_PN", "P_SNR", "P_DIG", "OOD_DISTANCE"], cel,
                {k: {"BUNIT": ""} for k in ("P_HII", "P_PN", "P_SNR", "P_DIG", "OOD_DISTANCE")}).writeto(staging / "probabilities.fits")
    punits = {"OH": "dex", "LOGU": "dex", "LOGPK": "dex(K cm-3)", "EBV": "mag"}
    pnames = [f"{k}_{s}" for k in PARAM_KEYS for s in ("MEAN", "STD")]
    _image_hdus(planes, pnames, cel, {n: {"BUNIT": punits[n.rsplit("_", 1)[0]]} for n in pnames}).writeto(staging / "params.fits")
    cat = segment_nebulae(planes, spec)
    cat.write(staging / "nebulae.csv", format="ascii.csv")
    cat.write(staging / "nebulae.fits")
    code = _planes(planes, ["CLASS"])[0]
    counts = {c: int((code == i).sum()) for i, c in enumerate(CLASS_CODES)}
    n_neb = {c: int((np.asarray(cat["class"]) == c).sum()) for c in CLASS_CODES[:3]} if len(cat) else {}
    summary = {"class_counts": counts, "nebulae": n_neb, "out_dir": str(out_dir)}
    if report:
        from .report import write_report

        write_report(spec, planes, cat, summary, staging)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in staging.iterdir():
        os.replace(f, out_dir / f.name)
    return summary
