"""Nebula models read from published grids shipped with sim2sky: MAPPINGS 5.1 and 3MdB.

The grids are compacted into ``data/mappings_grids.npz`` and ``data/three_mdb.npz`` (provenance
and licences in ``data/README.md``; rebuilt by ``tools/build_nebula_grids.py``), so nothing
is read from outside the package. See :mod:`sim2sky.cases.nebulae.theory` for what is taken
from the grids and what is added.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import NebulaModel, Parameter, argon_from_sulphur, fill_doublets, helium_from_abundance, siii_from_excitation
from .lines import LINE_NAMES, atomic, data_file

__all__ = ["MappingsHII", "MappingsNLR", "Bond3MdBHII", "PNe3MdB", "MappingsVHII", "MappingsIVKappaHII",
           "mappings_grid", "three_mdb_table", "pyqz_grid"]

LOG_C = np.log10(2.99792458e10)    # log U = log Q - log c

_I = {n: i for i, n in enumerate(LINE_NAMES)}


@lru_cache(maxsize=1)
def _mappings_npz() -> dict:
    with data_file("mappings_grids.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def mappings_grid(kind: str = "HII") -> dict:
    """A MAPPINGS 5.1 grid (NebulaBayes): ``axes`` (names), ``params`` (n, p), ``lines`` (names),
    ``log_flux`` (n, L) log10 flux relative to Hβ. ``kind``: ``HII`` or ``NLR`` (AGN)."""
    d = _mappings_npz()
    return {"axes": [str(a) for a in d[f"{kind}_axes"]], "params": d[f"{kind}_params"],
            "lines": [str(a) for a in d[f"{kind}_lines"]], "log_flux": d[f"{kind}_log_flux_hb"]}


@lru_cache(maxsize=2)
def three_mdb_table(name: str) -> np.ndarray:
    """3MdB model table (name ``HII``: BOND_2, or ``PNe``: PNe_2021) as (n, 6) luminosities [erg/s]:
    [OIII]5007, [SII]6716+31, [NII]6584, [OII]3727, Hα, Hβ."""
    with data_file("three_mdb.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        return 10 ** data[name].astype(np.float64)


def _detectable(table: np.ndarray, column: int, log_l_min: float) -> np.ndarray:
    keep = np.log10(table[:, column]) > log_l_min
    return table[keep]


_NB_LINES = {  # sim2sky line -> NebulaBayes column(s), summed
    "HB4861": ("Hbeta",), "OIII5007": ("OIII5007",), "NI5200": ("NI5198", "NI5200"), "HEI5876": ("HeI5876",),
    "OI6300": ("OI6300",), "HA6563": ("Halpha",), "NII6584": ("NII6583",), "HEI6678": ("HeI6678",),
    "SII6717": ("SII6716",), "SII6731": ("SII6731",), "SIII9069": ("SIII9069",),
}


def _grid_log_ratios(grid: dict) -> np.ndarray:
    """log10 flux/Hβ (n, 11) of the lines in ``_NB_LINES`` order."""
    idx = {name: i for i, name in enumerate(grid["lines"])}
    lin = 10.0 ** grid["log_flux"].astype(np.float64)
    cols = [sum(lin[:, idx[c]] for c in cs) for cs in _NB_LINES.values()]
    return np.log10(np.maximum(np.stack(cols, 1), 1e-8))


def _regular_interpolator(grid: dict, axes, fixed: dict):
    """Linear interpolation of log flux ratios over ``axes`` at fixed values of the other axes."""

    params = grid["params"]
    keep = np.ones(len(params), bool)
    for name, target in fixed.items():
        vals = params[:, grid["axes"].index(name)]
        keep &= np.isclose(vals, vals[np.argmin(np.abs(vals - target))])
    cols = [params[keep, grid["axes"].index(a)] for a in axes]
    values = [np.unique(c) for c in cols]
    logr = _grid_log_ratios({**grid, "log_flux": grid["log_flux"][keep]})
    order = np.lexsort(tuple(reversed(cols)))
    from scipy.interpolate import RegularGridInterpolator  # noqa: PLC0415  (imports scipy.optimize: 0.15 s)

    return RegularGridInterpolator(values, logr[order].reshape(*(len(v) for v in values), -1))


class _MappingsGrid(NebulaModel):
    kind = "HII"
    axes = ("log U", "log P/k", "12 + log O/H")
    fixed: dict = {}

    @property
    def _interpolator(self):
        if getattr(self, "_interp", None) is None:
            self._interp = _regular_interpolator(mappings_grid(self.kind), self.axes, self.fixed)
        return self._interp

    def line_fluxes(self, params, rng) -> np.ndarray:
        pts = np.stack([params[a] for a in self.axes], axis=1)
        logr = self._interpolator(pts)
        n = len(pts)
        f = np.zeros((n, len(LINE_NAMES)))
        for j, name in enumerate(_NB_LINES):
            f[:, _I[name]] = 10 ** logr[:, j]
        T = np.full(n, 9000.0)
        n_e = 10 ** params["log P/k"] / (2 * T)      # P/k = 2 n_e T for fully ionised H
        f = fill_doublets(f, T, n_e)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
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
    """AGN narrow-line region: the NebulaBayes NLR grid (MAPPINGS 5.1, Thomas et al. 2018,
    arXiv:1802.06049) over log U, log P/k, O/H and the peak energy of the accretion-disc spectrum
    (log E_peak/keV -2 to -0.75; the grid has Gamma = 2, p_NT = 0.15 only). Trains the AGN class."""

    name, nebula_class, kind = "mappings_nlr", "AGN", "NLR"
    axes = ("log U", "log P/k", "12 + log O/H", "log E_peak")
    fixed = {"Gamma": 2.0, "p_NT": 0.15}
    parameters = (
        Parameter("log U", "dex", -3.8, -1.0, doc="ionisation parameter"),
        Parameter("log P/k", "dex(K cm-3)", 5.0, 8.6, doc="gas pressure"),
        Parameter("12 + log O/H", "dex", 8.2, 9.2, doc="oxygen abundance"),
        Parameter("log E_peak", "dex(keV)", -2.0, -0.75, doc="peak of the accretion-disc spectrum"),
    )
    sigma_kms = (50.0, 250.0)
    ew_halpha = (5.0, 200.0)

    def sample(self, n, rng):
        """Models above the Kewley et al. (2001, arXiv:astro-ph/0106324) maximum-starburst line in
        the [NII] BPT diagram only: below it the grid's AGN (soft spectra, low U) overlap the HII
        grids line for line, and no classifier can tell them apart there (composites are
        reported as whatever they resemble, or unknown)."""
        params, fluxes = {}, []
        todo = n
        while todo > 0:
            p, f = super().sample(max(2 * todo, 64), rng)
            n2 = np.log10(f[:, _I["NII6584"]] / f[:, _I["HA6563"]])
            o3 = np.log10(f[:, _I["OIII5007"]] / f[:, _I["HB4861"]])
            keep = (n2 >= 0.47) | (o3 > 0.61 / (n2 - 0.47) + 1.19)
            keep &= np.cumsum(keep) <= todo
            for k, v in p.items():
                params.setdefault(k, []).append(v[keep])
            fluxes.append(f[keep])
            todo -= int(keep.sum())
        return {k: np.concatenate(v) for k, v in params.items()}, np.concatenate(fluxes)


class _ThreeMdB(NebulaModel):
    """Draw rows of a 3MdB flux table; complete the missing lines (see module docstring)."""

    table_name = "HII"
    log_ne = (1.0, 2.5)            # [SII]-zone density range [log cm^-3]
    T_e = (7000.0, 11000.0)
    y_plus = (0.06, 0.10)          # He+/H+
    log_oi_sii = (-0.9, 0.2)       # mean, scatter of log [OI]6300/[SII]6716+31
    log_ni_nii = (-1.7, 0.3)       # log [NI]5200/[NII]6584
    log_siii_ha = (-1.0, 0.25)     # log [SIII]9069/Halpha at [OIII]/Hbeta = 1

    detect_column, detect_log_l = 4, 0.0      # (table column, log10 luminosity [erg/s]) a survey detects

    def sample(self, n, rng):
        table = _detectable(three_mdb_table(self.table_name), self.detect_column, self.detect_log_l)
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
        helium_from_abundance(f, rng.uniform(*self.y_plus, n), T, n_e)
        f[:, _I["OI6300"]] = s2 / hb * 10 ** rng.normal(*self.log_oi_sii, n)
        f[:, _I["NI5200"]] = n2 / hb * 10 ** rng.normal(*self.log_ni_nii, n)
        f[:, _I["SIII9069"]] = siii_from_excitation(ha / hb, o3 / hb, rng, self.log_siii_ha)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return params, fill_doublets(f, T, n_e)


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


@lru_cache(maxsize=1)
def _pyqz_npz() -> dict:
    with data_file("pyqz_grids.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def pyqz_grid(family: str) -> dict:
    """A pyqz HII grid (``MV``: MAPPINGS V, ``MIV``: MAPPINGS IV kappa): ``params`` (n, 4) = log Q
    [cm/s], 12+log O/H, log P/k, sub-grid label; ``columns`` and ``log_ratios`` (n, k)."""
    d = _pyqz_npz()
    return {"params": d[f"{family}_params"].astype(np.float64), "columns": [str(c) for c in d[f"{family}_columns"]],
            "log_ratios": d[f"{family}_log_ratios"].astype(np.float64)}


class _PyqzHII(NebulaModel):
    """HII regions from a pyqz grid, interpolated linearly in log ratio over (log Q, O/H) inside each
    sub-grid (geometry and pressure, or kappa). Lines the grid lacks are completed like the 3MdB
    models (HeI from He+/H+, [NI] from [NII], [SIII] from the excitation, [ArIII] from [SIII])."""

    family = "MV"
    y_plus = (0.06, 0.10)
    log_ni_nii = (-1.7, 0.3)
    sigma_kms = (10.0, 40.0)
    ew_halpha = (20.0, 1500.0)

    def _interpolators(self):

        if getattr(self, "_interp", None) is None:
            from scipy.interpolate import RegularGridInterpolator  # noqa: PLC0415  (0.15 s import)

            g = pyqz_grid(self.family)
            p = g["params"]
            self._interp = []
            for key in np.unique(p[:, 2:], axis=0):
                rows = np.all(p[:, 2:] == key, axis=1)
                q, oh = np.unique(p[rows, 0]), np.unique(p[rows, 1])
                order = np.lexsort((p[rows, 1], p[rows, 0]))
                values = g["log_ratios"][rows][order].reshape(len(q), len(oh), -1)
                self._interp.append((key, RegularGridInterpolator((q, oh), values)))
        return self._interp

    def sample_parameters(self, n, rng):
        params = super().sample_parameters(n, rng)
        params["sub-grid"] = rng.integers(0, len(self._interpolators()), n)
        return params

    def line_fluxes(self, params, rng):
        n = len(params["log U"])
        cols = pyqz_grid(self.family)["columns"]
        logr = np.empty((n, len(cols)))
        log_pk = np.empty(n)
        for j, (key, interp) in enumerate(self._interpolators()):
            sel = params["sub-grid"] == j
            logr[sel] = interp(np.column_stack([params["log U"][sel] + LOG_C, params["12 + log O/H"][sel]]))
            log_pk[sel] = key[0]
        r = {c: 10 ** logr[:, i] for i, c in enumerate(cols)}
        T = np.full(n, 9000.0)
        n_e = 10 ** log_pk / (2 * T)
        a = atomic()
        f = np.zeros((n, len(LINE_NAMES)))
        ha = a("ha_hb", T, n_e)
        f[:, _I["HB4861"]], f[:, _I["HA6563"]] = 1.0, ha
        f[:, _I["OIII5007"]] = r["[OIII]/Hb"]
        f[:, _I["NII6584"]] = ha * r["[NII]/Ha"]
        sii = ha * r["[SII]+/Ha"]
        r_sii = r["6716/6731"] if "6716/6731" in r else a("sii_6717_6731", T, n_e)
        f[:, _I["SII6731"]] = sii / (1 + r_sii)
        f[:, _I["SII6717"]] = sii - f[:, _I["SII6731"]]
        f[:, _I["OI6300"]] = ha * r["[OI]/Ha"] if "[OI]/Ha" in r else r["[OI]/[OII]+"] * r["[OII]+/Hb"]
        f[:, _I["NI5200"]] = f[:, _I["NII6584"]] * 10 ** rng.normal(*self.log_ni_nii, n)
        helium_from_abundance(f, rng.uniform(*self.y_plus, n), T, n_e)
        if "[SIII]/[SII]+" in r:      # [SIII]9069+9532 in the grid; 9532/9069 = 2.47 (atomic)
            f[:, _I["SIII9069"]] = sii * r["[SIII]/[SII]+"] / 3.47
        else:
            f[:, _I["SIII9069"]] = siii_from_excitation(ha, r["[OIII]/Hb"], rng)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return fill_doublets(f, T, n_e)


class MappingsVHII(_PyqzHII):
    """MAPPINGS V HII grid of pyqz (Dopita et al. 2013, arXiv:1307.5950; Sutherland et al. 2018):
    spherical and plane-parallel nebulae at log P/k = 4.5, 5.0, 5.5, Starburst99 ionising spectra."""

    name, nebula_class, family = "mappings5_pyqz_hii", "HII", "MV"
    parameters = (Parameter("log U", "dex", 6.5 - LOG_C, 8.5 - LOG_C, doc="ionisation parameter"),
                  Parameter("12 + log O/H", "dex", 8.11, 8.985, doc="oxygen abundance"))


class MappingsIVKappaHII(_PyqzHII):
    """MAPPINGS IV HII grid of pyqz with kappa-distributed electrons (kappa = 10, 20, 50, inf;
    Dopita et al. 2013, arXiv:1307.5950): 12+log O/H down to 7.39."""

    name, nebula_class, family = "mappings4_kappa_pyqz_hii", "HII", "MIV"
    parameters = (Parameter("log U", "dex", 6.5 - LOG_C, 8.5 - LOG_C, doc="ionisation parameter"),
                  Parameter("12 + log O/H", "dex", 7.39, 9.39, doc="oxygen abundance"))
