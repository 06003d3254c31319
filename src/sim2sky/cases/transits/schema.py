"""Vocabulary of the transit-vetting case: scenarios, Kepler cadence, search and view settings."""

from __future__ import annotations

__all__ = ["SCENARIOS", "PLANET", "CADENCE_DAYS", "BASELINE_DAYS", "BIN_CADENCES", "MIN_PERIOD", "MAX_PERIOD",
           "SNR_THRESHOLD", "GLOBAL_BINS", "LOCAL_BINS", "LOCAL_DURATIONS", "LOCAL_CHANNELS", "SCALAR_NAMES",
           "N_INPUTS", "expected_duration"]

#: what produced a threshold-crossing event: a transiting planet, an eclipsing binary on the
#: target, a background eclipsing binary diluted by the target's light, or instrumental
#: systematics and stellar variability (Kepler's PC / AFP / AFP / NTP)
SCENARIOS = ("planet", "EB", "BEB", "systematic")
PLANET = "planet"

#: Kepler long cadence (29.4 min) over one 90-d quarter; light curves are binned 2:1 for the search
CADENCE_DAYS, BASELINE_DAYS, BIN_CADENCES = 0.02043, 90.0, 2
#: period range of the search (>= 3 transits in a quarter)
MIN_PERIOD, MAX_PERIOD = 0.5, 30.0
#: Kepler's detection threshold on the box signal-to-noise ratio (Jenkins et al. 2010)
SNR_THRESHOLD = 7.1

#: views of the folded light curve (after Shallue & Vanderburg 2018, arXiv:1712.05044, at CPU size)
GLOBAL_BINS, LOCAL_BINS = 101, 41
#: half-width of the local views in transit durations
LOCAL_DURATIONS = 2.5
#: local views: primary transit, odd transits, even transits, phase 0.5 (secondary eclipse)
LOCAL_CHANNELS = ("primary", "odd", "even", "secondary")
#: scalar diagnostics of a TCE
SCALAR_NAMES = ("log_period", "log_duration_hr", "log_depth_ppm", "log_snr", "log_duration_over_expected",
                "secondary_over_primary", "odd_even_sigma", "log_noise_ppm", "n_transits", "log_depth_over_noise")
N_INPUTS = len(SCALAR_NAMES) + GLOBAL_BINS + len(LOCAL_CHANNELS) * LOCAL_BINS


def expected_duration(period_days):
    """Duration (days) of a central transit across a Sun-like star: 13 h (P / 1 yr)^(1/3)."""
    return 13.0 / 24.0 * (period_days / 365.25) ** (1.0 / 3.0)
