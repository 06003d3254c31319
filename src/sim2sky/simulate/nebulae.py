"""Theory line-flux models of ionised nebulae: HII regions, planetary nebulae, SNRs and DIG.

Every model is declarative: its parameters (name, unit, range, meaning) are declared once in
``parameters`` and ``line_fluxes(params)`` is a pure, vectorised function returning intrinsic
(dereddened) fluxes of :data:`~sim2sky.simulate.lines.LINES` relative to Hβ = 1, shape (n, 15).

Sources, and how far each can be trusted:

* :class:`MappingsHII` — the MAPPINGS 5.1 HII grid shipped in the ``nebulabayes`` wheel
  (Thomas et al. 2018, ApJ 856, 89, arXiv:1802.06049), interpolated linearly in log flux over
  (log U, log P/k, 12+log O/H). All lines but [ArIII]7135 come from the grid; [ArIII]7135 is
  [SIII]9069 times the PyNeb emissivity ratio and the solar Ar/S (Asplund et al. 2009) with
  0.1 dex scatter for the ionisation-correction difference.
* :class:`Bond3MdBHII`, :class:`PNe3MdB` — 3MdB (Morisset et al. 2015, arXiv:1412.5368) tables
  ``BOND_2`` and ``PNe_2021`` in ``shared/data/nebulae/3mdb`` (documented columns only: [OIII]5007,
  [SII]6716+6731, [NII]6584, Hα, Hβ). Lines the tables lack are added with PyNeb atomic physics
  (the [SII] doublet from a sampled density, doublet partners, HeI from He+/H+) and with
  class-typical empirical ratios for [OI], [NI], [SIII], [ArIII] (ranges cited inline).
* :class:`ShockSNR` — our model for radiative shocks. Ranges follow the shock grids of Allen
  et al. 2008 (ApJS 178, 20, arXiv:0805.0204) and optical SNR samples (Long et al. 2018,
  ApJ 855, 140, arXiv:1802.04396): [SII]/Hα ≳ 0.4 (Mathewson & Clarke 1973), strong [OI] and
  [NI], [OIII]/Hβ rising with shock velocity, [SII] densities from post-shock compression.
* :class:`DiffuseIonisedGas` — our DIG model: [NII]/Hα and [SII]/Hα from the temperature
  relations of Haffner, Reynolds & Tufte (1999, ApJ 523, 223, eqs. 1-2) with warm (7000-12000 K)
  gas, low density, weak [OIII] and HeI (soft, leaky radiation field; Madsen et al. 2006,
  ApJ 652, 401).
* :class:`MappingsNLR` — the NebulaBayes AGN narrow-line-region grid, used only to test the
  classifier's "unknown" outcome.

The 3MdB SNR and DIG tables in ``shared/data`` have undocumented columns; they are used only as
a cross-check of our SNR/DIG ratio ranges in the tests, never for training.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from .lines import LINE_NAMES, atomic

__all__ = ["Parameter", "NebulaModel", "MappingsHII", "Bond3MdBHII", "PNe3MdB", "ShockSNR",
           "DiffuseIonisedGas", "MappingsNLR", "nebulabayes_grid", "three_mdb_table", "CLASSES"]

CLASSES = ("HII", "PN", "SNR", "DIG")
_I = {n: i for i, n in enumerate(LINE_NAMES)}
LOG_AR_S_SOLAR = 6.40 - 7.12   # Asplund et al. 2009


@dataclass(frozen=True)
class Parameter:
    name: str
    unit: str
    low: float
    high: float
    log_uniform: bool = False
    doc: str = ""

    def sample(self, n: int, rng) -> np.ndarray:
        if self.log_uniform:
            return 10 ** rng.uniform(np.log10(self.low), np.log10(self.high), n)
        return rng.uniform(self.low, self.high, n)


class NebulaModel:
    """Base class: ``parameters`` + ``line_fluxes``; ``sample`` draws from the declared ranges."""

    name = "nebula"
    nebula_class = ""
    parameters: tuple[Parameter, ...] = ()
    sigma_kms = (10.0, 40.0)        # intrinsic velocity dispersion range [km/s]
    ew_halpha = (20.0, 1000.0)      # Halpha emission equivalent width range [Angstrom]

    def sample_parameters(self, n: int, rng) -> dict[str, np.ndarray]:
        return {p.name: p.sample(n, rng) for p in self.parameters}

    def line_fluxes(self, params: dict[str, np.ndarray], rng) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def sample(self, n: int, rng) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Draw ``n`` models: ``(params, fluxes (n, 15) relative to Hβ)``."""
        params = self.sample_parameters(n, rng)
        return params, self.line_fluxes(params, rng)


