"""SNID template spectra (``.lnw``) and the preprocessing that puts any spectrum on their grid.

SNID templates (Blondin & Tonry 2007) hold several epochs of one supernova, continuum-removed
("flattened") and binned on a 1024-bin log-wavelength grid from 2500 to 10000 A, with the age of
each epoch in days from maximum light. :func:`flatten_spectrum` does the same to an observed
spectrum: de-redshift, log-rebin, divide by a smooth continuum (a cubic spline through the
median flux in ~13 log-spaced knots, as SNID does), subtract 1 and apodise the ends.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
from scipy import interpolate

from ...core.data import dataset_file
from ...core.errors import InputError
from .schema import N_BINS, SN_SUBTYPES, log_wave_grid

__all__ = ["parse_lnw", "read_sn_templates", "flatten_spectrum", "normalise"]


def parse_lnw(text: str, name: str = "template") -> dict:
    """One ``.lnw`` file: ``sn``, ``subtype``, ``age`` (k,), ``flux`` (k, 1024) float32."""
    lines = text.splitlines()
    try:
        head = lines[0].split()
        n_epochs, n_bins, n_knots = int(head[0]), int(head[1]), int(head[4])
        sn, subtype = head[5], head[7]
        ages_line = 1 + 1 + n_knots
        ages = np.array(lines[ages_line].split()[1:1 + n_epochs], float)
        data = np.array([ln.split() for ln in lines[ages_line + 1:ages_line + 1 + n_bins]], float)
    except (IndexError, ValueError) as exc:
        raise InputError(f"{name}: not a SNID .lnw template ({exc})") from None
    if data.shape != (N_BINS, n_epochs + 1):
        raise InputError(f"{name}: expected {N_BINS} rows of {n_epochs + 1} columns, got {data.shape}")
    return {"sn": sn, "subtype": subtype, "age": ages, "flux": data[:, 1:].T.astype(np.float32)}


def read_sn_templates(path=None, data_dir=None) -> dict:
    """All templates of the DASH archive whose subtype is in ``SN_SUBTYPES``.

    Returns ``flux`` (n, 1024) float32 (normalised, see :func:`normalise`), ``subtype`` (n,),
    ``sn`` (n,), ``age`` (n,) days from maximum.
    """
    path = Path(path) if path is not None else dataset_file("sn-templates", "spectra_real/sn_templates_astrodash.tar.gz",
                                                            data_dir)
    if not path.is_file():
        raise InputError(f"SN template archive {path} does not exist")
    out = {"flux": [], "subtype": [], "sn": [], "age": []}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            if not (m.isfile() and m.name.endswith(".lnw")):
                continue
            t = parse_lnw(tar.extractfile(m).read().decode("latin-1"), m.name)
            if t["subtype"] not in SN_SUBTYPES:
                continue
            for k in range(len(t["age"])):
                out["flux"].append(normalise(t["flux"][k]))
                out["subtype"].append(t["subtype"])
                out["sn"].append(t["sn"])
                out["age"].append(t["age"][k])
    if not out["flux"]:
        raise InputError(f"{path}: no SNID templates found")
    return {"flux": np.stack(out["flux"]).astype(np.float32), "subtype": np.array(out["subtype"]),
            "sn": np.array(out["sn"]), "age": np.array(out["age"], float)}


def normalise(flux: np.ndarray) -> np.ndarray:
    """Zero mean and unit standard deviation over the covered (non-zero) bins; zeros elsewhere."""
    flux = np.nan_to_num(np.asarray(flux, np.float32))
    covered = flux != 0
    if covered.sum() < 10:
        return np.zeros_like(flux)
    v = flux[covered]
    out = np.zeros_like(flux)
    out[covered] = (v - v.mean()) / max(v.std(), 1e-6)
    return out


def flatten_spectrum(wave, flux, z: float = 0.0, n_knots: int = 13, apodise: float = 0.05) -> np.ndarray:
    """An observed spectrum on the template grid (1024,) float32, continuum removed and normalised.

    ``wave`` (n,) observed-frame Angstrom, ``flux`` (n,) any flux density units, ``z`` redshift.
    Bins outside the observed range are 0 (as in SNID templates).
    """
    wave, flux = np.asarray(wave, float).ravel(), np.asarray(flux, float).ravel()
    if wave.shape != flux.shape or len(wave) < 20:
        raise InputError(f"spectrum: wave and flux must be 1-D of equal length >= 20, got {wave.shape}, {flux.shape}")
    if not (np.isfinite(z) and -0.01 < z < 5):
        raise InputError(f"z: expected a redshift between 0 and 5, got {z}")
    ok = np.isfinite(wave) & np.isfinite(flux)
    rest = wave[ok] / (1 + z)
    order = np.argsort(rest)
    rest, f = rest[order], flux[ok][order]
    grid = log_wave_grid()
    inside = (grid >= rest[0]) & (grid <= rest[-1])
    if inside.sum() < 50:
        raise InputError(f"spectrum: rest-frame coverage {rest[0]:.0f}-{rest[-1]:.0f} A overlaps the 2500-10000 A "
                         "template grid by fewer than 50 bins; check the wavelength units (Angstrom) and z")
    g = grid[inside]
    rebinned = np.interp(g, rest, f)
    # continuum: cubic spline through medians of log-spaced segments (SNID's 13-knot spline)
    edges = np.linspace(0, len(g), n_knots + 1).astype(int)
    xk = np.array([np.mean(np.log(g[a:b])) for a, b in zip(edges[:-1], edges[1:]) if b > a])
    yk = np.array([np.median(rebinned[a:b]) for a, b in zip(edges[:-1], edges[1:]) if b > a])
    if np.any(yk <= 0):
        cont = np.interp(np.log(g), xk, np.where(yk == 0, 1e-30, yk))
        flat = rebinned - cont
        flat = flat / max(np.abs(cont).mean(), 1e-30)
    else:
        cont = np.exp(interpolate.CubicSpline(xk, np.log(yk), bc_type="natural")(np.log(g)))
        flat = rebinned / cont - 1.0
    n_apo = max(1, int(apodise * len(g)))
    taper = np.ones(len(g))
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(n_apo) / n_apo))
    taper[:n_apo], taper[-n_apo:] = ramp, ramp[::-1]
    out = np.zeros(N_BINS, np.float32)
    out[inside] = flat * taper
    return normalise(out)
