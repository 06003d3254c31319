"""Transit vetting from light curves, trained on simulated Kepler quarters.

Scenarios (planet, eclipsing binary, background eclipsing binary, systematics) are simulated
with limb-darkened eclipses (:mod:`.model`, :mod:`.forward`), searched with box least squares
and turned into global/local views (:mod:`.search`), and vetted by a calibrated two-view CNN
(:mod:`.pipeline`). Vocabulary in :mod:`.schema`; file-level API in :mod:`.api`.
"""

from .api import read_flux_table, simulate_transits_file, train_transits_file, vet_lightcurves_file
from .model import a_over_r, eclipse_flux, occulted_fraction, transit_flux
from .pipeline import (INPUT_NAMES, TransitTraining, load_transit_vetter, simulate_tce_set, tce_label,
                       train_transit_vetter, vet_lightcurves, vetter_network, vetting_scores)
from .schema import N_INPUTS, SCALAR_NAMES, SCENARIOS
from .search import check_flux, detrend, search_tce, tce_inputs, tce_views
from .forward import kepler_times, simulate_scenario, simulate_tce_lightcurves

from .case import TransitsCase, load, simulate, train

__all__ = ["simulate", "train", "load", "TransitsCase", "read_flux_table", "simulate_transits_file", "train_transits_file", "vet_lightcurves_file", "a_over_r", "eclipse_flux", "occulted_fraction", "transit_flux", "INPUT_NAMES", "TransitTraining",
           "load_transit_vetter", "simulate_tce_set", "tce_label", "train_transit_vetter", "vet_lightcurves",
           "vetter_network", "vetting_scores", "N_INPUTS", "SCALAR_NAMES", "SCENARIOS", "check_flux", "detrend",
           "search_tce", "tce_inputs", "tce_views", "kepler_times", "simulate_scenario", "simulate_tce_lightcurves"]
