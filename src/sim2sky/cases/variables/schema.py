"""Vocabulary of the variable-star case: OGLE-III classes and the catalogue features used."""

from __future__ import annotations

__all__ = ["OGLE_TYPES", "OGLE_CLASSES", "RARE_CLASSES", "FEATURE_NAMES", "MISSING", "ogle_class"]

MISSING = -99.99     # the OGLE-III catalogue's missing-value marker

#: OGLE-III types (Udalski et al. 2008 and the OIII-CVS papers, e.g. Soszyński et al. 2008, arXiv:0808.2210)
OGLE_TYPES = ("LPV", "RRLyr", "Cep", "T2Cep", "aCep", "DSCT", "DPV", "RCB")

#: type + mode classes used to check clusters and classifiers
OGLE_CLASSES = ("LPV-OSARG", "LPV-SRV", "LPV-Mira", "RRab", "RRc", "RRd", "RRe", "Cep-F", "Cep-1O", "Cep-multi",
                "T2Cep-BLHer", "T2Cep-WVir", "T2Cep-RVTau", "aCep", "DSCT", "DPV", "RCB")

#: classes with < 0.1% of the catalogue: what an anomaly ranking should bring up
RARE_CLASSES = ("RCB", "DPV", "aCep", "T2Cep-RVTau", "T2Cep-WVir", "T2Cep-BLHer")

#: per-star features: period, amplitude, colour, light-curve shape (Fourier), second period;
#: each ``*_missing`` flag marks a value the catalogue does not give (imputed by the median)
FEATURE_NAMES = ("log_P1", "log_A1", "V_I", "R21", "phi21", "R31", "phi31", "log_P2_P1", "log_A2_A1",
                 "V_I_missing", "R21_missing", "phi21_missing", "R31_missing", "phi31_missing", "P2_missing")


def ogle_class(otype: str, subtype: str) -> str:
    """Class label of one OGLE-III star from its ``Type`` and ``Subtype`` columns."""
    if otype == "LPV":
        return {"OSARG": "LPV-OSARG", "SRV": "LPV-SRV", "Mira": "LPV-Mira"}.get(subtype, "LPV-OSARG")
    if otype == "RRLyr":
        return subtype if subtype in ("RRab", "RRc", "RRd", "RRe") else "RRab"
    if otype == "Cep":
        return {"F": "Cep-F", "1": "Cep-1O"}.get(subtype, "Cep-multi")
    if otype == "T2Cep":
        return {"BLHer": "T2Cep-BLHer", "RVTau": "T2Cep-RVTau"}.get(subtype, "T2Cep-WVir")
    return otype