def _fill_doublets(f: np.ndarray, T, n_e) -> np.ndarray:
    """Set the weak members of the atomic-physics doublets from the strong ones."""
    a = atomic()
    f[:, _I["OIII4959"]] = f[:, _I["OIII5007"]] * a("oiii_4959_5007", T, n_e)
    f[:, _I["NII6548"]] = f[:, _I["NII6584"]] * a("nii_6548_6584", T, n_e)
    f[:, _I["OI6364"]] = f[:, _I["OI6300"]] * a("oi_6364_6300", T, n_e)
    return f


def _argon_from_sulphur(siii: np.ndarray, T, n_e, rng) -> np.ndarray:
    ratio = atomic()("ariii7135_siii9069", T, n_e) * 10 ** (LOG_AR_S_SOLAR + rng.normal(0, 0.1, len(siii)))
    return siii * ratio


# ---------------------------------------------------------------------------------------------
# grids read from files

def nebulabayes_grid(kind: str = "HII"):
    """The NebulaBayes MAPPINGS 5.1 grid ``NB_<kind>_grid.fits.gz`` as an astropy Table.

    Found through the installed ``nebulabayes`` package without importing its code.
    """
    spec = importlib.util.find_spec("NebulaBayes")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the MAPPINGS grids come from the 'nebulabayes' package: pip install nebulabayes "
                         "(or install sim2sky with the 'grids' extra)")
    path = Path(list(spec.submodule_search_locations)[0]) / "grids" / f"NB_{kind}_grid.fits.gz"
    return _read_fits_table(str(path))


@lru_cache(maxsize=4)
def _read_fits_table(path: str):
    from astropy.table import Table

    return Table.read(path)


@lru_cache(maxsize=4)
def three_mdb_table(name: str, data_dir: str | None = None) -> np.ndarray:
    """3MdB flux table ``Ratios_<name>_fluxes.txt`` (name 'HII' or 'PNe') as (n, 6) luminosities:
    [OIII]5007, [SII]6716+31, [NII]6584, [OII]3727, Hα, Hβ."""
    from ..cases.sbibm import shared_data_dir

    base = Path(data_dir) if data_dir else shared_data_dir() / "nebulae" / "3mdb"
    path = base / f"Ratios_{name}_fluxes.txt"
    if not path.is_file():
        raise InputError(f"3MdB table {path} not found; it ships in the project's shared data folder "
                         "(set SIM2SKY_SHARED_DATA to its location)")
    table = np.loadtxt(path, skiprows=1)[:, 1:]
    good = np.all(np.isfinite(table) & (table > 0), axis=1)
    return table[good]


def _detectable(table: np.ndarray, column: int, log_l_min: float) -> np.ndarray:
    keep = np.log10(table[:, column]) > log_l_min
    return table[keep]


_NB_LINES = {  # sim2sky line -> NebulaBayes column
    "HB4861": "Hbeta", "OIII5007": "OIII5007", "NI5200": "NI5198_5200", "HEI5876": "HeI5876",
    "OI6300": "OI6300", "HA6563": "Halpha", "NII6584": "NII6583", "HEI6678": "HeI6678",
    "SII6717": "SII6716", "SII6731": "SII6731", "SIII9069": "SIII9069",
}


