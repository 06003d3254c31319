"""Declarative nebula models: a parameter declaration and the shared atomic-physics helpers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lines import LINE_NAMES, atomic

__all__ = ["Parameter", "NebulaModel", "fill_doublets", "argon_from_sulphur"]

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
