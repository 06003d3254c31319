"""Transit vetting from light curves, trained on simulated Kepler quarters.

Scenarios (planet, eclipsing binary, background eclipsing binary, systematics) are simulated
with limb-darkened eclipses (:mod:`.model`, :mod:`.forward`), searched with box least squares
and turned into global/local views (:mod:`.search`), and vetted by a calibrated two-view CNN
(:mod:`.pipeline`). Vocabulary in :mod:`.schema`; file-level API in :mod:`.api`.
"""

from ...core.lazy import lazy_exports

# lazy (PEP 562): the search workers of a parallel run import search only, not torch through the vetter
_EXPORTS = {
    "api": ("read_flux_table", "simulate_transits_file", "train_transits_file", "vet_lightcurves_file"),
    "model": ("a_over_r", "eclipse_flux", "occulted_fraction", "transit_flux"),
    "pipeline": ("INPUT_NAMES", "TransitTraining", "load_transit_vetter", "simulate_tce_set", "tce_label",
                 "train_transit_vetter", "vet_lightcurves", "vetter_network", "vetting_scores"),
    "schema": ("N_INPUTS", "SCALAR_NAMES", "SCENARIOS"),
    "search": ("check_flux", "detrend", "search_tce", "search_views", "tce_inputs", "tce_views"),
    "forward": ("kepler_times", "simulate_scenario", "simulate_tce_lightcurves"),
    "case": ("TransitsCase", "load", "simulate", "train"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