class _MappingsGrid(NebulaModel):
    kind = "HII"
    axes = ("log U", "log P/k", "12 + log O/H")

    @property
    def _interpolator(self):
        if getattr(self, "_interp", None) is None:
            from scipy.interpolate import RegularGridInterpolator

            table = nebulabayes_grid(self.kind)
            axes = [np.unique(np.asarray(table[a], float)) for a in self.axes]
            shape = tuple(len(a) for a in axes)
            cols = np.stack([np.asarray(table[c], float) for c in _NB_LINES.values()], axis=1)
            hb = np.asarray(table["Hbeta"], float)[:, None]
            # 10 low-excitation models have no [OIII]5007 (NaN): [OIII] is negligible there
            logr = np.log10(np.maximum(np.nan_to_num(cols / hb, nan=1e-4), 1e-8))
            order = np.lexsort(tuple(np.asarray(table[a], float) for a in reversed(self.axes)))
            self._interp = RegularGridInterpolator(axes, logr[order].reshape(*shape, -1))
        return self._interp

    def line_fluxes(self, params, rng) -> np.ndarray:
        pts = np.stack([params[p.name] for p in self.parameters[:3]], axis=1)
        logr = self._interpolator(pts)
        n = len(pts)
        f = np.zeros((n, len(LINE_NAMES)))
        for j, name in enumerate(_NB_LINES):
            f[:, _I[name]] = 10 ** logr[:, j]
        T = np.full(n, 9000.0)
        n_e = 10 ** params["log P/k"] / (2 * T)      # P/k = 2 n_e T for fully ionised H
        f = _fill_doublets(f, T, n_e)
        f[:, _I["ARIII7135"]] = _argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return f


class MappingsHII(_MappingsGrid):
    name, nebula_class = "mappings_hii", "HII"
    parameters = (
        Parameter("log U", "dex", -4.0, -2.0, doc="ionisation parameter at the inner edge"),
        # HII regions in nearby galaxies have n_e ~ 1-1000 cm^-3 (Kewley et al. 2019, ARA&A 57, 511):
        # the grid's densest slices (P/k > 10^7.4 K cm^-3, n_e > 10^3) are left out
        Parameter("log P/k", "dex(K cm-3)", 4.6, 7.4, doc="gas pressure"),
        Parameter("12 + log O/H", "dex", 7.663, 9.304, doc="oxygen abundance"),
    )
    sigma_kms = (10.0, 40.0)
    ew_halpha = (20.0, 1500.0)


class MappingsNLR(_MappingsGrid):
    """AGN narrow-line region (NebulaBayes NLR grid at the default E_peak slice); not a training class."""

    name, nebula_class, kind = "mappings_nlr", "AGN", "NLR"
    axes = ("log U", "log P/k", "12 + log O/H")
    parameters = (
        Parameter("log U", "dex", -3.8, -1.0), Parameter("log P/k", "dex(K cm-3)", 5.0, 8.6),
        Parameter("12 + log O/H", "dex", 8.2, 9.2),
    )
    sigma_kms = (50.0, 250.0)
    ew_halpha = (5.0, 200.0)

    @property
    def _interpolator(self):
        # the NLR grid has more axes (E_peak, Gamma, p_NT); take the slice at log E_peak = -1.5
        if getattr(self, "_interp", None) is None:
            from scipy.interpolate import RegularGridInterpolator

            table = nebulabayes_grid("NLR")
            keep = np.ones(len(table), bool)
            for col in ("log E_peak", "Gamma", "p_NT"):
                vals = np.asarray(table[col], float)
                target = -1.5 if col == "log E_peak" else np.unique(vals)[0]
                keep &= np.isclose(vals, vals[np.argmin(np.abs(vals - target))])
            table = table[keep]
            axes = [np.unique(np.asarray(table[a], float)) for a in self.axes]
            cols = np.stack([np.asarray(table[c], float) for c in _NB_LINES.values()], axis=1)
            logr = np.log10(np.maximum(cols / np.asarray(table["Hbeta"], float)[:, None], 1e-8))
            order = np.lexsort(tuple(np.asarray(table[a], float) for a in reversed(self.axes)))
            self._interp = RegularGridInterpolator(axes, logr[order].reshape(*(len(a) for a in axes), -1))
        return self._interp


