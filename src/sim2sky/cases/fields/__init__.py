"""Case: fields and tomography — Gaussian, log-normal and 21-cm reionisation fields; CNN vs P(k) inference.

Simulators (:mod:`.forward`) draw periodic maps and cubes from the shipped CAMB power spectra
(:mod:`.power`); :mod:`.exact` gives the exact posterior of a Gaussian field (the reference
NPE is checked against); :mod:`.stats` holds the summary statistics that validate emulators;
:mod:`.api` reads and writes field files.
"""

from .api import FIELD_SUFFIXES, read_fields, simulate_fields, simulate_fields_file, write_fields
from .emulation import EMULATOR_METHODS, check_emulator_file, load_emulator, sample_emulator_file, train_emulator_file
from .exact import gaussian_log_likelihood, gaussian_posterior_samples
from .power import growth_factor, linear_power, sigma_tophat
from .cross import twentyonecmfast_fields
from .schema import KINDS, PLANCK, REION_KINDS, REION_REDSHIFT, FieldKind, kind_spec
from .forward import gaussian_fields, lognormal_fields, observe_21cm, phase_randomize, reion21cm_fields, virial_mass
from .stats import compare_fields, peak_counts, pixel_pdf, minkowski_2d

from .case import FieldsCase, load, simulate, train

__all__ = ["simulate", "train", "load", "FieldsCase", "FIELD_SUFFIXES", "read_fields", "simulate_fields", "simulate_fields_file", "write_fields",
           "gaussian_log_likelihood", "gaussian_posterior_samples", "growth_factor", "linear_power", "sigma_tophat",
           "KINDS", "PLANCK", "REION_KINDS", "REION_REDSHIFT", "twentyonecmfast_fields", "FieldKind", "kind_spec", "gaussian_fields", "lognormal_fields",
           "observe_21cm", "phase_randomize", "reion21cm_fields", "virial_mass", "compare_fields", "peak_counts", "pixel_pdf",
           "minkowski_2d", "EMULATOR_METHODS", "check_emulator_file", "load_emulator", "sample_emulator_file",
           "train_emulator_file"]
