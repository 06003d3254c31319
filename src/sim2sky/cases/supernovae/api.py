"""File-level API of the supernova case (what ``sim2sky spectra sntype`` calls)."""

from __future__ import annotations

import numpy as np

from ...core.errors import InputError
from ...core.tables import write_table
from .pipeline import type_spectra
from .templates import flatten_spectrum

__all__ = ["sntype_table"]


def sntype_table(wave, flux, z: float, out=None, models=None):
    """Type spectra on a common grid: ``wave`` (L,) Angstrom, ``flux`` (L,) or (m, L); an astropy Table.

    Columns: subtype, p_subtype, broad_type, p_broad, age_bin, p_age, distance (Mahalanobis, for
    the "unknown" test). Written atomically to ``out`` when given.
    """
    from astropy.table import Table

    flux = np.atleast_2d(np.asarray(flux, float))
    if flux.shape[1] != len(np.ravel(wave)):
        raise InputError(f"flux: {flux.shape[1]} pixels per spectrum but {len(np.ravel(wave))} wavelengths")
    x = np.stack([flatten_spectrum(wave, f, z) for f in flux])
    r = type_spectra(x, models)
    tab = Table({"subtype": r["subtype"].astype(str), "p_subtype": r["subtype_proba"].max(1),
                 "broad_type": r["broad_type"], "p_broad": r["broad_proba"].max(1), "age_bin": r["age_bin"],
                 "p_age": r["age_proba"].max(1), "distance": r["distance"]})
    if out is not None:
        write_table(tab, out)
    return tab