class _ThreeMdB(NebulaModel):
    """Draw rows of a 3MdB flux table; complete the missing lines (see module docstring)."""

    table_name = "HII"
    data_dir: str | None = None
    log_ne = (1.0, 2.5)            # [SII]-zone density range [log cm^-3]
    T_e = (7000.0, 11000.0)
    y_plus = (0.06, 0.10)          # He+/H+
    log_oi_sii = (-0.9, 0.2)       # mean, scatter of log [OI]6300/[SII]6716+31
    log_ni_nii = (-1.7, 0.3)       # log [NI]5200/[NII]6584
    log_siii_ha = (-1.0, 0.25)     # log [SIII]9069/Halpha at [OIII]/Hbeta = 1

    detect_column, detect_log_l = 4, 0.0      # (table column, log10 luminosity [erg/s]) a survey detects

    def sample(self, n, rng):
        table = _detectable(three_mdb_table(self.table_name, self.data_dir), self.detect_column, self.detect_log_l)
        rows = table[rng.integers(0, len(table), n)]
        o3, s2, n2, _, ha, hb = rows.T
        T = rng.uniform(*self.T_e, n)
        n_e = 10 ** rng.uniform(*self.log_ne, n)
        params = {"row": rows, "T_e": T, "n_e": n_e}
        a = atomic()
        f = np.zeros((n, len(LINE_NAMES)))
        f[:, _I["HB4861"]] = 1.0
        f[:, _I["HA6563"]] = ha / hb
        f[:, _I["OIII5007"]] = o3 / hb
        f[:, _I["NII6584"]] = n2 / hb
        r_sii = a("sii_6717_6731", T, n_e)
        f[:, _I["SII6731"]] = s2 / hb / (1 + r_sii)
        f[:, _I["SII6717"]] = f[:, _I["SII6731"]] * r_sii
        f[:, _I["HEI5876"]] = rng.uniform(*self.y_plus, n) * a("hei5876_hb_per_y", T, n_e)
        f[:, _I["HEI6678"]] = f[:, _I["HEI5876"]] * a("hei_6678_5876", T, n_e)
        f[:, _I["OI6300"]] = s2 / hb * 10 ** rng.normal(*self.log_oi_sii, n)
        f[:, _I["NI5200"]] = n2 / hb * 10 ** rng.normal(*self.log_ni_nii, n)
        excitation = np.clip(np.log10(o3 / hb), -1.5, 1.2)
        f[:, _I["SIII9069"]] = ha / hb * 10 ** (self.log_siii_ha[0] + 0.3 * excitation + rng.normal(0, self.log_siii_ha[1], n))
        f[:, _I["ARIII7135"]] = _argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return params, _fill_doublets(f, T, n_e)


class Bond3MdBHII(_ThreeMdB):
    """3MdB ``BOND_2`` HII regions; typical HII-region densities 10-300 cm^-3 (Kewley et al. 2019,
    ARA&A 57, 511), [OI]/[SII] ~ 0.1 and [SIII]9069/Hα ~ 0.1 (Kreckel et al. 2019, arXiv:1910.07190)."""

    name, nebula_class, table_name = "bond_3mdb_hii", "HII", "HII"
    # HII regions catalogued in nearby-galaxy MUSE surveys: L(Hα) >~ 10^36 erg/s (Santoro et al.
    # 2022, A&A 658, A188, arXiv:2111.03709); keeps 60% of the grid
    detect_column, detect_log_l = 4, 36.0


