"""Emission lines of the MUSE range, atomic-physics line ratios, extinction and the MUSE LSF.

Line ratios fixed or set by atomic physics (doublet ratios, the [SII] density diagnostic, the
Balmer and HeI ratios) come from PyNeb (Luridiana, Morisset & Shaw 2015, arXiv:1410.6662)
evaluated once on a (T_e, n_e) grid and shipped in ``atomic_cache.npz``; bilinear interpolation
in that table makes 10^6 evaluations cost milliseconds instead of the minutes PyNeb itself
takes. ``build_atomic_cache()`` regenerates the file (needs the ``pyneb`` package).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["Line", "LINES", "LINE_NAMES", "line_index", "AtomicCache", "atomic", "build_atomic_cache",
           "ccm89_k", "muse_lsf_fwhm", "C_KMS", "data_file"]

C_KMS = 299792.458
@dataclass(frozen=True)
class Line:
    name: str          # column name used in tables and FITS maps
    wave: float        # rest wavelength in air [Angstrom]
    label: str         # for plots


# Air wavelengths (NIST / PyNeb). Doublet members whose ratio is fixed by atomic physics are
# listed separately because the spectra render them separately.
LINES = (
    Line("HB4861", 4861.33, "Hβ"),
    Line("OIII4959", 4958.91, "[OIII]4959"),
    Line("OIII5007", 5006.84, "[OIII]5007"),
    Line("NI5200", 5199.35, "[NI]5198,5200"),
    Line("HEI5876", 5875.62, "HeI5876"),
    Line("OI6300", 6300.30, "[OI]6300"),
    Line("OI6364", 6363.78, "[OI]6364"),
    Line("NII6548", 6548.05, "[NII]6548"),
    Line("HA6563", 6562.80, "Hα"),
    Line("NII6584", 6583.45, "[NII]6584"),
    Line("HEI6678", 6678.15, "HeI6678"),
    Line("SII6717", 6716.44, "[SII]6717"),
    Line("SII6731", 6730.82, "[SII]6731"),
    Line("ARIII7135", 7135.79, "[ArIII]7135"),
    Line("SIII9069", 9068.60, "[SIII]9069"),
)
LINE_NAMES = tuple(l.name for l in LINES)
LINE_WAVES = np.array([l.wave for l in LINES])


def data_file(name: str):
    """A file shipped in this case's ``data/`` folder (an importlib resource)."""
    return resources.files(__package__).joinpath("data").joinpath(name)


def line_index(name: str) -> int:
    return LINE_NAMES.index(name)


_T_GRID = np.arange(5000.0, 25001.0, 1000.0)      # K
_LOGN_GRID = np.arange(0.0, 5.01, 0.2)            # log10 cm^-3
_QUANTITIES = {
    # name: (atom, numerator, denominator)
    "sii_6717_6731": ("S2", 6716, 6731),
    "oiii_4959_5007": ("O3", 4959, 5007),
    "nii_6548_6584": ("N2", 6548, 6584),
    "oi_6364_6300": ("O1", 6364, 6300),
    "ha_hb": ("H1", "3_2", "4_2"),
    "hei_6678_5876": ("He1", "6678.0", "5876.0"),
    "hei5876_hb_per_y": ("He1/H1", "5876.0", "4_2"),   # HeI5876/Hbeta per unit He+/H+
    "ariii7135_siii9069": ("Ar3/S3", 7136, 9069),        # emissivity ratio per unit Ar++/S++
}


def build_atomic_cache(path=None) -> dict:
    """Evaluate the PyNeb ratios on the (T_e, n_e) grid; write them to ``path`` if given."""
    import pyneb as pn  # the 'grids' extra: rebuilding the atomic cache only

    T, n = _T_GRID, 10 ** _LOGN_GRID
    atoms = {"S2": pn.Atom("S", 2), "O3": pn.Atom("O", 3), "N2": pn.Atom("N", 2), "O1": pn.Atom("O", 1),
             "Ar3": pn.Atom("Ar", 3), "S3": pn.Atom("S", 3)}
    H1, He1 = pn.RecAtom("H", 1), pn.RecAtom("He", 1)
    out = {"T": T, "logn": _LOGN_GRID}
    for key, (atom, a, b) in _QUANTITIES.items():
        if atom == "H1":
            num, den = H1.getEmissivity(T, n, label=a), H1.getEmissivity(T, n, label=b)
        elif atom == "He1":
            num, den = He1.getEmissivity(T, n, label=a), He1.getEmissivity(T, n, label=b)
        elif atom == "He1/H1":
            num, den = He1.getEmissivity(T, n, label=a), H1.getEmissivity(T, n, label=b)
        elif atom == "Ar3/S3":
            num, den = atoms["Ar3"].getEmissivity(T, n, wave=a), atoms["S3"].getEmissivity(T, n, wave=b)
        else:
            num, den = atoms[atom].getEmissivity(T, n, wave=a), atoms[atom].getEmissivity(T, n, wave=b)
        out[key] = np.asarray(num / den, dtype=np.float64).reshape(len(T), len(n))
    if path is not None:
        np.savez(path, **out)
    return out


