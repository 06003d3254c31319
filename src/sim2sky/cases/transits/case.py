"""The transit case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives Kepler long-cadence quarters (planets, eclipsing binaries, background binaries,
systematics) as a long table; ``train`` fits the calibrated two-view vetter on simulated TCEs;
``load(model).predict(data)`` searches every light curve for its strongest periodic dip and vets
it; ``check`` scores light curves with a known scenario.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir
from ...core.contract import CasePipeline, as_table, train_settings
from ...core.errors import InputError
from ...core.tables import per_object
from ...learn.metrics import classification_check
from .api import train_transits_file, transit_table, vet_table
from .pipeline import load_transit_vetter

__all__ = ["simulate", "train", "load", "TransitsCase"]


def simulate(n: int, *, seed: int = 0) -> QTable:
    """``n`` 90-d Kepler quarters, scenarios cycled: a long table ``id``, ``t`` [d], ``flux``,
    ``err`` [relative] with the injected ``scenario`` and ``period`` [d]."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    return transit_table(n, seed)


def train(data_or_config=None, out=None, *, overwrite: bool = False, **config) -> Path:
    """Train the vetter on simulated TCEs only; write the model folder ``out``.

    ``data_or_config``: None or a dict of :func:`~.api.train_transits_file` settings
    (``n_per_scenario``, ``epochs``, ``seed``, ``n_jobs``), also accepted as keywords.
    """
    settings = train_settings(data_or_config, config, "transits", train_transits_file)
    out = check_out_dir(out, overwrite=overwrite, kind="classifier")
    train_transits_file(out, **settings)
    return out


def load(model=None) -> "TransitsCase":
    """The vetter of a model folder (the shipped, simulation-trained one when None)."""
    return TransitsCase(model)


class TransitsCase(CasePipeline):
    """Box-least-squares search plus a calibrated vetter over planet, EB, BEB and systematics."""

    case = "transits"

    def __init__(self, model=None):
        self.model = model
        self.vetter_ = load_transit_vetter(model)

    def predict(self, data, *, n_jobs: int = 1, **columns) -> QTable:
        """One row per star: ``id``, ``label``, ``p_planet``, ``period`` [d], ``t0`` [d],
        ``duration_hr`` [h], ``depth_ppm``, ``snr``, ``note``, ``p_<scenario>``. ``columns``
        renames the inputs (``id_col``, ``t_col``, ``flux_col``, ``err_col``)."""
        return vet_table(data, self.vetter_, n_jobs, **columns)[0]

    def check(self, data=None, *, n: int = 40, seed: int = 1, truth: str = "scenario", id_col: str = "id",
              n_jobs: int = 1) -> dict:
        """Vetting diagnostics on light curves with a per-star ``truth`` scenario (curves without a
        TCE count as ``unknown``); on ``n`` fresh simulated quarters when None."""
        data = simulate(n, seed=seed) if data is None else as_table(data, "data")
        if truth not in data.colnames:
            raise InputError(f"data: no truth column {truth!r}")
        pred = self.predict(data, n_jobs=n_jobs)
        true = per_object(data, id_col, truth)
        classes = self.vetter_.classes
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)
        label = np.asarray(pred["label"]).astype(str)
        label = np.where(np.isin(label, classes), label, "unknown")
        result = classification_check([true[i] for i in pred["id"]], label, proba, classes)
        result["no_tce_rate"] = float(np.mean(np.asarray(pred["label"]) == "no_tce"))
        return result
