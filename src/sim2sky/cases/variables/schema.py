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


# -- light curves -------------------------------------------------------------------------------

#: classes of the light-curve classifier (simulated from physics and OGLE-III shapes)
LC_CLASSES = ("RRab", "RRc", "Cep", "LPV", "EB", "DSCT", "constant")

#: OGLE-III classes whose catalogued periods, amplitudes and Fourier shapes feed each simulated class
LC_OGLE_SOURCES = {"RRab": ("RRab",), "RRc": ("RRc",), "Cep": ("Cep-F", "Cep-1O"), "LPV": ("LPV-Mira", "LPV-SRV"),
                   "DSCT": ("DSCT",)}

#: groups of classifier classes that the real labelled surveys distinguish
EROS_TYPES = {1: "EB", 2: "Cep", 3: "RRL", 4: "LPV"}           # EROS-1 (RAMP kit) type codes
REAL_GROUPS = {"RRab": "RRL", "RRc": "RRL", "Cep": "Cep", "LPV": "LPV", "EB": "EB", "DSCT": "other",
               "constant": "other"}

#: Fourier harmonics fitted at the best period (R21, phi21, R31, phi31: Simon & Lee 1981)
N_HARMONICS = 3
#: phase bins of the folded, normalised light curve given to the classifier
N_PHASE_BINS = 32
#: scalar light-curve features, in order (the folded curve follows them)
LC_FEATURE_NAMES = ("log_period", "ls_power", "log_amplitude", "log_amp_over_err", "R21", "cos_phi21", "sin_phi21",
                    "R31", "cos_phi31", "sin_phi31", "fourier_chi2_ratio", "double_period_gain", "skew", "kurtosis",
                    "von_neumann_eta", "beyond_1sd", "log_chi2_constant", "frac_brighter")
