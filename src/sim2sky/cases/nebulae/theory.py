"""Theory line-flux models of ionised nebulae: HII regions, planetary nebulae, SNRs and DIG.

Every model is declarative: its parameters (name, unit, range, meaning) are declared once in
``parameters`` and ``line_fluxes(params)`` is a pure, vectorised function returning intrinsic
(dereddened) fluxes of :data:`~sim2sky.cases.nebulae.lines.LINES` relative to Hβ = 1, shape (n, 15).

Sources, and how far each can be trusted:

* :class:`MappingsHII` — the MAPPINGS 5.1 HII grid of the ``nebulabayes`` wheel (shipped compacted)
  (Thomas et al. 2018, ApJ 856, 89, arXiv:1802.06049), interpolated linearly in log flux over
  (log U, log P/k, 12+log O/H). All lines but [ArIII]7135 come from the grid; [ArIII]7135 is
  [SIII]9069 times the PyNeb emissivity ratio and the solar Ar/S (Asplund et al. 2009) with
  0.1 dex scatter for the ionisation-correction difference.
* :class:`Bond3MdBHII`, :class:`PNe3MdB` — 3MdB (Morisset et al. 2015, arXiv:1412.5368) tables
  ``BOND_2`` and ``PNe_2021`` (shipped compacted; documented columns only: [OIII]5007,
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
* :class:`MappingsVHII`, :class:`MappingsIVKappaHII` — the MAPPINGS V (spherical / plane-parallel,
  three pressures) and MAPPINGS IV kappa-electron HII grids of pyqz (Dopita et al. 2013,
  arXiv:1307.5950; Vogt et al. 2015), log Q 6.5-8.5 (log U -4 to -2), 12+log O/H 8.11-8.99 and
  7.39-9.39; the lines the grids lack are completed as for 3MdB.
* :class:`MappingsNLR` — the NebulaBayes AGN narrow-line-region grid over log U, P/k, O/H and
  E_peak: the AGN class. :mod:`~sim2sky.cases.nebulae.crosstheory` adds empirical Seyfert and
  LINER families (SDSS loci) used only for testing.

The 3MdB SNR and DIG tables (dataset ``3mdb`` of the data registry) have undocumented columns;
they are used only as a cross-check of our SNR/DIG ratio ranges in the tests, never for training.
"""

from __future__ import annotations

import numpy as np

from .base import NebulaModel, Parameter, argon_from_sulphur, fill_doublets, helium_from_abundance
from .grids import (Bond3MdBHII, MappingsHII, MappingsIVKappaHII, MappingsNLR, MappingsVHII, PNe3MdB, mappings_grid,
                    pyqz_grid, three_mdb_table)
from .lines import LINE_NAMES, atomic

__all__ = ["Parameter", "NebulaModel", "MappingsHII", "Bond3MdBHII", "MappingsVHII", "MappingsIVKappaHII", "PNe3MdB", "ShockSNR", "pyqz_grid",
           "DiffuseIonisedGas", "MappingsNLR", "mappings_grid", "three_mdb_table"]

_I = {n: i for i, n in enumerate(LINE_NAMES)}


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
        helium_from_abundance(f, rng.uniform(0.05, 0.09, n), T, n_e)
        f[:, _I["SIII9069"]] = ha * 10 ** rng.normal(-1.0, 0.2, n)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return fill_doublets(f, T, n_e)


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
        helium_from_abundance(f, rng.uniform(0.01, 0.05, n), T, n_e)
        f[:, _I["SIII9069"]] = ha * 10 ** rng.normal(-0.85, 0.2, n)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return fill_doublets(f, T, n_e)
