"""The case contract: the same four gestures for every science case.

Every package under :mod:`sim2sky.cases` exposes

* ``simulate(n, *, seed=0, **config)`` -> an astropy :class:`~astropy.table.QTable` with units, or
  for images, cubes and fields a :class:`Dataset` (arrays with units, a truth ``QTable``, a WCS)
  with ``.write(path)``;
* ``train(data_or_config=None, out, **config)`` -> writes a sealed model folder at ``out`` and
  returns its path;
* ``load(model=None)`` -> a :class:`CasePipeline` (the shipped model when ``model`` is None)
  whose ``.predict(data)`` returns a ``QTable`` with a unit on every numeric column,
  ``.check(data=None)`` runs the case's own diagnostics and ``.calibrate(...)`` re-calibrates
  on real labels.

:func:`~sim2sky.core.tables.qtable` (re-exported here) is the one place output columns get their units.

``tests/test_contract.py`` checks every case against this; a new case is a new folder that
passes it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
from astropy.table import QTable, Table

from .errors import InputError, suggest
from .tables import qtable, read_table

__all__ = ["Dataset", "CasePipeline", "qtable", "as_table", "train_settings", "check_settings", "sky_positions"]

def as_table(data, what: str = "data") -> Table:
    """A :class:`~astropy.table.Table` from a Table/QTable, a dict of columns or a file path."""
    if isinstance(data, Table):
        return data
    if isinstance(data, dict):
        return Table(data)
    if isinstance(data, (str, Path)):
        return read_table(data)
    raise InputError(f"{what}: expected an astropy Table/QTable, a dict of columns or a table file, "
                     f"got {type(data).__name__}")


def sky_positions(wcs, x, y) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec [deg] of 0-based pixel positions through the celestial part of ``wcs``
    (NaN where there is no WCS or no celestial axes): the one place catalogues get them."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if wcs is None or not wcs.has_celestial or not len(x):
        return np.full(len(x), np.nan), np.full(len(x), np.nan)
    ra, dec = wcs.celestial.wcs_pix2world(x, y, 0)
    return np.asarray(ra, float), np.asarray(dec, float)


def train_settings(data_or_config, config: dict, case: str, allowed=None) -> dict:
    """``train``'s settings from a dict and keywords, for cases that simulate their own training set
    (data is refused with one line). Names not in ``allowed`` (when given) are refused too."""
    if data_or_config is None:
        settings = dict(config)
    elif isinstance(data_or_config, dict):
        settings = {**data_or_config, **config}
    else:
        raise InputError(f"{case}: train simulates its own training set; pass None or a dict of settings, "
                         f"got {type(data_or_config).__name__}")
    check_settings(settings, allowed, f"{case} train")
    return settings


#: parameters that are never settings: the contract's own arguments and the CLI's plumbing
_NOT_SETTINGS = ("n", "out", "log", "progress", "data_or_config", "overwrite")


def check_settings(settings: dict, allowed, what: str, exclude=()) -> None:
    """Refuse setting names not in ``allowed`` (a callable's keyword parameters, or names) with one line."""
    if allowed is None:
        return
    if callable(allowed):
        params = inspect.signature(allowed).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return                              # passed on: the callee checks them
        allowed = [p.name for p in params
                   if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in (*_NOT_SETTINGS, *exclude)]
    for key in settings:
        if key not in allowed:
            raise InputError(f"{what}: unknown setting {key!r}{suggest(key, allowed)}; "
                             f"settings: {', '.join(allowed) or 'none'}")


class Dataset:
    """Simulated images, cubes or fields: arrays with units, a truth table, a WCS.

    Parameters
    ----------
    arrays : dict of str -> Quantity or ndarray
        The data (``image``, ``cube``, ``mask``, ``fields``...), in the case's units.
    truth : QTable
        One row per simulated object or field, every numeric column with a unit.
    wcs : astropy.wcs.WCS, optional
        The world coordinates of the arrays (images and cubes).
    meta : dict, optional
        Anything else the case's reader needs (a FITS header, parameter names...).
    writer : callable, optional
        ``writer(dataset, path) -> dict`` writing the case's file format, which the case's
        ``predict`` and CLI read back.
    """

    def __init__(self, arrays: dict, truth: QTable, wcs=None, meta: dict | None = None, writer=None):
        self.arrays = dict(arrays)
        self.truth = truth
        self.wcs = wcs
        self.meta = dict(meta or {})
        self._writer = writer

    def __getitem__(self, name):
        return self.arrays[name]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(np.shape(v))}" for k, v in self.arrays.items())
        return f"<Dataset {shapes}; truth {len(self.truth)} rows>"

    def write(self, path) -> dict:
        """Write the dataset in its case's file format (atomically); returns what was written."""
        if self._writer is None:
            raise InputError("this dataset has no file format")
        return self._writer(self, Path(path))


class CasePipeline:
    """What ``load(model)`` returns for every case: ``predict``, ``check``, ``calibrate``.

    Subclasses set :attr:`case`, load their networks in ``__init__(model=None)`` and implement
    :meth:`predict` and :meth:`check`.
    """

    case = ""

    def predict(self, data, **options) -> QTable:
        """One row per object of ``data``, a unit on every numeric column."""
        raise NotImplementedError

    def check(self, data=None, **options) -> dict:
        """The case's own diagnostics on labelled ``data`` (simulated held-out data when None)."""
        raise NotImplementedError

    def calibrate(self, data, out, **options):
        """Re-calibrate on labelled real data and write a new model folder at ``out``."""
        raise InputError(f"{self.case}: calibration on real labels is not available for this case yet")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} case={self.case!r}>"
