"""Maintainer script: compact the spectral templates of the survey-spectra case into package data.

    python tools/build_spectra_templates.py ../shared/data

Writes src/sim2sky/cases/spectra/data/templates.npz (all wavelengths in vacuum Angstrom, rest frame):
- DESI redrock star templates (PCA bases + archetype coefficients; BSD-3): bases resampled from
  0.1 to 1 A steps over 3300-10800 A (more than the survey resolution needs);
- redrock QSO LOZ / HIZ eigenspectra (log-lambda, 4x coarser) and their training redshifts;
- BC03 (MPA-JHU set, 40 SSPs) and BPASS v2.2.1 binary SSPs, 2 A steps, normalised, with ages and Z;
- Castelli & Kurucz (2004) ATLAS9 fluxes (3,808 models; 371 wavelengths, log10 F_lambda as float16).
"""

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

OUT = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "cases" / "spectra" / "data" / "templates.npz"
STARS = ("B", "A", "F", "G", "K", "M", "WD")


def air_to_vacuum(air):
    """Ciddor (1996) / Morton (2000) air -> vacuum, as in IAU standard (valid > 2000 A)."""
    s2 = (1e4 / air) ** 2
    n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2)
    return air * n


def main(root):
    root = Path(root)
    out = {}
    star_wave = np.arange(3300.0, 10800.0 + 0.5, 1.0)
    for t in STARS:
        h = fits.open(root / f"templates/redrock/rrtemplate-STAR-{t}-v0.1.fits.gz")
        hd = h[0].header
        w = hd["CRVAL1"] + hd["CDELT1"] * np.arange(hd["NAXIS1"])
        basis = h[0].data
        # box-average 0.1 A -> 1 A, then sample the 1-A grid
        k = 10
        n = (len(w) // k) * k
        wb, bb = w[:n].reshape(-1, k).mean(1), basis[:, :n].reshape(len(basis), -1, k).mean(2)
        out[f"star_{t}_basis"] = np.stack([np.interp(star_wave, wb, b) for b in bb]).astype(np.float32)
        out[f"star_{t}_coeff"] = h[1].data.astype(np.float32)
    out["star_wave"] = star_wave
    for sub in ("LOZ", "HIZ"):
        h = fits.open(root / f"templates/redrock/rrtemplate-QSO-{sub}-v1.1.fits.gz")
        hd = h[0].header
        lw = hd["CRVAL1"] + hd["CDELT1"] * np.arange(hd["NAXIS1"])
        n = (len(lw) // 4) * 4
        out[f"qso_{sub}_loglam"] = lw[:n].reshape(-1, 4).mean(1)
        out[f"qso_{sub}_basis"] = h[0].data[:, :n].reshape(len(h[0].data), -1, 4).mean(2).astype(np.float32)
        out[f"qso_{sub}_z"] = h[1].data.astype(np.float32)
    ssp_wave = np.arange(3330.0, 10400.0, 2.0)
    spectra, ages, zs, lib = [], [], [], []
    for f in sorted((root / "templates/ssp/bc03_mpajhu").glob("BC03_*.fits")):
        h = fits.open(f)[0]
        w = air_to_vacuum(h.header["CRVAL1"] + h.header["CDELT1"] * np.arange(h.header["NAXIS1"]))   # BC03: air
        spectra.append(np.interp(ssp_wave, w, h.data, left=np.nan, right=np.nan))
        ages.append(h.header["AGE"]), zs.append(h.header["Z"]), lib.append(0)
    for f in sorted((root / "templates/ssp/bpass").glob("bin-*.fits")):
        h = fits.open(f)[0]
        w = h.header["CRVAL1"] + h.header["CDELT1"] * np.arange(h.header["NAXIS1"])   # BPASS: vacuum (README)
        name = f.stem.split("-")
        ages.append(10 ** (float(f.stem.split("-T")[1]) ) ), zs.append(float("0." + name[2][1:])), lib.append(1)
        spectra.append(np.interp(ssp_wave, w, h.data, left=np.nan, right=np.nan))
    spectra = np.array(spectra)
    spectra /= np.nanmedian(spectra, axis=1, keepdims=True)
    out.update(ssp_wave=ssp_wave, ssp_flux=spectra.astype(np.float32), ssp_age_gyr=np.array(ages),
               ssp_z=np.array(zs), ssp_library=np.array(lib))
    h = fits.open(root / "stars/theory/ck04_atlas9_optical.fits.gz")
    out["atlas9_wave"] = np.asarray(h["WAVELENGTH"].data["WAVELENGTH"], float)
    out["atlas9_params"] = np.stack([h["MODELS"].data[c] for c in ("TEFF", "LOGG", "MH")], 1).astype(np.float32)
    out["atlas9_logflux"] = np.log10(np.maximum(h[0].data, 1e-30)).astype(np.float16)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(OUT, f"{OUT.stat().st_size / 1e6:.2f} MB")
    for k, v in out.items():
        print(f"  {k:20s} {v.shape} {v.dtype}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
