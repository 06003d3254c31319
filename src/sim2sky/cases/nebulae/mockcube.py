"""Mock MUSE cubes of a nearby-galaxy field with known truth.

HII regions (MAPPINGS grid, resolved Gaussian blobs), planetary nebulae (3MdB, point sources
at the seeing), supernova remnants (shock model, small blobs) on a diffuse-ionised-gas disk
and an exponential stellar continuum with Balmer absorption; a rotating disk sets the velocity
of every spaxel; noise is drawn from the real MUSE STAT spectra (units 1e-20 erg/s/cm2/Å, as
MUSE). The ``TRUTH_*`` extensions hold the true class map (the class that dominates the Hα
flux of the spaxel, or ``no-signal``) and the true parameters of the HII regions.

The cube is written block by block into a pre-allocated FITS file through a memory map, so
any size can be made with bounded memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from ...apply.fitscube import create_empty_fits
from ...core.atomic import atomic_file
from ...core.errors import InputError
from .lines import LINE_WAVES, ccm89_k, line_index
from .observe import noise_library, render_lines
from .schema import CUBE_CLASSES, HII_KEYS, HII_LABELS, NO_SIGNAL
from .theory import DiffuseIonisedGas, MappingsHII, PNe3MdB, ShockSNR

__all__ = ["make_mock_cube"]
_HA = line_index("HA6563")


def _objects(kind, model, n, rng, nx, ny, size, peak_sn, sigma_psf):
    params, f = model.sample(n, rng)
    ebv = rng.uniform(0.0, 0.6, n)
    obs = f * 10 ** (-0.4 * ccm89_k(LINE_WAVES, 3.1)[None, :] * ebv[:, None])
    obs /= obs[:, _HA:_HA + 1]
    width = np.sqrt(rng.uniform(*size, n) ** 2 + sigma_psf**2)
    return {"kind": kind, "x": rng.uniform(2, nx - 3, n), "y": rng.uniform(2, ny - 3, n), "width": width,
            "peak_sn": 10 ** rng.uniform(*np.log10(peak_sn), n), "ratios": obs, "sigma": rng.uniform(*model.sigma_kms, n),
            "params": params, "ebv": ebv}


def make_mock_cube(out, nx: int = 60, ny: int = 60, seed: int = 0, z: float = 0.005, block_rows: int = 8,
                   sigma_psf: float = 1.3) -> Path:
    """Write a mock MUSE cube to ``out`` (uncompressed FITS, written atomically); return the path.

    Parameters
    ----------
    nx, ny : spaxels; seed : random seed; z : systemic redshift (also in header ``Z_SYS``)
    sigma_psf : seeing sigma [spaxels] (0.8" FWHM at 0.2"/spaxel ≈ 1.7; default a little sharper)
    """
    if nx < 8 or ny < 8:
        raise InputError(f"--size: {nx} x {ny} is too small; use at least 8 x 8 spaxels")
    if not Path(out).name.endswith((".fits", ".fit")):
        raise InputError(f"--out: {Path(out).name} must end in .fits (uncompressed, so that it can be memory-mapped)")
    rng = np.random.default_rng(seed)
    wave, noise_var = noise_library()
    L = len(wave)
    area = nx * ny
    objs = [
        _objects("HII", MappingsHII(), max(2, area // 250), rng, nx, ny, (1.0, 2.5), (30, 300), sigma_psf),
        _objects("PN", PNe3MdB(), max(1, area // 300), rng, nx, ny, (0.0, 0.3), (15, 80), sigma_psf),
        _objects("SNR", ShockSNR(), max(1, area // 300), rng, nx, ny, (0.5, 1.5), (15, 80), sigma_psf),
    ]
    # Hα S/N per spaxel for a line of unit flux on the typical noise: sets the flux scale
    typical_var = np.median(noise_var, axis=0)
    i_ha = np.searchsorted(wave, LINE_WAVES[_HA] * (1 + z))
    sigma_unit = np.sqrt(typical_var[i_ha] * 1.25 * 2 * np.sqrt(np.pi) * 1.15)   # matched-filter error, σ_line ≈ 1.15 Å
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    xc, yc, inc, pa = nx / 2, ny / 2, np.radians(55), rng.uniform(0, np.pi)
    dx, dy = xx - xc, yy - yc
    xr = dx * np.cos(pa) + dy * np.sin(pa)
    yr = (-dx * np.sin(pa) + dy * np.cos(pa)) / np.cos(inc)
    r = np.hypot(xr, yr)
    theta = np.arctan2(yr, xr)
    velocity = 160.0 * np.tanh(r / (nx / 6)) * np.cos(theta) * np.sin(inc)
    r_d = max(nx, ny) / 3
    dig_sn = 6.0 * np.exp(-r / r_d) + 1.0                    # DIG Hα S/N per spaxel
    continuum = 25.0 * np.exp(-r / r_d)                      # 1e-20 erg/s/cm2/Å at Hα

    ha_by_class = np.zeros((4, ny, nx))
    ratio_sum = np.zeros((ny, nx, len(LINE_WAVES)))
    sigma_sum = np.zeros((ny, nx))
    truth_params = np.full((4, ny, nx), np.nan)            # OH, logU, logP/k, E(B-V) of the dominant HII
    best_hii = np.zeros((ny, nx))
    for k, o in enumerate(objs):
        for j in range(len(o["x"])):
            prof = np.exp(-0.5 * ((xx - o["x"][j]) ** 2 + (yy - o["y"][j]) ** 2) / o["width"][j] ** 2)
            ha = o["peak_sn"][j] * sigma_unit * prof
            ha_by_class[k] += ha
            ratio_sum += ha[..., None] * o["ratios"][j]
            sigma_sum += ha * o["sigma"][j]
            if o["kind"] == "HII":
                better = ha > best_hii
                best_hii = np.where(better, ha, best_hii)
                p = o["params"]
                for i, v in enumerate([p[k][j] for k in HII_LABELS[:3]] + [o["ebv"][j]]):
                    truth_params[i][better] = v
    dig_p, dig_f = DiffuseIonisedGas().sample(16, rng)
    dig_ratios = dig_f * 10 ** (-0.4 * ccm89_k(LINE_WAVES, 3.1)[None, :] * 0.3)
    dig_ratios /= dig_ratios[:, _HA:_HA + 1]
    cell = (np.clip(yy * 4 // ny, 0, 3) * 4 + np.clip(xx * 4 // nx, 0, 3)).astype(int)
    ha_dig = dig_sn * sigma_unit
    ha_by_class[3] = ha_dig
    ratio_sum += ha_dig[..., None] * dig_ratios[cell]
    sigma_sum += ha_dig * 30.0
    ha_total = ha_by_class.sum(0)
    line_flux = ratio_sum                                    # (ny, nx, 15), Hα-weighted sums = fluxes
    sigma_map = sigma_sum / ha_total
    truth_class = np.argmax(ha_by_class, axis=0)
    truth_class = np.where(ha_total / sigma_unit < 3, CUBE_CLASSES.index(NO_SIGNAL), truth_class)
    truth_params[:, truth_class != 0] = np.nan

    header = _cube_header(nx, ny, wave)
    primary = fits.Header()
    primary["OBJECT"] = "sim2sky mock nearby-galaxy field"
    primary["Z_SYS"] = (z, "systemic redshift")
    primary["SIMSEED"] = seed
    primary["BUNIT"] = "10**(-20)*erg/s/cm**2/Angstrom"
    cel = _celestial_header(nx, ny)
    out = Path(out)
    exts = [("PRIMARY", primary, None, None), ("DATA", header, (L, ny, nx), "float32"),
            ("STAT", header, (L, ny, nx), "float32"), ("DQ", header, (L, ny, nx), "uint8")]
    with atomic_file(out) as tmp:
        create_empty_fits(tmp, exts)
        with fits.open(tmp) as h:
            offsets = {name: h.fileinfo(i)["datLoc"] for i, name in enumerate(("PRIMARY", "DATA", "STAT", "DQ"))}
        for y0 in range(0, ny, block_rows):
            # a fresh memory map per block: written pages are released, so RSS stays bounded
            h = {name: np.memmap(tmp, dtype=">f4", mode="r+", offset=offsets[name], shape=(L, ny, nx))
                 for name in ("DATA", "STAT")}
            y1 = min(ny, y0 + block_rows)
            sl = (slice(y0, y1), slice(None))
            n = (y1 - y0) * nx
            obs = line_flux[sl].reshape(n, -1)
            spec, _, _ = render_lines(wave, obs, velocity[sl].ravel(), sigma_map[sl].ravel(),
                                      continuum[sl].ravel(), np.full(n, -0.8), np.full(n, 2.0), z=z)
            var = noise_var[rng.integers(0, len(noise_var), n)]
            spec += rng.standard_normal(spec.shape).astype(np.float32) * np.sqrt(var)
            h["DATA"][:, y0:y1, :] = spec.reshape(y1 - y0, nx, L).transpose(2, 0, 1)
            h["STAT"][:, y0:y1, :] = var.reshape(y1 - y0, nx, L).transpose(2, 0, 1)
            for m in h.values():
                m.flush()
            del h
        truth = fits.HDUList([fits.ImageHDU(truth_class.astype(np.int16), header=cel, name="TRUTH_CLASS")])
        truth[0].header["CLASSES"] = ",".join(CUBE_CLASSES)
        for name, arr in zip([f"TRUTH_{k}" for k in HII_KEYS], truth_params):
            truth.append(fits.ImageHDU(arr.astype(np.float32), header=cel, name=name))
        truth.append(fits.ImageHDU(velocity.astype(np.float32), header=cel, name="TRUTH_VELOCITY"))
        truth.append(fits.ImageHDU(ha_total.astype(np.float32), header=cel, name="TRUTH_HALPHA"))
        with open(tmp, "ab") as fh:
            for hdu in truth:
                fh.write(hdu.header.tostring().encode("ascii") + _padded(hdu.data))
    return out


def _padded(data: np.ndarray) -> bytes:
    raw = data.astype(data.dtype.newbyteorder(">")).tobytes()
    return raw + b"\0" * (-len(raw) % 2880)


def _celestial_header(nx, ny) -> fits.Header:
    h = fits.Header()
    h["WCSAXES"] = 2
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["CRVAL1"], h["CRVAL2"] = 23.4621, 30.6599          # near M33
    h["CRPIX1"], h["CRPIX2"] = nx / 2 + 0.5, ny / 2 + 0.5
    h["CD1_1"], h["CD2_2"] = -0.2 / 3600, 0.2 / 3600
    h["CD1_2"], h["CD2_1"] = 0.0, 0.0
    h["RADESYS"] = "ICRS"
    return h


def _cube_header(nx, ny, wave) -> fits.Header:
    h = _celestial_header(nx, ny)
    h["WCSAXES"] = 3
    h["CTYPE3"], h["CUNIT3"] = "AWAV", "Angstrom"
    h["CRVAL3"], h["CRPIX3"], h["CD3_3"] = float(wave[0]), 1.0, float(wave[1] - wave[0])
    h["CD1_3"] = h["CD2_3"] = h["CD3_1"] = h["CD3_2"] = 0.0
    h["BUNIT"] = "10**(-20)*erg/s/cm**2/Angstrom"
    return h
