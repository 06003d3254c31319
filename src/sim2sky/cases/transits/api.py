"""File-level API of the transit case (what the CLI calls): simulate, train, vet.

Light-curve files are long tables (CSV, ECSV, FITS, Parquet) with one row per cadence and
columns ``id``, ``t`` (days), ``flux`` (relative, median ~1), ``err`` (names configurable).
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...core.contract import qtable
from ...core.tables import long_table, read_long_table, write_table
from .pipeline import TransitTraining, train_transit_vetter, vet_lightcurves
from .schema import SCENARIOS
from .forward import simulate_tce_lightcurves

#: parts per million, as a scaled dimensionless unit (astropy has no named one)
PPM = u.Unit(1e-6)

__all__ = ["read_flux_table", "transit_table", "vet_table", "simulate_transits_file", "train_transits_file", "vet_lightcurves_file"]


def read_flux_table(path, id_col: str = "id", t_col: str = "t", flux_col: str = "flux", err_col: str = "err"):
    """``(ids, t_list, flux_list, err_list)`` from a long table (file or astropy Table), one light
    curve per distinct id; ``t`` in days (converted when the column carries a unit)."""
    return read_long_table(path, id_col, (t_col, flux_col, err_col),
                           "; name them with --id-col/--t-col/--flux-col/--err-col",
                           units=("d", u.dimensionless_unscaled, u.dimensionless_unscaled))


def transit_table(n: int, seed: int = 0) -> QTable:
    """``n`` simulated Kepler quarters (scenarios cycled) as a long table: ``id``, ``t`` [d],
    ``flux``, ``err`` [relative] and the injected ``scenario`` and ``period`` [d]."""
    sims = simulate_tce_lightcurves(n, seed)
    return long_table([f"sim{k:06d}" for k in range(n)], {c: [s[c] for s in sims] for c in ("t", "flux", "err")},
                      {c: [s["truth"][c] for s in sims] for c in ("scenario", "period")},
                      units={"t": u.d, "period": u.d})


def simulate_transits_file(out, n: int, seed: int = 0) -> dict:
    """Write :func:`transit_table` to ``out`` atomically."""
    tab = transit_table(n, seed)
    write_table(tab, out)
    return {"out": Path(out), "n": n, "cadences": len(tab)}


def train_transits_file(out, n_per_scenario: int = 1000, epochs: int = 40, seed: int = 0, n_jobs: int = 2,
                        progress: bool = False) -> dict:
    """Train a vetter on simulated TCEs and save it as a model folder."""
    settings = TransitTraining(n_per_scenario=n_per_scenario, epochs=epochs, seed=seed, n_jobs=n_jobs)
    clf = train_transit_vetter(settings, progress=progress)
    clf.save(out, provenance={"n_per_scenario": n_per_scenario, "seed": seed,
                              "trained_on": "sim2sky.cases.transits simulations only"})
    return {"out": Path(out), "classes": clf.classes, "temperature": clf.temperature_}


def vet_table(data, model=None, n_jobs: int = 1, **cols) -> tuple[QTable, dict]:
    """One row per star of a long table (file or Table): ``id``, ``label``, ``p_planet``, ``period``
    [d], ``t0`` [d], ``duration_hr`` [h], ``depth_ppm`` [ppm], ``snr``, ``note``, ``p_<scenario>``;
    and :func:`vet_lightcurves`' dict."""
    ids, t, flux, err = read_flux_table(data, **cols)
    res = vet_lightcurves(t, flux, err, model, n_jobs=n_jobs)
    columns = {"id": ids, "label": res["label"].astype(str), "p_planet": res["p_planet"], "period": res["period"],
               "t0": res["t0"], "duration_hr": res["duration"] * 24.0, "depth_ppm": res["depth"] * 1e6,
               "snr": res["snr"], "note": res["note"].astype(str)}
    for j, c in enumerate(res["classes"]):
        columns[f"p_{c}"] = res["proba"][:, j]
    return qtable(columns, {"period": u.d, "t0": u.d, "duration_hr": u.h, "depth_ppm": PPM}), res


def vet_lightcurves_file(path, out, model=None, n_jobs: int = 1, **cols) -> dict:
    """Search and vet every light curve of a long table; one row per star with its TCE and P(scenario)."""
    tab, res = vet_table(path, model, n_jobs, **cols)
    write_table(tab, out)
    counts = {c: int(np.sum(res["label"] == c)) for c in (*SCENARIOS, "unknown", "no_tce", "flagged")}
    return {"out": Path(out), "n": len(tab), "counts": counts}
