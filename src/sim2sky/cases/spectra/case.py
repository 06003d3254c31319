"""The survey-spectra case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives survey-like spectra of every class as a table with one spectrum per row;
``train`` is :func:`~.training.train_spectra`; ``load(model).predict(data)`` classifies spectra
(files, tables, ``(wave, flux)`` Quantities or ``specutils.Spectrum``) with redshift posteriors;
``check`` scores a labelled set.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...core.atomic import check_out_dir
from ...core.contract import CasePipeline, qtable, train_settings
from ...core.errors import InputError
from ...learn.metrics import classification_check
from .calibration import calibrate_redshift, calibrate_stars
from .forward import simulate_spectra
from .io import spectrum_set
from .pipeline import SpectraPipeline, classify_set, star_columns
from .schema import CLASSES, STAR_KEYS
from .training import train_spectra

__all__ = ["simulate", "train", "load", "SpectraCase"]


def simulate(n: int, *, seed: int = 0) -> QTable:
    """``n`` survey-like spectra, one per row: the 13 classes drawn in equal numbers and shuffled
    (``ceil(n / 13)`` each), the first ``n`` kept.

    Returns
    -------
    QTable
        ``wave`` (n, 1024) [Angstrom, vacuum], ``flux`` (n, 1024) [relative, unit median],
        ``ivar`` (n, 1024) [1/flux^2; 0 = masked], truth ``TRUE_CLASS``, ``TRUE_Z``, ``TRUE_SNR``
        and ``TRUE_EBV`` [mag].
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    d = simulate_spectra(-(-n // len(CLASSES)), seed=seed)
    keep = np.arange(n)
    wave = np.broadcast_to(d["wave"], (n, len(d["wave"])))
    return qtable({"wave": wave, "flux": d["flux"][keep], "ivar": d["ivar"][keep],
                   "TRUE_CLASS": np.asarray(d["class"])[keep].astype(str), "TRUE_Z": d["z"][keep],
                   "TRUE_SNR": d["snr"][keep], "TRUE_EBV": d["ebv"][keep]},
                  {"wave": u.AA, "TRUE_EBV": u.mag})


def train(data_or_config=None, out=None, *, overwrite: bool = False, **config) -> Path:
    """Train the classifier, redshift and stellar-parameter models on theory; write ``out``.

    ``data_or_config``: None or a dict of :func:`~.training.train_spectra` settings
    (``n_per_class``, ``n_stars``, ``epochs``, ``seed``, ``normalise``), also accepted as keywords.
    """
    settings = train_settings(data_or_config, config, "spectra", train_spectra)
    out = check_out_dir(out, overwrite=overwrite)
    train_spectra(out, log=lambda *a: None, **settings)
    return out


def load(model=None) -> "SpectraCase":
    """The spectra pipeline of a model folder (the shipped one when None)."""
    return SpectraCase(model)


class SpectraCase(CasePipeline):
    """Classes with "unknown", redshift posteriors and (``stars``) stellar parameters of 1-D spectra."""

    case = "spectra"

    def __init__(self, model=None):
        self.model = model
        self.pipeline_ = SpectraPipeline(model)

    def predict(self, data, *, redshift: float | None = None, seed: int = 0) -> QTable:
        """Classify every spectrum of ``data`` (see :func:`~.io.spectrum_set` for what is accepted).

        Columns: pass-through columns, ``source``, ``row``, ``p_<CLASS>``, ``class``, ``z_mean``,
        ``z_median``, ``z_std``, ``z_q16``, ``z_q84`` (68%), ``z_q025``, ``z_q975`` (95%), ``snr``, ``coverage``, ``flag``, ``ood_distance``.
        """
        if redshift is not None and not (-0.01 <= redshift <= 7.0):
            raise InputError(f"redshift: {redshift} is outside -0.01..7")
        cols = classify_set(self.pipeline_, spectrum_set(data), redshift=redshift, seed=seed)
        return qtable(cols)

    def stars(self, data, *, seed: int = 0, calibrated: bool = True) -> QTable:
        """Stellar parameters of every spectrum of ``data`` (:func:`~.pipeline.star_columns`):
        T_eff [K], log g and [Fe/H] [dex] posterior means, standard deviations, 68% and 95%
        intervals; calibrated, with a ``trust`` score and the ``unlike_training`` flag, when the
        model folder was calibrated on real stars (``calibrate``; ``calibrated=False`` gives the
        network's own posterior)."""
        cols = star_columns(self.pipeline_, spectrum_set(data), seed, calibrated)
        units = {k: (u.K if k.startswith("TEFF_") else u.dex) for k in cols
                 if k.split("_")[0] in STAR_KEYS and k.split("_", 1)[-1] in ("mean", "std", "q16", "q84", "q025", "q975")}
        return qtable(cols, units)

    def calibrate(self, data, out, *, target: str = "stars", method: str = "scale", reference: int = 4000,
                  seed: int = 0, overwrite: bool = False) -> dict:
        """Calibrate a posterior on labelled spectra and write the new model folder ``out``.

        ``target="stars"``: the stellar-parameter posterior on real stars with catalogue ``TEFF``,
        ``LOGG``, ``FEH`` (:func:`~.calibration.calibrate_stars`): per-parameter shift and conformal
        width (``method="scale"``) or CQR (``"cqr"``) at 68% and 95%, plus the ``unlike_training``
        trust score. ``target="redshift"``: the redshift posterior on spectra with ``TRUE_Z`` or
        ``z`` (:func:`~.calibration.calibrate_redshift`), per S/N group. A folder keeps the other
        target's calibration. Returns the calibration record."""
        if target == "stars":
            return calibrate_stars(data, out, self.model, method=method, reference=reference, seed=seed,
                                   overwrite=overwrite)
        if target == "redshift":
            return calibrate_redshift(data, out, self.model, method=method, seed=seed, overwrite=overwrite)
        raise InputError(f"target: expected stars or redshift, got {target!r}")

    def check(self, data=None, *, n: int = 1300, seed: int = 1, truth: str = "TRUE_CLASS") -> dict:
        """Accuracy, macro-F1, recall, ECE, unknown rate, confusion and redshift error
        (``z_abs_error``: median |Δz|/(1+z) where ``TRUE_Z`` is given) on labelled spectra; fresh theory when None."""
        spectra = spectrum_set(simulate(n, seed=seed) if data is None else data)
        pred = self.predict(spectra, seed=seed)
        table = spectra.meta
        if truth not in table:
            raise InputError(f"data: no truth column {truth!r}")
        classes = self.pipeline_.classifier.classes
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)
        result = classification_check(table[truth], pred["class"], proba, classes)
        if "TRUE_Z" in table and "z_median" in pred.colnames:
            z = np.asarray(table["TRUE_Z"], float)
            result["z_abs_error"] = float(np.median(np.abs(np.asarray(pred["z_median"]) - z) / (1 + z)))
        return result
