"""Line tables from real catalogues: canonical names, column maps, survey presets, pass-through.

sim2sky's canonical columns are the line names of :data:`~sim2sky.cases.nebulae.lines.LINE_NAMES`
(``HA6563``, ``NII6584``...; ``SII6717_31`` for the summed doublet) with optional
``<LINE>_ERR`` (1σ) or ``<LINE>_IVAR`` (inverse variance), ``SIGMA`` (intrinsic dispersion,
km/s; ``SIGMA_INST`` is subtracted in quadrature when given) and ``EW_HA6563`` (emission
equivalent width, Å). Real catalogues name them otherwise; a *column map* says which source
column holds which canonical quantity:

* ``"HA6563=HA6562_FLUX,HA6563_ERR=HA6562_FLUX_ERR"`` on the command line, or a JSON/YAML
  file with the same pairs;
* a source may be negated (``EW_HA6563=-H_ALPHA_EQW``: MPA-JHU writes emission EWs as
  negative) or summed (``NI5200=NI5198_FLUX+NI5200_FLUX``; errors add in quadrature);
* presets for PHANGS-MUSE (DAP maps and nebular catalogues), MaNGA DAP (Marvin/DAPall names)
  and MPA-JHU (SDSS galSpecLine), applied automatically when the table has no canonical Hα
  column but a preset's Hα column.

Every other column is passed through to the output unchanged, with one notice listing them
(and a close-match suggestion for names that look like a mistyped canonical column).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table
import yaml

from ...core.errors import InputError, suggest
from ...core.tables import read_table
from .lines import LINE_NAMES
from .schema import PASSTHROUGH

__all__ = ["LineTable", "PRESETS", "TABLE_LINES", "CANONICAL_COLUMNS", "parse_column_map", "preset_for_columns",
           "read_line_table"]

TABLE_LINES = tuple(LINE_NAMES) + ("SII6717_31",)
CANONICAL_COLUMNS = (set(TABLE_LINES) | {f"{l}_ERR" for l in TABLE_LINES} | {f"{l}_IVAR" for l in TABLE_LINES}
                     | {"SIGMA", "SIGMA_ERR", "SIGMA_INST", "EW_HA6563"})


def _survey(flux: dict, err: str | None = None, ivar: str | None = None, extra: dict | None = None) -> dict:
    """A preset from {canonical line: source flux column}; error columns named by a pattern."""
    out = dict(extra or {})
    for line, src in flux.items():
        out[line] = src
        if err:
            out[f"{line}_ERR"] = err.format(src=src)
        if ivar:
            out[f"{line}_IVAR"] = ivar.format(src=src, tail=src.split("_GFLUX_", 1)[-1])
    return out


#: Column maps of survey catalogues (canonical -> source); matched case-insensitively.
PRESETS = {
    # PHANGS-MUSE DAP maps and nebular catalogues (Emsellem et al. 2022, arXiv:2110.03708;
    # Groves et al. 2023, arXiv:2301.02679): observed (not extinction-corrected) fluxes
    "phangs": _survey({"HB4861": "HB4861_FLUX", "OIII4959": "OIII4958_FLUX", "OIII5007": "OIII5006_FLUX",
                       "NI5200": "NI5197_FLUX", "HEI5876": "HEI5875_FLUX", "OI6300": "OI6300_FLUX",
                       "OI6364": "OI6363_FLUX", "NII6548": "NII6548_FLUX", "HA6563": "HA6562_FLUX",
                       "NII6584": "NII6583_FLUX", "HEI6678": "HEI6678_FLUX", "SII6717": "SII6716_FLUX",
                       "SII6731": "SII6730_FLUX", "ARIII7135": "ARIII7135_FLUX", "SIII9069": "SIII9068_FLUX"},
                      err="{src}_ERR", extra={"SIGMA": "HA6562_SIGMA"}),
    # MaNGA DAP Gaussian-fit fluxes as flattened by Marvin / the DAPall tables (Westfall et al.
    # 2019, arXiv:1901.00856; Belfiore et al. 2019): inverse variances, observed dispersions
    # with the instrumental one alongside, EWs positive for emission
    "manga": _survey({"HB4861": "EMLINE_GFLUX_HB_4862", "OIII4959": "EMLINE_GFLUX_OIII_4960",
                      "OIII5007": "EMLINE_GFLUX_OIII_5008", "NI5200": "EMLINE_GFLUX_NI_5199+EMLINE_GFLUX_NI_5201",
                      "HEI5876": "EMLINE_GFLUX_HEI_5877", "OI6300": "EMLINE_GFLUX_OI_6302",
                      "OI6364": "EMLINE_GFLUX_OI_6365", "NII6548": "EMLINE_GFLUX_NII_6549",
                      "HA6563": "EMLINE_GFLUX_HA_6564", "NII6584": "EMLINE_GFLUX_NII_6585",
                      "HEI6678": "EMLINE_GFLUX_HEI_6680", "SII6717": "EMLINE_GFLUX_SII_6718",
                      "SII6731": "EMLINE_GFLUX_SII_6732", "ARIII7135": "EMLINE_GFLUX_ARIII_7137",
                      "SIII9069": "EMLINE_GFLUX_SIII_9071"},
                     extra={"SIGMA": "EMLINE_GSIGMA_HA_6564", "SIGMA_INST": "EMLINE_INSTSIGMA_HA_6564",
                            "EW_HA6563": "EMLINE_GEW_HA_6564"}),
    # SDSS MPA-JHU galSpecLine (Brinchmann et al. 2004, arXiv:astro-ph/0311060): EQW < 0 is emission
    "mpajhu": _survey({"HB4861": "H_BETA_FLUX", "OIII4959": "OIII_4959_FLUX", "OIII5007": "OIII_5007_FLUX",
                       "HEI5876": "HEI_5876_FLUX", "OI6300": "OI_6300_FLUX", "NII6548": "NII_6548_FLUX",
                       "HA6563": "H_ALPHA_FLUX", "NII6584": "NII_6584_FLUX", "SII6717": "SII_6717_FLUX",
                       "SII6731": "SII_6731_FLUX", "ARIII7135": "ARIII7135_FLUX"},
                      err="{src}_ERR", extra={"SIGMA": "SIGMA_BALMER", "EW_HA6563": "-H_ALPHA_EQW"}),
}
# MaNGA inverse variances: EMLINE_GFLUX_IVAR_<LINE>; summed [NI] gets the sum of variances
for _line, _src in list(PRESETS["manga"].items()):
    if _line in TABLE_LINES:
        PRESETS["manga"][f"{_line}_IVAR"] = "+".join(t.replace("EMLINE_GFLUX_", "EMLINE_GFLUX_IVAR_")
                                                     for t in _src.split("+"))


@dataclass
class LineTable:
    """A validated line table.

    ``lines`` maps canonical names to ``(flux, err or None)`` (and ``SIGMA``, ``EW_HA6563`` to
    ``(values, None)``); ``passthrough`` holds the columns copied to the output, in input order;
    ``notices`` are messages for the user (preset used, columns passed through).
    """

    lines: dict
    n: int
    passthrough: dict = field(default_factory=dict)
    notices: list = field(default_factory=list)


def preset_for_columns(colnames) -> str | None:
    """The survey preset whose Hα column the table has (case-insensitive), or None."""
    upper = {c.upper() for c in colnames}
    return next((name for name, p in PRESETS.items() if p["HA6563"].upper() in upper), None)


def parse_column_map(spec) -> dict:
    """``{canonical: source}`` from ``"A=B,C=D"``, a JSON/YAML file path, a dict, or None."""
    if spec is None or spec == "":
        return {}
    if isinstance(spec, dict):
        pairs = dict(spec)
    else:
        text = str(spec)
        path = Path(text)
        if "=" not in text and path.suffix.lower() in (".json", ".yaml", ".yml"):
            if not path.is_file():
                raise InputError(f"--columns: file {path} does not exist")
            try:
                if path.suffix.lower() == ".json":
                    pairs = json.loads(path.read_text())
                else:

                    pairs = yaml.safe_load(path.read_text())
            except Exception as exc:  # JSON and YAML parsers raise their own types
                raise InputError(f"--columns: {path} is not a valid {path.suffix[1:].upper()} mapping: {exc}") from None
            if not isinstance(pairs, dict):
                raise InputError(f"--columns: {path} must hold a mapping such as {{\"HA6563\": \"HA6562_FLUX\"}}")
        else:
            pairs = {}
            for item in filter(None, (p.strip() for p in text.split(","))):
                if "=" not in item:
                    raise InputError(f"--columns: {item!r} is not of the form CANONICAL=SOURCE "
                                     "(e.g. HA6563=HA6562_FLUX)")
                k, v = item.split("=", 1)
                pairs[k.strip()] = v.strip()
    out = {}
    for k, v in pairs.items():
        key = str(k).strip().upper()
        if key not in CANONICAL_COLUMNS:
            raise InputError(f"--columns: {k!r} is not a sim2sky column{suggest(key, sorted(CANONICAL_COLUMNS))}; "
                             f"targets are line names ({', '.join(TABLE_LINES)}) with _ERR or _IVAR, SIGMA, "
                             "SIGMA_INST, EW_HA6563")
        out[key] = str(v).strip()
    return out


def _terms(expr: str) -> tuple[float, list[str]]:
    expr = expr.strip()
    sign = -1.0 if expr.startswith("-") else 1.0
    return sign, [t.strip().upper() for t in expr.lstrip("-+").split("+") if t.strip()]


# columns whose unit matters on its own; line fluxes only need one unit among them (see below)
_COLUMN_UNITS = {"SIGMA": u.km / u.s, "SIGMA_INST": u.km / u.s, "EW_HA6563": u.AA}


def _unit(t, col: str):
    """The astropy unit of a column (Table ``unit`` or QTable Quantity), or None."""
    unit = getattr(t[col], "unit", None)
    if unit is None or str(unit) in ("", "None"):
        return None
    try:
        return u.Unit(unit)
    except ValueError:
        raise InputError(f"TABLE: column {col!r} has the unit {str(unit)!r}, which astropy cannot read") from None


def _numeric(t, col: str, what: str) -> np.ndarray:
    values = t[col]
    unit = _unit(t, col)
    if isinstance(values, u.Quantity):
        values = values.value
    if not np.issubdtype(np.asarray(values).dtype, np.number):
        first = values[0] if len(values) else ""
        raise InputError(f"TABLE: column {col!r} ({what}) is not numeric (first value {first!r})")
    arr = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
    target = _COLUMN_UNITS.get(what)
    if unit is not None and target is not None:
        try:
            arr = (arr * unit).to_value(target)
        except u.UnitConversionError:
            raise InputError(f"TABLE: column {col!r} ({what}) is in {unit}; expected a unit convertible to "
                             f"{target}") from None
    if arr.ndim != 1:
        raise InputError(f"TABLE: column {col!r} ({what}) has {arr.ndim} dimensions; expected one value per row")
    if np.isinf(arr).any():
        raise InputError(f"TABLE: column {col!r} ({what}) contains inf")
    return arr


def _evaluate(t, upper: dict, target: str, expr: str, origin: str) -> tuple[np.ndarray, list[str]]:
    sign, terms = _terms(expr)
    missing = [c for c in terms if c not in upper]
    if missing:
        raise InputError(f"{origin}: {target} maps to column {missing[0]!r}, which is not in the table"
                         f"{suggest(missing[0], upper)}")
    cols = [upper[c] for c in terms]
    arrays = [_numeric(t, c, target) for c in cols]
    if target.endswith("_ERR"):
        value = np.sqrt(sum(a**2 for a in arrays))
    elif target.endswith("_IVAR"):
        with np.errstate(divide="ignore"):
            value = 1.0 / sum(np.where(a > 0, 1.0 / np.where(a > 0, a, 1.0), np.inf) for a in arrays)
    else:
        value = sign * sum(arrays)
    return value, cols


def _common_flux_unit(t, upper: dict, mapping: dict, values: dict) -> None:
    """Bring line fluxes and errors that carry units to the unit of the Hα column, in place."""
    def unit_of(key):
        expr = mapping.get(key)
        cols = _terms(expr)[1] if expr else ([key] if key in upper else [])
        units = {_unit(t, upper[c]) for c in cols if c in upper}
        return units.pop() if len(units) == 1 else None

    ref = unit_of("HA6563")
    if ref is None:
        return
    for key in list(values):
        base = key.removesuffix("_ERR")
        if base not in TABLE_LINES or key.endswith("_IVAR"):
            continue
        unit = unit_of(key)
        if unit is None or unit == ref:
            continue
        try:
            values[key] = (values[key] * unit).to_value(ref)
        except u.UnitConversionError:
            raise InputError(f"TABLE: {key} is in {unit} but HA6563 in {ref}; line fluxes must share a flux "
                             "unit (or carry none)") from None


def read_line_table(path, columns=None, preset: str | None = None, allow_negative: bool = False) -> LineTable:
    """Read a CSV/FITS/Parquet/ECSV line table, or an astropy Table/QTable, of any layout;
    validate names, units and values.

    Units are read with astropy where the table has them: ``SIGMA``/``SIGMA_INST`` are converted
    to km/s and ``EW_HA6563`` to Angstrom, line fluxes and errors to the unit of the Hα column
    (ratios are what the classifier uses); an incompatible unit is refused with one line.
    Columns without a unit are taken in those units.

    Parameters
    ----------
    path : str, Path, Table or QTable
    columns : column map (see :func:`parse_column_map`), overrides the preset
    preset : ``phangs``, ``manga`` or ``mpajhu`` (default: detected from the Hα column)
    allow_negative : accept negative fluxes (measured values of undetected lines); the default
        refuses them as a sign of a wrong column

    Raises :class:`InputError` for a table without Hα or Hβ, non-numeric line columns, negative
    fluxes, errors <= 0, or a map that names missing columns.
    """
    if isinstance(path, Table):
        t, name = path, "the table"
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"TABLE: {path} does not exist")
        t, name = read_table(path), path.name
    n = len(t)
    if n == 0:
        raise InputError(f"TABLE: {name} has no rows")
    upper = {c.upper(): c for c in t.colnames}
    notices = []
    mapping = {}
    if preset is not None:
        if preset not in PRESETS:
            raise InputError(f"--preset: unknown preset {preset!r}{suggest(preset, PRESETS)}; choose from "
                             f"{', '.join(PRESETS)}")
    elif "HA6563" not in upper and not any(k.upper() == "HA6563" for k in parse_column_map(columns)):
        preset = preset_for_columns(upper)
        if preset is not None:
            notices.append(f"columns follow the {preset} layout: using --preset {preset}")
    if preset is not None:
        # presets map what the table has; absent optional lines are simply missing
        for target, expr in PRESETS[preset].items():
            if all(c in upper for c in _terms(expr)[1]):
                mapping[target] = expr
    explicit = parse_column_map(columns)
    mapping.update(explicit)

    values, used = {}, set()
    for target, expr in mapping.items():
        origin = "--columns" if target in explicit else f"preset {preset}"
        values[target], cols = _evaluate(t, upper, target, expr, origin)
        used.update(cols)
    for key, col in upper.items():
        if col in used or key in values:
            continue
        if key in CANONICAL_COLUMNS:
            values[key] = _numeric(t, col, key)
            used.add(col)

    passthrough, unknown = {}, []
    for col in t.colnames:
        if col in used:
            continue
        passthrough[col] = np.asarray(t[col])
        key = col.upper()
        if not (key in PASSTHROUGH or key.startswith("TRUE_")):
            unknown.append(col)
    if unknown:
        hints = [f"{c}{suggest(c.upper(), sorted(CANONICAL_COLUMNS))}" for c in unknown]
        hints = [h for h in hints if "did you mean" in h]
        shown = ", ".join(unknown[:12]) + (f" and {len(unknown) - 12} more" if len(unknown) > 12 else "")
        msg = f"{len(unknown)} column(s) not used for classification, passed through to the output: {shown}"
        if hints:
            msg += "; possible typos: " + "; ".join(hints[:5])
        notices.append(msg)

    _common_flux_unit(t, upper, mapping, values)
    for key, arr in values.items():
        finite = arr[np.isfinite(arr)]
        if key.endswith(("_ERR",)) and np.any(finite <= 0):
            raise InputError(f"TABLE: column for {key} has errors <= 0; errors must be positive (or NaN if unknown)")
        if key in TABLE_LINES and not allow_negative and np.any(finite < 0):
            rows = np.flatnonzero(np.nan_to_num(arr, nan=0.0) < 0)
            raise InputError(f"TABLE: {key} has negative fluxes (rows {rows[:5].tolist()}); give undetected lines "
                             "as 0 (or NaN) with their error, or pass --allow-negative to use measured negative "
                             "fluxes as they are")
    missing = [c for c in ("HA6563", "HB4861") if c not in values]
    if missing:
        raise InputError(f"TABLE: {name} has no {' or '.join(missing)} column; the classifier needs Hα and "
                         f"Hβ (fluxes may be NaN in some rows). Map them with --columns HA6563=...,HB4861=... or "
                         f"use --preset ({', '.join(PRESETS)})")
    lines = {}
    for name in TABLE_LINES:
        err = values.get(f"{name}_ERR")
        if err is None and f"{name}_IVAR" in values:
            ivar = values[f"{name}_IVAR"]
            with np.errstate(divide="ignore", invalid="ignore"):
                err = np.where(ivar > 0, 1.0 / np.sqrt(np.where(ivar > 0, ivar, 1.0)), np.nan)
        if name in values:
            lines[name] = (values[name], err)
        elif err is not None:
            raise InputError(f"TABLE: an error column for {name} is given without {name}")
    if "SII6717_31" not in lines and ("SII6717" in lines) != ("SII6731" in lines):
        one = "SII6717" if "SII6717" in lines else "SII6731"
        raise InputError(f"TABLE: only {one} of the [SII] doublet is given; give both, or their sum as SII6717_31")
    # an undetected line: flux NaN with an error means "0 ± err" (an upper limit)
    for name, (f, e) in list(lines.items()):
        if e is not None:
            lines[name] = (np.where(np.isnan(f) & np.isfinite(e), 0.0, f), e)
    if "SIGMA" in values:
        sigma = values["SIGMA"]
        if "SIGMA_INST" in values:
            sigma = np.sqrt(np.clip(sigma**2 - values["SIGMA_INST"] ** 2, 0, None))
        lines["SIGMA"] = (sigma, None)
    if "EW_HA6563" in values:
        lines["EW_HA6563"] = (values["EW_HA6563"], None)
    return LineTable(lines, n, passthrough, notices)
