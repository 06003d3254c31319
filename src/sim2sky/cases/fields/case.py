"""The fields case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` draws cosmological or 21-cm fields from their box prior (a
:class:`~sim2sky.core.contract.Dataset` of maps or cubes with the parameters as truth);
``train`` fits a field emulator p(field | parameters) on simulated fields;
``load(model).predict(parameters)`` emulates one field per parameter row; ``check`` compares
the emulator's summary statistics (power spectrum, pixel PDF, peaks, Minkowski functionals)
with simulations at the same parameters.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir
from ...core.contract import CasePipeline, Dataset, as_table, qtable, train_settings
from ...core.errors import InputError
from .api import read_fields, simulate_fields, write_fields
from .emulation import load_emulator, train_emulator_file
from .schema import KINDS, kind_spec
from .stats import compare_fields

__all__ = ["simulate", "train", "load", "FieldsCase"]


def _theta_units(kind: str) -> dict:
    spec = KINDS[kind]
    return {p: (f"dex({unit})" if p.startswith("log10") and unit else unit) for p, unit in zip(spec.parameters, spec.units)}


def simulate(n: int, *, seed: int = 0, kind: str = "gaussian", **options) -> Dataset:
    """``n`` fields of ``kind`` (``gaussian``, ``lognormal``, ``reion21cm``, ``21cmfast``) with parameters drawn
    from its box prior; ``options`` are :func:`~.api.simulate_fields`'s (``size``, ``dim``, ``box``,
    ``noise``, ``theta``...).

    Returns
    -------
    Dataset
        ``fields`` (n, size, size[, size]) [density contrast, or mK for 21 cm], ``truth`` QTable of
        the parameters; ``.write(path)`` writes ``.npz``, ``.h5`` or ``.fits`` field files.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    kind_spec(kind)
    r = simulate_fields(kind, n, seed=seed, **options)
    truth = qtable(dict(zip(r["theta_names"], np.asarray(r["theta"]).T)), _theta_units(kind), meta={"kind": kind})
    unit = u.Unit(r["meta"].get("unit") or "")
    return Dataset({"fields": r["x"] * unit}, truth, None, {"result": r, "kind": kind},
                   writer=lambda ds, path: {"out": str(write_fields(path, ds.meta["result"]))})


def train(data_or_config=None, out=None, *, overwrite: bool = False, **config) -> Path:
    """Train an emulator on simulated fields; write the model folder ``out``.

    ``data_or_config``: a :class:`Dataset` from :func:`simulate`, a field file (``.npz``/``.h5``/
    ``.fits``), or None/a dict of settings (``n``, ``kind``, ``seed``: fields simulated first).
    Keywords go to :func:`~.emulation.train_emulator_file` (``method``, ``epochs``...).
    """
    out = check_out_dir(out, overwrite=overwrite)
    if isinstance(data_or_config, (str, Path)):
        train_emulator_file(data_or_config, out, **config)
        return out
    if not isinstance(data_or_config, Dataset):
        settings = train_settings(data_or_config, {}, "fields")
        data_or_config = simulate(settings.pop("n", 2000), seed=settings.pop("seed", 0),
                                  kind=settings.pop("kind", "gaussian"), **settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fields.npz"
        data_or_config.write(path)
        train_emulator_file(path, out, **config)
    return out


def load(model) -> "FieldsCase":
    """The emulator of a model folder (nothing is shipped: train one first)."""
    return FieldsCase(model)


class FieldsCase(CasePipeline):
    """A conditional field emulator: Fourier flow or flow matching."""

    case = "fields"

    def __init__(self, model=None):
        if model is None:
            raise InputError("model: no field emulator is shipped; train one with fields.train(...) or "
                             "'sim2sky fields train'")
        self.model = model
        self.emulator_ = load_emulator(model)

    @property
    def theta_names(self) -> list[str]:
        return list(self.emulator_.theta_names or [f"theta_{i}" for i in range(self.emulator_.network_.theta_dim)])

    def predict(self, data, *, seed: int = 0) -> QTable:
        """One emulated field per row of ``data`` (a table with the parameter columns, or a
        :class:`Dataset` whose truth holds them): the parameters plus ``field`` (n, *grid)."""
        table = data.truth if isinstance(data, Dataset) else as_table(data, "data")
        missing = [p for p in self.theta_names if p not in table.colnames]
        if missing:
            raise InputError(f"data: parameter columns {missing} missing (have {table.colnames})")
        theta = np.stack([np.asarray(getattr(table[p], "value", table[p]), np.float32) for p in self.theta_names], 1)
        low = np.array(self.emulator_.meta_.get("theta_low", -np.inf))
        high = np.array(self.emulator_.meta_.get("theta_high", np.inf))
        outside = ((theta < low) | (theta > high)).any(1)
        if outside.any():
            raise InputError(f"data: {int(outside.sum())} parameter rows lie outside the training range "
                             f"{np.ravel(low).tolist()} .. {np.ravel(high).tolist()}; an emulator does not extrapolate")
        fields = self.emulator_.sample(theta, seed=seed)
        unit = u.Unit(self.emulator_.meta_.get("unit") or "")
        kind = self.emulator_.meta_.get("kind", "gaussian")
        cols = {p: theta[:, j] for j, p in enumerate(self.theta_names)}
        cols["field"] = fields * unit
        return qtable(cols, _theta_units(kind) if kind in KINDS else {})

    def check(self, data=None, *, n: int = 64, seed: int = 1) -> dict:
        """Summary statistics of emulated vs simulated fields at the same parameters
        (:func:`~.stats.compare_fields`); ``n`` fresh simulations of the training kind when None."""
        if data is None:
            meta = self.emulator_.meta_
            data = simulate(n, seed=seed, kind=meta.get("kind", "gaussian"), size=self.emulator_.shape_[-1],
                            dim=len(self.emulator_.shape_))
        x = read_fields(data)["x"] if isinstance(data, (str, Path)) else np.asarray(data["fields"].value, np.float32)
        fake = self.predict(data if not isinstance(data, (str, Path)) else _truth_of(data), seed=seed)["field"].value
        report = compare_fields(x, fake, x.ndim - 1)
        report["n_fields"] = int(len(x))
        return report


def _truth_of(path) -> QTable:
    r = read_fields(path)
    return QTable(dict(zip(r["theta_names"], np.asarray(r["theta"]).T)))