class PNe3MdB(_ThreeMdB):
    """3MdB ``PNe_2021`` planetary nebulae; dense (10^2.5-10^4.5 cm^-3; Stanghellini & Kaler 1989),
    relatively strong [OI] and [NI] from the ionisation front, HeI from He+/H+ ~ 0.08-0.12."""

    name, nebula_class, table_name = "pne_3mdb", "PN", "PNe"
    # PNe found in nearby galaxies lie within ~2.5 mag of the PNLF cutoff M*(5007) = -4.5
    # (Ciardullo 2012, arXiv:1203.3511): L([OIII]5007) > 10^35.4 erg/s; keeps 30% of the grid
    detect_column, detect_log_l = 0, 35.4
    log_ne = (2.5, 4.5)
    T_e = (8000.0, 15000.0)
    y_plus = (0.07, 0.12)
    log_oi_sii = (-0.3, 0.3)
    log_ni_nii = (-1.3, 0.3)
    sigma_kms = (5.0, 30.0)
    ew_halpha = (50.0, 3000.0)


class ShockSNR(NebulaModel):
    """Radiative shocks (supernova remnants).

    [OIII]5007/Hβ grows with shock velocity (log slope 1.5 between 150 and 500 km/s, as in the
    shock-only grids of Allen et al. 2008); [SII]/Hα = 0.4-1.3, [OI]6300/Hα = 0.05-0.4 and
    [NI]5200/Hβ = 0.1-0.5 (Long et al. 2018; Fesen, Blair & Kirshner 1985); [NII]/Hα scales with
    N/H through 12+log(O/H). The [SII] zone is compressed: n_e ≈ 40 n_0 (v_s / 100 km/s)^2
    (Dopita & Sutherland 1996, ApJS 102, 161). Collisional excitation lifts Hα/Hβ to ≈ 3.0.
    """

    name, nebula_class = "shock_snr", "SNR"
    parameters = (
        Parameter("v_s", "km/s", 150.0, 500.0, doc="shock velocity"),
        Parameter("n_0", "cm-3", 0.1, 10.0, log_uniform=True, doc="pre-shock density"),
        Parameter("12 + log O/H", "dex", 8.2, 8.9, doc="oxygen abundance"),
        Parameter("T_e", "K", 8000.0, 14000.0, doc="temperature of the [SII] zone"),
    )
    sigma_kms = (40.0, 160.0)
    ew_halpha = (10.0, 300.0)

    def line_fluxes(self, params, rng):
        n = len(params["v_s"])
        v, oh, T = params["v_s"], params["12 + log O/H"], params["T_e"]
        n_e = 40 * params["n_0"] * (v / 100) ** 2
        a = atomic()
        f = np.zeros((n, len(LINE_NAMES)))
        f[:, _I["HB4861"]] = 1.0
        ha = 3.0 * 10 ** rng.normal(0, 0.02, n)
        f[:, _I["HA6563"]] = ha
        f[:, _I["OIII5007"]] = 10 ** (0.0 + 1.5 * np.log10(v / 200) + rng.normal(0, 0.25, n))
        sii = ha * 10 ** (rng.normal(-0.12, 0.13, n) - 0.2 * np.log10(v / 200))
        r = a("sii_6717_6731", T, n_e)
        f[:, _I["SII6731"]] = sii / (1 + r)
        f[:, _I["SII6717"]] = sii - f[:, _I["SII6731"]]
        f[:, _I["NII6584"]] = ha * 10 ** (np.log10(0.6) + (oh - 8.69) + rng.normal(0, 0.15, n))
        f[:, _I["OI6300"]] = ha * 10 ** rng.normal(-0.85, 0.22, n)
        f[:, _I["NI5200"]] = 10 ** rng.normal(-0.65, 0.2, n)
        f[:, _I["HEI5876"]] = rng.uniform(0.05, 0.09, n) * a("hei5876_hb_per_y", T, n_e)
        f[:, _I["HEI6678"]] = f[:, _I["HEI5876"]] * a("hei_6678_5876", T, n_e)
        f[:, _I["SIII9069"]] = ha * 10 ** rng.normal(-1.0, 0.2, n)
        f[:, _I["ARIII7135"]] = _argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return _fill_doublets(f, T, n_e)