class AtomicCache:
    """Bilinear interpolation of PyNeb line ratios in (T_e [K], log10 n_e [cm^-3]).

    Inputs outside the grid (5000-25000 K, 1-10^5 cm^-3) are clipped to its edge.
    """

    def __init__(self, tables: dict):
        self.T, self.logn = np.asarray(tables["T"]), np.asarray(tables["logn"])
        self.tables = {k: np.asarray(tables[k]) for k in _QUANTITIES}

    def __call__(self, quantity: str, T_e, n_e) -> np.ndarray:
        table = self.tables[quantity]
        t = np.clip(np.asarray(T_e, float), self.T[0], self.T[-1])
        ln = np.clip(np.log10(np.maximum(np.asarray(n_e, float), 1e-30)), self.logn[0], self.logn[-1])
        it = np.clip(np.searchsorted(self.T, t) - 1, 0, len(self.T) - 2)
        jn = np.clip(np.searchsorted(self.logn, ln) - 1, 0, len(self.logn) - 2)
        ft = (t - self.T[it]) / (self.T[it + 1] - self.T[it])
        fn = (ln - self.logn[jn]) / (self.logn[jn + 1] - self.logn[jn])
        return ((1 - ft) * (1 - fn) * table[it, jn] + ft * (1 - fn) * table[it + 1, jn]
                + (1 - ft) * fn * table[it, jn + 1] + ft * fn * table[it + 1, jn + 1])


_ATOMIC: AtomicCache | None = None


def atomic() -> AtomicCache:
    """The shipped PyNeb cache (loaded once; ``allow_pickle=False``)."""
    global _ATOMIC
    if _ATOMIC is None:
        with resources.files(__package__).joinpath("data").joinpath("atomic_cache.npz").open("rb") as fh:
            with np.load(fh, allow_pickle=False) as data:
                _ATOMIC = AtomicCache({k: data[k] for k in data.files})
    return _ATOMIC


def ccm89_k(wave, r_v=3.1) -> np.ndarray:
    """Extinction curve k(λ) = A(λ)/E(B-V) of Cardelli, Clayton & Mathis (1989, ApJ 345, 245).

    IR, optical and UV branches from 1250 Å to 3.3 µm (constant beyond the ends: quasar rest
    frames reach the far UV). The one implementation for every case: written out because it is
    20 lines and must broadcast over a per-spectrum R_V, which the ``dust_extinction`` models do
    not; checked against the published k(Hβ) = 3.61, k(Hα) = 2.53 for R_V = 3.1 in the tests.

    Parameters
    ----------
    wave : array, Angstrom
    r_v : float or array broadcastable with ``wave``

    Returns
    -------
    k : array, the broadcast shape of ``wave`` and ``r_v``
    """
    x = 1e4 / np.clip(np.asarray(wave, float), 1250.0, 33000.0)
    r_v = np.asarray(r_v, float)
    y = x - 1.82
    a = 1 + 0.17699 * y - 0.50447 * y**2 - 0.02427 * y**3 + 0.72085 * y**4 + 0.01979 * y**5 - 0.77530 * y**6 + 0.32999 * y**7
    b = 1.41338 * y + 2.28305 * y**2 + 1.07233 * y**3 - 5.38434 * y**4 - 0.62251 * y**5 + 5.30260 * y**6 - 2.09002 * y**7
    ir, uv = x < 1.1, x >= 3.3
    a, b = np.where(ir, 0.574 * x**1.61, a), np.where(ir, -0.527 * x**1.61, b)
    far = np.clip(x - 5.9, 0, None)
    a_uv = 1.752 - 0.316 * x - 0.104 / ((x - 4.67) ** 2 + 0.341) - 0.04473 * far**2 - 0.009779 * far**3
    b_uv = -3.090 + 1.825 * x + 1.206 / ((x - 4.62) ** 2 + 0.263) + 0.2130 * far**2 + 0.1207 * far**3
    a, b = np.where(uv, a_uv, a), np.where(uv, b_uv, b)
    return r_v * a + b


def muse_lsf_fwhm(wave) -> np.ndarray:
    """MUSE line-spread-function FWHM [Angstrom] vs wavelength [Angstrom].

    References: Bacon et al. 2017, A&A 608, A1 (arXiv:1710.03002), eq. 8 (UDF, WFM).
    """
    w = np.asarray(wave, float)
    return 5.866e-8 * w**2 - 9.187e-4 * w + 6.040
