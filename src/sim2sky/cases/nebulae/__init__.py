"""The nebula case: HII regions, planetary nebulae, supernova remnants and diffuse gas in IFU data.

Theory (MAPPINGS / 3MdB grids, shock and DIG models) -> MUSE-like spectra with real noise ->
measured lines -> calibrated classifier with "unknown" + HII-region NPE -> line tables and cubes
(maps, catalogue, report). Vocabulary in :mod:`.schema`.
"""

from ...core.lazy import lazy_exports

# lazy (PEP 562): a line-table prediction imports the pipeline, not the cube reader and its WCS and
# coordinates stack (0.18 s of a 10-row classification)
_EXPORTS = {
    "cube": ("PLANE_NAMES", "classify_cube", "cube_features", "cube_redshift", "is_cube", "process_block"),
    "demo": ("run_cube_demo", "score_against_truth"),
    "features": ("FEATURE_LINES", "FEATURE_NAMES", "augment_table", "line_features", "measured_to_table"),
    "calibration": ("NebulaCalibration", "calibrate_line_rows", "line_pattern"),
    "crosstheory": ("STRONG_LINES", "EmpiricalLINER", "EmpiricalSeyfert", "bpt_coverage_figure",
                   "five_line_table", "leave_one_grid_out", "theory_line_table"),
    "grids": ("Bond3MdBHII", "MappingsHII", "MappingsIVKappaHII", "MappingsNLR", "MappingsVHII", "PNe3MdB",
             "mappings_grid", "pyqz_grid", "three_mdb_table"),
    "lines": ("LINE_NAMES", "LINE_WAVES", "LINES", "atomic", "ccm89_k", "line_index", "muse_lsf_fwhm"),
    "linetable": ("PRESETS", "LineTable", "parse_column_map", "preset_for_columns", "read_line_table"),
    "measure": ("LineFitConfig", "measure_lines", "needed_channels"),
    "mockcube": ("make_mock_cube",),
    "observe": ("ObservationModel", "noise_library", "render_lines", "render_spectra"),
    "pipeline": ("DEFAULT_MODEL_DIR", "NebulaPipeline", "adapt_to_target", "classify_table",
                "parse_class_priors", "table_features"),
    "schema": ("CLASS_PRIOR_PRESETS", "CLASSES", "CUBE_CLASSES", "FIELD_PRIORS", "HII_KEYS", "HII_LABELS",
              "HII_PARAMETERS", "HII_UNITS", "UNKNOWN"),
    "theory": ("DiffuseIonisedGas", "NebulaModel", "Parameter", "ShockSNR"),
    "training": ("DOMAINS", "HII_FAMILIES", "Domain", "evaluate_classifier", "shifted_domain", "simulate_agn",
                "simulate_noise", "simulate_set", "source_domain", "theory_domain", "write_line_table"),
    "fit": ("train_nebulae",),
    "case": ("NebulaeCase", "load", "simulate", "train"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
