"""The nebula case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives measured line tables of theory nebulae; ``train`` is :func:`~.fit.train_nebulae`;
``load(model).predict(table)`` classifies line tables (Table/QTable, dict of columns or a file)
with :func:`~.pipeline.predict_table`; ``check`` scores a labelled table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir
from ...core.calibration import data_digest, write_calibrated
from ...core.contract import CasePipeline, as_table, qtable, train_settings
from ...core.errors import InputError
from ...learn.metrics import classification_check
from .calibration import calibrate_line_rows, line_pattern
from .fit import train_nebulae
from .linetable import read_line_table
from .pipeline import NebulaPipeline, predict_table
from .schema import CLASSES
from .training import line_table

__all__ = ["simulate", "train", "load", "NebulaeCase"]


def simulate(n: int, *, seed: int = 0, domain: str = "theory", sn_halpha=None) -> QTable:
    """``n`` simulated nebulae (classes cycled) as a measured line table with units.

    Parameters
    ----------
    n : int
        Rows; the classes HII, PN, SNR, DIG and AGN in equal numbers (the first ``n % 5`` one more).
    seed : int
    domain : str
        ``theory`` (the training theories), ``source`` or ``shifted`` (see :data:`~.training.DOMAINS`).
    sn_halpha : (float, float), optional
        Range of the true S/N of Hα; the survey-like default otherwise.

    Returns
    -------
    QTable
        Line fluxes and errors [1e-17 erg s-1 cm-2 for F(Hα) = 100], ``SIGMA`` [km/s],
        ``EW_HA6563`` [Angstrom], truth ``TRUE_CLASS`` and ``TRUE_SN``.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    per_class = -(-n // len(CLASSES))
    t = line_table(per_class, sn_halpha=sn_halpha, domain=domain, seed=seed)
    # rows come class by class: interleave them so that the first n keep the classes balanced
    order = np.argsort(np.tile(np.arange(per_class), len(CLASSES)), kind="stable")[:n]
    t = t[order]
    t["ID"] = np.arange(n)
    return qtable({c: np.asarray(t[c]) for c in t.colnames}, {c: t[c].unit for c in t.colnames if t[c].unit})


def train(data_or_config=None, out=None, *, overwrite: bool = False, **config) -> Path:
    """Train the classifier and HII-parameter posterior on theory; write the model folder ``out``.

    ``data_or_config``: None or a dict of :func:`~.fit.train_nebulae` settings (``n_per_class``,
    ``n_hii_params``, ``epochs``, ``seed``, ``cross_theory``), also accepted as keywords.
    The case simulates its own training sets, so a data table is refused.
    """
    settings = train_settings(data_or_config, config, "nebulae", train_nebulae)
    out = check_out_dir(out, overwrite=overwrite)
    train_nebulae(out, log=lambda *a: None, **settings)
    return out


def load(model=None, class_priors=None) -> "NebulaeCase":
    """The nebula pipeline of a model folder (the shipped one when None)."""
    return NebulaeCase(model, class_priors=class_priors)


class NebulaeCase(CasePipeline):
    """Classifier with "unknown" and HII posterior over line tables."""

    case = "nebulae"

    def __init__(self, model=None, class_priors=None):
        self.model = model
        self.pipeline_ = NebulaPipeline(model, class_priors=class_priors)

    def predict(self, data, *, seed: int = 0, columns=None, preset=None, allow_negative: bool = False,
                calibrated: bool = True) -> QTable:
        """Classify every row of a line table (see :func:`~.linetable.read_line_table` for its columns).
        With a calibrated model folder (the shipped one is, for 5-line tables), rows with the
        calibration's lines get calibrated probabilities and ``class_set`` (``calibrated=False``: raw)."""
        table = data if isinstance(data, (str, Path)) else as_table(data, "data")
        lt = read_line_table(table, columns=columns, preset=preset, allow_negative=allow_negative)
        return predict_table(self.pipeline_, lt, seed=seed, calibrated=calibrated)[0]

    def calibrate(self, data, out, *, kind: str = "temperature", alpha: float = 0.1, method: str = "aps",
                  truth: str = "TRUE_CLASS", columns=None, preset=None, overwrite: bool = False) -> dict:
        """Calibrate the class probabilities for one kind of line table and write the model folder ``out``.

        ``data``: a labelled line table (``truth`` column), e.g. :func:`five_line_table` of the
        theory families, or real regions with known classes. The rows sharing the most common set
        of measured lines are used, and the calibration applies to rows with exactly those lines
        (:mod:`~.calibration`). ``kind`` temperature or vector scaling, conformal sets (``method``
        aps, raps, lac) at miscoverage ``alpha``. Returns the record (``out/calibration.json``)."""
        table = data if isinstance(data, (str, Path)) else as_table(data, "data")
        lt = read_line_table(table, columns=columns, preset=preset)
        if truth not in lt.passthrough:
            raise InputError(f"labelled data: no truth column {truth!r}")
        raw = self.pipeline_.predict(lt.lines, lt.n, calibrated=False, class_priors=None)
        record = calibrate_line_rows(raw["proba"], lt.passthrough[truth], line_pattern(raw["features"]),
                                     self.pipeline_.classes, kind=kind, alpha=alpha, method=method)
        digest = data if isinstance(data, (str, Path)) else b"".join(
            np.ascontiguousarray(np.asarray(table[c])).tobytes() for c in table.colnames)
        record.update(case="nebulae", model="classifier", dataset=data_digest(digest, lt.n),
                      settings={"kind": kind, "alpha": alpha, "method": method, "truth": truth})
        write_calibrated(self.pipeline_.model_dir, out, record, overwrite=overwrite)
        return record

    def check(self, data=None, *, n: int = 2000, seed: int = 1, truth: str = "TRUE_CLASS") -> dict:
        """Accuracy, macro-F1, recall, ECE, unknown rate and confusion on a labelled line table
        (``truth`` column); on ``n`` fresh theory nebulae when ``data`` is None."""
        data = simulate(n, seed=seed) if data is None else as_table(data, "data")
        if truth not in data.colnames:
            raise InputError(f"data: no truth column {truth!r} (columns: {', '.join(data.colnames[:12])}...)")
        pred = self.predict(data, seed=seed)
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in self.pipeline_.classes], 1)
        return classification_check(data[truth], pred["class"], proba, self.pipeline_.classes)

