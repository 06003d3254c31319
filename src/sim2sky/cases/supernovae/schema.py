"""Vocabulary of the supernova-typing case: SNID/DASH subtypes, broad types, age bins, the spectral grid."""

from __future__ import annotations

import numpy as np

__all__ = ["SN_SUBTYPES", "BROAD_TYPE", "AGE_EDGES", "AGE_LABELS", "N_BINS", "WAVE_MIN", "WAVE_MAX", "log_wave_grid",
           "age_bin"]

#: subtypes of the SNID templates used by DASH (Blondin & Tonry 2007; Muthukrishna et al. 2019)
SN_SUBTYPES = ("Ia-norm", "Ia-91T", "Ia-91bg", "Ia-csm", "Ia-02cx", "Ia-pec", "Ia-99aa", "Ib-norm", "Ibn", "IIb",
               "Ib-pec", "Ic-norm", "Ic-broad", "Ic-pec", "IIP", "IIL", "IIn", "II-pec")
#: broad type of each subtype (Ia-99aa and Ia-02cx are SNe Ia; IIb counts with type II)
BROAD_TYPE = {s: ("Ia" if s.startswith("Ia") else "Ib" if s.startswith("Ib") else "Ic" if s.startswith("Ic") else "II")
              for s in SN_SUBTYPES}
#: days from maximum light: bin edges of the age classifier
AGE_EDGES = (-np.inf, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0, 35.0, np.inf)
AGE_LABELS = ("<-10d", "-10..-5d", "-5..0d", "0..5d", "5..10d", "10..20d", "20..35d", ">35d")
#: SNID's log-wavelength grid: 1024 bins from 2500 to 10000 A (rest frame)
N_BINS, WAVE_MIN, WAVE_MAX = 1024, 2500.0, 10000.0


def log_wave_grid() -> np.ndarray:
    """Bin centres (N_BINS,) in Angstrom of SNID's logarithmic grid."""
    dl = np.log(WAVE_MAX / WAVE_MIN) / N_BINS
    return WAVE_MIN * np.exp(dl * (np.arange(N_BINS) + 0.5))


def age_bin(age_days) -> np.ndarray:
    """Index into AGE_LABELS of each age (days from maximum)."""
    return np.searchsorted(np.asarray(AGE_EDGES[1:-1]), np.asarray(age_days, float), side="right")
