"""The nebula case: HII regions, planetary nebulae, supernova remnants and diffuse gas in IFU data.

Theory (MAPPINGS / 3MdB grids, shock and DIG models) -> MUSE-like spectra with real noise ->
measured lines -> calibrated classifier with "unknown" + HII-region NPE -> line tables and cubes
(maps, catalogue, report). Vocabulary in :mod:`.schema`.
"""

from .cube import PLANE_NAMES, classify_cube, cube_features, cube_redshift, is_cube, process_block
from .demo import run_cube_demo, score_against_truth
from .features import FEATURE_LINES, FEATURE_NAMES, augment_table, line_features, measured_to_table
from .calibration import NebulaCalibration, calibrate_line_rows, line_pattern
from .crosstheory import (STRONG_LINES, EmpiricalLINER, EmpiricalSeyfert, bpt_coverage_figure, five_line_table,
                          leave_one_grid_out, theory_line_table)
from .grids import (Bond3MdBHII, MappingsHII, MappingsIVKappaHII, MappingsNLR, MappingsVHII, PNe3MdB, mappings_grid,
                    pyqz_grid, three_mdb_table)
from .lines import LINE_NAMES, LINE_WAVES, LINES, atomic, ccm89_k, line_index, muse_lsf_fwhm
from .linetable import PRESETS, LineTable, parse_column_map, preset_for_columns, read_line_table
from .measure import LineFitConfig, measure_lines, needed_channels
from .mockcube import make_mock_cube
from .observe import ObservationModel, noise_library, render_lines, render_spectra
from .pipeline import (DEFAULT_MODEL_DIR, NebulaPipeline, adapt_to_target, classify_table, parse_class_priors,
                       table_features)
from .schema import (CLASS_PRIOR_PRESETS, CLASSES, CUBE_CLASSES, FIELD_PRIORS, HII_KEYS, HII_LABELS, HII_PARAMETERS,
                     HII_UNITS, UNKNOWN)
from .theory import DiffuseIonisedGas, NebulaModel, Parameter, ShockSNR
from .training import (DOMAINS, HII_FAMILIES, Domain, evaluate_classifier, shifted_domain, simulate_agn, simulate_noise,
                       simulate_set, source_domain, theory_domain, write_line_table)
from .fit import train_nebulae

from .case import NebulaeCase, load, simulate, train

__all__ = [
    "simulate", "train", "load", "NebulaeCase",
    "STRONG_LINES", "EmpiricalLINER", "EmpiricalSeyfert", "bpt_coverage_figure", "leave_one_grid_out",
    "theory_line_table", "five_line_table", "NebulaCalibration", "calibrate_line_rows", "line_pattern",
    "MappingsIVKappaHII", "MappingsVHII", "pyqz_grid", "parse_class_priors",
    "CLASS_PRIOR_PRESETS", "FIELD_PRIORS", "HII_FAMILIES",
    "PLANE_NAMES", "classify_cube", "cube_features", "cube_redshift", "is_cube", "process_block",
    "run_cube_demo", "score_against_truth",
    "FEATURE_LINES", "FEATURE_NAMES", "augment_table", "line_features", "measured_to_table",
    "Bond3MdBHII", "MappingsHII", "MappingsNLR", "PNe3MdB", "mappings_grid", "three_mdb_table",
    "LINE_NAMES", "LINE_WAVES", "LINES", "atomic", "ccm89_k", "line_index", "muse_lsf_fwhm",
    "PRESETS", "LineTable", "parse_column_map", "preset_for_columns", "read_line_table",
    "LineFitConfig", "measure_lines", "needed_channels", "make_mock_cube",
    "ObservationModel", "noise_library", "render_lines", "render_spectra",
    "DEFAULT_MODEL_DIR", "NebulaPipeline", "adapt_to_target", "classify_table", "table_features",
    "CLASSES", "CUBE_CLASSES", "HII_KEYS", "HII_LABELS", "HII_PARAMETERS", "HII_UNITS", "UNKNOWN",
    "DiffuseIonisedGas", "NebulaModel", "Parameter", "ShockSNR",
    "DOMAINS", "Domain", "evaluate_classifier", "shifted_domain", "simulate_agn", "simulate_noise", "simulate_set",
    "source_domain", "theory_domain", "train_nebulae", "write_line_table",
]
