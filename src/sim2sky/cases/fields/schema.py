"""Vocabulary of the fields case: simulator kinds, their parameters, units, priors and grids.

Declared once here; the simulators, the CLI and the model folders read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import InputError, suggest

__all__ = ["FieldKind", "KINDS", "PLANCK", "REION_KINDS", "REION_REDSHIFT", "kind_spec"]

#: Fixed cosmology of the reionisation field and of the parameters not varied (Planck 2018).
PLANCK = {"omega_m": 0.3111, "sigma_8": 0.8102, "h": 0.6766, "ombh2": 0.02242}
REION_REDSHIFT = 8.0


@dataclass(frozen=True)
class FieldKind:
    """One simulator: parameter names, units, box-prior bounds, allowed dimensions, default grid."""

    name: str
    parameters: tuple[str, ...]
    units: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    dims: tuple[int, ...]
    size: dict            # default pixels per side, by dimension
    box: dict             # default side length [Mpc/h], by dimension
    field_unit: str
    description: str


_COSMO = dict(parameters=("omega_m", "sigma_8"), units=("", ""), low=(0.10, 0.60), high=(0.50, 1.00), dims=(2, 3),
              size={2: 64, 3: 32}, box={2: 256.0, 3: 128.0}, field_unit="")
#: one prior and box for both 21-cm simulators, so that their posteriors compare
_REION = dict(parameters=("zeta", "log10_tvir"), units=("", "K"), low=(10.0, 4.6), high=(50.0, 5.4), dims=(3,),
              size={3: 32}, box={3: 128.0}, field_unit="mK")

KINDS = {
    "gaussian": FieldKind("gaussian", **_COSMO, description="Gaussian random field of the z=0 linear matter "
                          "density contrast (2-D: a slab of depth --depth projected)"),
    "lognormal": FieldKind("lognormal", **_COSMO, description="log-normal density contrast with the linear P(k) "
                           "(exact on the grid: xi_G = ln(1 + xi))"),
    "reion21cm": FieldKind("reion21cm", **_REION, description="21-cm brightness temperature at z=8 from "
                           "excursion-set reionisation (ionising efficiency zeta, minimum virial temperature of "
                           "sources)"),
    "21cmfast": FieldKind("21cmfast", **_REION, description="the same 21-cm field from 21cmFAST, an independent "
                          "simulator (needs sim2sky[cross]; ~1 s per 32^3 box)"),
}
#: kinds simulating 21-cm cubes: 3-D only, noise in mK, foreground wedge
REION_KINDS = ("reion21cm", "21cmfast")


def kind_spec(kind: str) -> FieldKind:
    if kind not in KINDS:
        raise InputError(f"--kind: unknown field kind {kind!r}{suggest(kind, list(KINDS))}; choose from "
                         f"{', '.join(KINDS)}")
    return KINDS[kind]