class DiffuseIonisedGas(NebulaModel):
    """Warm, diffuse, low-density gas ionised by leaking radiation.

    [NII]6583/Hα = 1.63e5 T4^0.426 exp(-2.18/T4) (N+/N)(N/H) and [SII]6716/Hα = 7.64e5
    T4^0.307 exp(-2.14/T4) (S+/S)(S/H) (Haffner et al. 1999), with N/H from O/H through the
    N/O plateau + secondary slope, S/H solar-scaled; [OIII]/Hβ 0.05-1 and He+/H+ 0.01-0.05
    (Madsen et al. 2006); n_e 1-30 cm^-3 gives the low-density [SII] ratio.
    """

    name, nebula_class = "dig", "DIG"
    parameters = (
        Parameter("T_e", "K", 7000.0, 12000.0, doc="electron temperature"),
        Parameter("S+/S", "", 0.3, 0.9, doc="fraction of sulphur singly ionised"),
        Parameter("N+/N", "", 0.6, 0.95, doc="fraction of nitrogen singly ionised"),
        Parameter("12 + log O/H", "dex", 8.2, 8.9, doc="oxygen abundance"),
        Parameter("[OIII]/Hb", "", 0.05, 1.0, log_uniform=True, doc="[OIII]5007/Hβ"),
        Parameter("n_e", "cm-3", 1.0, 30.0, log_uniform=True, doc="electron density"),
    )
    sigma_kms = (15.0, 50.0)
    ew_halpha = (1.0, 30.0)

    def line_fluxes(self, params, rng):
        T, oh, n_e = params["T_e"], params["12 + log O/H"], params["n_e"]
        t4 = T / 1e4
        n = len(T)
        log_no = -1.5 + 1.3 * np.maximum(0.0, oh - 8.2)   # N/O plateau + secondary N; solar -0.86
        n_h = 10 ** (oh - 12 + log_no)
        s_h = 10 ** (oh - 12 + (7.12 - 8.69))
        a = atomic()
        ha = a("ha_hb", T, n_e)
        f = np.zeros((n, len(LINE_NAMES)))
        f[:, _I["HB4861"]] = 1.0
        f[:, _I["HA6563"]] = ha
        f[:, _I["NII6584"]] = ha * 1.63e5 * t4**0.426 * np.exp(-2.18 / t4) * params["N+/N"] * n_h
        f[:, _I["SII6717"]] = ha * 7.64e5 * t4**0.307 * np.exp(-2.14 / t4) * params["S+/S"] * s_h
        f[:, _I["SII6731"]] = f[:, _I["SII6717"]] / a("sii_6717_6731", T, n_e)
        f[:, _I["OIII5007"]] = params["[OIII]/Hb"]
        f[:, _I["OI6300"]] = f[:, _I["SII6717"]] * 10 ** rng.normal(-0.8, 0.2, n)
        f[:, _I["NI5200"]] = f[:, _I["NII6584"]] * 10 ** rng.normal(-1.7, 0.3, n)
        f[:, _I["HEI5876"]] = rng.uniform(0.01, 0.05, n) * a("hei5876_hb_per_y", T, n_e)
        f[:, _I["HEI6678"]] = f[:, _I["HEI5876"]] * a("hei_6678_5876", T, n_e)
        f[:, _I["SIII9069"]] = ha * 10 ** rng.normal(-0.85, 0.2, n)
        f[:, _I["ARIII7135"]] = _argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return _fill_doublets(f, T, n_e)
