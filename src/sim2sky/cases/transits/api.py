"""File-level API of the transit case (what the CLI calls): simulate, train, vet.

Light-curve files are long tables (CSV, ECSV, FITS, Parquet) with one row per cadence and
columns ``id``, ``t`` (days), ``flux`` (relative, median ~1), ``err`` (names configurable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.tables import read_long_table, write_long_table, write_table
from .pipeline import TransitTraining, train_transit_vetter, vet_lightcurves
from .schema import SCENARIOS
from .simulate import simulate_tce_lightcurves

__all__ = ["read_flux_table", "simulate_transits_file", "train_transits_file", "vet_lightcurves_file"]


def read_flux_table(path, id_col: str = "id", t_col: str = "t", flux_col: str = "flux", err_col: str = "err"):
    """``(ids, t_list, flux_list, err_list)`` from a long table, one light curve per distinct id."""
    return read_long_table(path, id_col, (t_col, flux_col, err_col),
                           "; name them with --id-col/--t-col/--flux-col/--err-col")


def simulate_transits_file(out, n: int, seed: int = 0) -> dict:
    """Simulate ``n`` Kepler quarters (scenarios cycled) into a long table with the injected truth."""
    sims = simulate_tce_lightcurves(n, seed)
    cadences = write_long_table(out, [f"sim{k:06d}" for k in range(n)],
                                {c: [s[c] for s in sims] for c in ("t", "flux", "err")},
                                {c: [s["truth"][c] for s in sims] for c in ("scenario", "period")})
    return {"out": Path(out), "n": n, "cadences": cadences}


def train_transits_file(out, n_per_scenario: int = 1000, epochs: int = 40, seed: int = 0, n_jobs: int = 2,
                        progress: bool = False) -> dict:
    """Train a vetter on simulated TCEs and save it as a model folder."""
    settings = TransitTraining(n_per_scenario=n_per_scenario, epochs=epochs, seed=seed, n_jobs=n_jobs)
    clf = train_transit_vetter(settings, progress=progress)
    clf.save(out, provenance={"n_per_scenario": n_per_scenario, "seed": seed,
                              "trained_on": "sim2sky.cases.transits simulations only"})
    return {"out": Path(out), "classes": clf.classes, "temperature": clf.temperature_}


def vet_lightcurves_file(path, out, model=None, n_jobs: int = 1, **cols) -> dict:
    """Search and vet every light curve of a long table; one row per star with its TCE and P(scenario)."""
    from astropy.table import Table

    ids, t, flux, err = read_flux_table(path, **cols)
    res = vet_lightcurves(t, flux, err, model, n_jobs=n_jobs)
    tab = Table({"id": ids, "label": res["label"].astype(str), "p_planet": res["p_planet"], "period": res["period"],
                 "t0": res["t0"], "duration_hr": res["duration"] * 24.0, "depth_ppm": res["depth"] * 1e6,
                 "snr": res["snr"], "note": res["note"].astype(str)})
    for j, c in enumerate(res["classes"]):
        tab[f"p_{c}"] = res["proba"][:, j]
    write_table(tab, out)
    counts = {c: int(np.sum(res["label"] == c)) for c in (*SCENARIOS, "unknown", "no_tce", "flagged")}
    return {"out": Path(out), "n": len(ids), "counts": counts}
