"""Units at the boundary, read by :mod:`astropy.units` (one place for every reader).

Headers and tables name units in many spellings (``Angstrom``, ``AA``, ``angstroms``, ``nm``,
``um``, ``micron``, ``MHz``...); astropy parses them, and a unit of the wrong kind is refused
with one line naming where it was found.
"""

from __future__ import annotations

import astropy.units as u

from .errors import InputError

__all__ = ["parse_unit", "spectral_scale"]

# spellings astropy reads otherwise (``a`` is a year, ``A`` an ampere, ``mhz`` a millihertz, which
# no spectrum or cube means) or not at all (``HZ``)
_ALIASES = {"a": "Angstrom", "angstroms": "Angstrom", "ang": "Angstrom", "microns": "micron",
            "hz": "Hz", "khz": "kHz", "mhz": "MHz", "ghz": "GHz"}
_TARGET = {"wavelength": (u.AA, "a wavelength unit (Angstrom, nm, um, m)"),
           "frequency": (u.Hz, "a frequency unit (Hz, kHz, MHz, GHz)")}


def parse_unit(text) -> u.UnitBase | None:
    """An astropy unit from a header or column string, or None when it is empty or unreadable."""
    text = str(text or "").strip()
    if not text:
        return None
    text = _ALIASES.get(text.lower(), text)
    # as written, in lower case ("ADU"), and with radio's upper-case "JY/BEAM" spelled as astropy does
    for candidate in (text, text.lower(), text.replace("JY", "Jy").replace("BEAM", "beam")):
        for fmt in ("fits", None):
            try:
                return u.Unit(candidate, format=fmt, parse_strict="raise")
            except ValueError:
                continue
    return None


def spectral_scale(text, kind: str, what: str) -> float:
    """Factor that converts values in unit ``text`` to Angstrom (``kind="wavelength"``) or Hz
    (``"frequency"``); :class:`InputError` naming ``what`` if it is unreadable or of another kind."""
    target, expected = _TARGET[kind]
    unit = parse_unit(text)
    if unit is None:
        raise InputError(f"{what}: the unit {str(text).strip()!r} cannot be read; expected {expected}")
    try:
        return float(unit.to(target))
    except u.UnitConversionError:
        raise InputError(f"{what}: {str(text).strip()!r} is not {expected}") from None
