"""Supernova spectral typing (subtype and age) trained on SNID/DASH templates, split by supernova.

Vocabulary in :mod:`.schema`; templates and preprocessing in :mod:`.templates`; classifiers in
:mod:`.pipeline`.
"""

from .api import sntype_table
from .pipeline import (SNTraining, augment, load_sn_typer, split_by_supernova, supernova_key, train_sn_typer,
                       type_spectra, type_spectrum)
from .schema import AGE_LABELS, BROAD_TYPE, SN_SUBTYPES, age_bin, log_wave_grid
from .templates import flatten_spectrum, normalise, parse_lnw, read_sn_templates

from .case import SupernovaeCase, load, simulate, train

__all__ = ["simulate", "train", "load", "SupernovaeCase", "sntype_table", "SNTraining", "augment", "load_sn_typer", "split_by_supernova", "supernova_key", "train_sn_typer",
           "type_spectra", "type_spectrum", "AGE_LABELS", "BROAD_TYPE", "SN_SUBTYPES", "age_bin", "log_wave_grid",
           "flatten_spectrum", "normalise", "parse_lnw", "read_sn_templates"]
