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


def segment_nebulae(planes, spec, min_snr: float = 5.0):
    """Connected regions (8-connected) of spaxels of one class among HII/PN/SNR with S/N(Hα) >= min_snr.

    Returns an astropy Table: id, class, probability, ra, dec (Hα-weighted centroid),
    area_spaxels, <LINE> and <LINE>_ERR integrated over the region, and for HII the mean
    parameters of its spaxels.
    """
    from astropy.table import Table
    from astropy.wcs import WCS
    from scipy import ndimage

    from .pipeline import CLASS_CODES, PARAM_KEYS

    cls, snr = _planes(planes, ["CLASS", "SNR_HA"])
    wcs = WCS(fits.Header.fromstring(spec.celestial_header))
    rows = []
    for code, name in enumerate(CLASS_CODES[:3]):
        mask = (cls == code) & (snr >= min_snr)
        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        if n == 0:
            continue
        objects = ndimage.find_objects(labels)
        (ha,) = _planes(planes, ["HA6563"])
        (p,) = _planes(planes, [f"P_{name}"])
        for k, sl in enumerate(objects, start=1):
            m = labels[sl] == k
            yy, xx = np.nonzero(m)
            w = np.clip(np.nan_to_num(ha[sl][m]), 0, None) + 1e-12
            yc, xc = (yy * w).sum() / w.sum() + sl[0].start, (xx * w).sum() / w.sum() + sl[1].start
            ra, dec = wcs.pixel_to_world_values(xc, yc)
            row = {"id": len(rows) + 1, "class": name, "probability": float(np.nanmean(p[sl][m])),
                   "ra": float(ra), "dec": float(dec), "x": float(xc), "y": float(yc), "area_spaxels": int(m.sum())}
            for line in LINE_NAMES:
                f, e = _planes(planes, [line, f"{line}_ERR"])
                row[line] = float(np.nansum(f[sl][m]))
                row[f"{line}_ERR"] = float(np.sqrt(np.nansum(e[sl][m] ** 2)))
            for key in PARAM_KEYS:
                (mean,) = _planes(planes, [f"{key}_MEAN"])
                vals = mean[sl][m]
                row[f"{key}_MEAN"] = float(np.nanmean(vals)) if name == "HII" and np.isfinite(vals).any() else np.nan
            rows.append(row)
    if not rows:
        return Table(names=["id", "class", "probability", "ra", "dec", "x", "y", "area_spaxels"],
                     dtype=[int, str, float, float, float, float, float, int])
    return Table(rows=rows)


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
