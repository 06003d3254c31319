"""File-level API of the supernova case (what ``sim2sky supernovae predict`` calls)."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from ...core.errors import InputError
from ...core.tables import write_table
from .pipeline import load_sn_typer, type_spectra
from .templates import flatten_spectrum

__all__ = ["sntype_columns", "sntype_table"]


def sntype_columns(wave, flux, z, models=None) -> dict:
    """Typing columns of spectra on a common grid: ``wave`` (L,) Angstrom (observed frame), ``flux``
    (L,) or (m, L), ``z`` one redshift or (m,) redshifts.

    Returns a dict of (m,) arrays: subtype, p_subtype, broad_type, p_broad, age_bin, p_age,
    distance (Mahalanobis, for the "unknown" test) and ``p_<SUBTYPE>`` for every subtype.
    """
    flux = np.atleast_2d(np.asarray(flux, float))
    if flux.shape[1] != len(np.ravel(wave)):
        raise InputError(f"flux: {flux.shape[1]} pixels per spectrum but {len(np.ravel(wave))} wavelengths")
    z = np.asarray(z, float)
    z = np.full(len(flux), z) if z.ndim == 0 else z
    if z.shape != (len(flux),):
        raise InputError(f"z: expected one redshift or one per spectrum ({len(flux)}), got shape {z.shape}")
    x = np.stack([flatten_spectrum(wave, f, zi) for f, zi in zip(flux, z)])
    models = models or load_sn_typer()
    r = type_spectra(x, models)
    cols = {"subtype": r["subtype"].astype(str), "p_subtype": r["subtype_proba"].max(1),
            "broad_type": r["broad_type"], "p_broad": r["broad_proba"].max(1), "age_bin": r["age_bin"],
            "p_age": r["age_proba"].max(1), "distance": r["distance"]}
    for j, name in enumerate(models[0].classes):
        cols[f"p_{name}"] = r["subtype_proba"][:, j]
    return cols


def sntype_table(wave, flux, z: float, out=None, models=None) -> Table:
    """:func:`sntype_columns` as an astropy Table, written atomically to ``out`` when given."""
    cols = sntype_columns(wave, flux, z, models)
    tab = Table({k: cols[k] for k in ("subtype", "p_subtype", "broad_type", "p_broad", "age_bin", "p_age", "distance")})
    if out is not None:
        write_table(tab, out)
    return tab
