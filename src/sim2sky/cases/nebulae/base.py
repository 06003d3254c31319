"""Declarative nebula models: a parameter declaration and the shared atomic-physics helpers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lines import LINE_NAMES, atomic

__all__ = ["Parameter", "NebulaModel", "fill_doublets", "argon_from_sulphur", "helium_from_abundance",
           "siii_from_excitation"]

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


def fill_doublets(f: np.ndarray, T, n_e) -> np.ndarray:
    """Set the weak members of the atomic-physics doublets from the strong ones."""
    a = atomic()
    f[:, _I["OIII4959"]] = f[:, _I["OIII5007"]] * a("oiii_4959_5007", T, n_e)
    f[:, _I["NII6548"]] = f[:, _I["NII6584"]] * a("nii_6548_6584", T, n_e)
    f[:, _I["OI6364"]] = f[:, _I["OI6300"]] * a("oi_6364_6300", T, n_e)
    return f


def argon_from_sulphur(siii: np.ndarray, T, n_e, rng) -> np.ndarray:
    ratio = atomic()("ariii7135_siii9069", T, n_e) * 10 ** (LOG_AR_S_SOLAR + rng.normal(0, 0.1, len(siii)))
    return siii * ratio


def helium_from_abundance(f: np.ndarray, y_plus, T, n_e) -> np.ndarray:
    """Set HeI 5876 from He+/H+ = ``y_plus`` and HeI 6678 from its atomic ratio to 5876."""
    a = atomic()
    f[:, _I["HEI5876"]] = y_plus * a("hei5876_hb_per_y", T, n_e)
    f[:, _I["HEI6678"]] = f[:, _I["HEI5876"]] * a("hei_6678_5876", T, n_e)
    return f


def siii_from_excitation(ha_hb: np.ndarray, o3_hb: np.ndarray, rng, log_siii_ha=(-1.0, 0.25)) -> np.ndarray:
    """[SIII]9069/Hβ for models without sulphur lines: log [SIII]/Hα = ``log_siii_ha[0]`` + 0.3 log
    [OIII]/Hβ (clipped to -1.5..1.2) with ``log_siii_ha[1]`` dex scatter (HII-region ratios of
    Kreckel et al. 2019, arXiv:1910.07190)."""
    excitation = np.clip(np.log10(o3_hb), -1.5, 1.2)
    return ha_hb * 10 ** (log_siii_ha[0] + 0.3 * excitation + rng.normal(0, log_siii_ha[1], len(o3_hb)))
