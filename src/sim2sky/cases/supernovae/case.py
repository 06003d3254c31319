"""The supernova case under the case contract (:mod:`sim2sky.core.contract`).

The theory here is the SNID/DASH template library (``sn-templates`` dataset): ``simulate``
redshifts templates of held-out supernovae onto an observed grid with a continuum slope and
noise; ``train`` fits the subtype and age classifiers on supernovae split by object;
``load(model).predict(data)`` types spectra (files, tables, Quantities, ``specutils.Spectrum``)
at given redshifts; ``check`` scores labelled spectra.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...core.atomic import atomic_dir, check_out_dir
from ...core.calibration import data_digest, read_calibration, write_calibrated
from ...core.contract import CasePipeline, qtable, train_settings
from ...core.errors import InputError
from ...core.modelio import seal_folder
from ...learn.calibrate import ClassCalibration, calibrate_classes
from ...learn.classifier import UNKNOWN
from ...learn.metrics import classification_check
from ..spectra import spectrum_set
from .api import sntype_columns
from .pipeline import BROAD_NAMES, DEFAULT_MODEL_DIR, SNTraining, broad_proba, load_sn_typer, split_by_supernova, train_sn_typer
from .schema import AGE_LABELS, BROAD_TYPE, age_bin, log_wave_grid
from .templates import read_sn_templates

__all__ = ["simulate", "train", "load", "SupernovaeCase", "OBSERVED_WAVE"]

#: The observed grid of simulated spectra [Angstrom]: a typical optical classification spectrum.
OBSERVED_WAVE = np.linspace(3600.0, 8500.0, 1226)
_Z_COLUMNS = ("z", "Z", "REDSHIFT", "redshift")


def simulate(n: int, *, seed: int = 0, split: str = "test", z_range=(0.01, 0.1), snr_range=(5.0, 50.0),
             data_dir=None) -> QTable:
    """``n`` observed-frame spectra made from SNID templates (needs the ``sn-templates`` dataset).

    A template epoch (of the supernovae in ``split``: ``test``, ``calibration``, ``train`` of
    :func:`~.pipeline.split_by_supernova` with seed 0, or ``all``) is put back on a power-law
    continuum ``(1 + 0.3 f) (λ/5000 Å)^α`` with α ~ U(-2.5, -0.5), redshifted by z ~ U(``z_range``),
    sampled on :data:`OBSERVED_WAVE` and given Gaussian noise at S/N ~ U(``snr_range``) per pixel.

    Returns
    -------
    QTable
        ``wave`` (n, 1226) [Angstrom], ``flux`` and ``ivar`` (n, 1226) [relative], ``z``,
        truth ``TRUE_SUBTYPE``, ``TRUE_BROAD``, ``TRUE_AGE`` [d], ``SN``.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    d = read_sn_templates(data_dir=data_dir)
    parts = dict(zip(("train", "calibration", "test"), split_by_supernova(d["sn"], seed=0)))
    if split not in (*parts, "all"):
        raise InputError(f"split: expected train, calibration, test or all, got {split!r}")
    pool = np.flatnonzero(parts[split]) if split != "all" else np.arange(len(d["sn"]))
    rng = np.random.default_rng(seed)
    pick = rng.choice(pool, n, replace=len(pool) < n)
    z = rng.uniform(*z_range, n)
    alpha = rng.uniform(-2.5, -0.5, n)
    snr = rng.uniform(*snr_range, n)
    rest = log_wave_grid()
    flux = np.empty((n, len(OBSERVED_WAVE)))
    for i, k in enumerate(pick):
        template = np.interp(OBSERVED_WAVE / (1 + z[i]), rest, d["flux"][k], left=0.0, right=0.0)
        flux[i] = (1 + 0.3 * template) * (OBSERVED_WAVE / 5000.0) ** alpha[i]
    sigma = np.median(np.abs(flux), axis=1, keepdims=True) / snr[:, None]
    flux += rng.standard_normal(flux.shape) * sigma
    return qtable({"wave": np.broadcast_to(OBSERVED_WAVE, flux.shape), "flux": flux.astype(np.float32),
                   "ivar": np.broadcast_to(1 / sigma**2, flux.shape).astype(np.float32), "z": z,
                   "TRUE_SUBTYPE": d["subtype"][pick].astype(str),
                   "TRUE_BROAD": np.array([BROAD_TYPE[s] for s in d["subtype"][pick]]),
                   "TRUE_AGE": d["age"][pick], "SN": d["sn"][pick].astype(str)},
                  {"wave": u.AA, "TRUE_AGE": u.day})


def train(data_or_config=None, out=None, *, overwrite: bool = False, data_dir=None, **config) -> Path:
    """Fit the subtype and age classifiers on the templates (60/20/20 split by supernova, the
    20% calibration part fits the temperatures); write ``out`` with ``type/`` and ``age/``.

    ``data_or_config``: None or a dict of :class:`~.pipeline.SNTraining` settings
    (``augment_copies``, ``epochs``, ``seed``), also accepted as keywords.
    """
    settings = SNTraining(**train_settings(data_or_config, config, "supernovae", ("augment_copies", "epochs", "seed")))
    out = check_out_dir(out, overwrite=overwrite)
    d = read_sn_templates(data_dir=data_dir)
    fit, cal, test = split_by_supernova(d["sn"], seed=settings.seed)
    typer, ager = train_sn_typer(d, fit, cal, settings)
    prov = {"seed": settings.seed, "epochs": settings.epochs, "augment_copies": settings.augment_copies,
            "command": "sim2sky supernovae train", "templates": int(len(d["sn"]))}
    with atomic_dir(out) as tmp:             # both classifiers or neither
        typer.save(tmp / "type", provenance=prov)
        ager.save(tmp / "age", provenance=prov)
        seal_folder(tmp)
    return out


def load(model=None) -> "SupernovaeCase":
    """The subtype and age classifiers of a model folder (the shipped ones when None)."""
    return SupernovaeCase(model)


class SupernovaeCase(CasePipeline):
    """Subtype (with "unknown"), broad type and age bin of supernova spectra."""

    case = "supernovae"

    def __init__(self, model=None):
        self.model = model
        self.models_ = load_sn_typer(model)
        self.model_dir = Path(model) if model is not None else DEFAULT_MODEL_DIR
        record, _ = read_calibration(self.model_dir)           # written by `sim2sky supernovae calibrate`
        self.calibration_ = ClassCalibration(record) if record is not None and record.get("model") == "type" else None

    def predict(self, data, *, z=None, calibrated: bool = True) -> QTable:
        """Type every spectrum of ``data`` (see :func:`sim2sky.cases.spectra.io.spectrum_set`).

        ``z``: one redshift or one per spectrum; without it a ``z`` column of the table is used.
        Columns: pass-through columns, ``subtype``, ``p_subtype``, ``broad_type``, ``p_broad``,
        ``age_bin``, ``p_age``, ``distance``, ``p_<SUBTYPE>``; with a calibrated model folder the
        probabilities are the calibrated ones and ``subtype_set`` (the conformal set, ``A|B``) and
        ``set_size`` are added (``calibrated=False`` gives the raw network output).
        """
        s = spectrum_set(data)
        if z is None:
            col = next((c for c in _Z_COLUMNS if c in s.meta), None)
            if col is None:
                raise InputError("z: the redshift is needed (pass z=..., or give the table a 'z' column)")
            z = np.asarray(s.meta[col], float)
        cols = {**s.meta, **sntype_columns(s.wave, s.flux, z, self.models_)}
        if self.calibration_ is not None and calibrated:
            self._apply_calibration(cols)
        return qtable(cols)

    def _apply_calibration(self, cols: dict) -> None:
        classes = self.calibration_.classes
        p, sets = self.calibration_.apply(np.stack([cols[f"p_{c}"] for c in classes], 1))
        for j, c in enumerate(classes):
            cols[f"p_{c}"] = p[:, j]
        unknown = np.asarray(cols["subtype"]) == UNKNOWN          # the out-of-distribution test still decides
        cols["subtype"] = np.where(unknown, UNKNOWN, np.asarray(classes)[p.argmax(1)])
        cols["p_subtype"] = p.max(1)
        pb = broad_proba(p, classes)
        cols["broad_type"], cols["p_broad"] = np.asarray(BROAD_NAMES)[pb.argmax(1)], pb.max(1)
        cols["subtype_set"], cols["set_size"] = self.calibration_.set_labels(sets), sets.sum(1)

    def calibrate(self, data, out, *, kind: str = "temperature", alpha: float = 0.1, method: str = "aps",
                  truth: str = "TRUE_SUBTYPE", overwrite: bool = False) -> dict:
        """Calibrate the subtype probabilities on labelled real spectra (``truth`` column; e.g.
        ``simulate(n, split="calibration")``, spectra of supernovae the typer was not trained on;
        with an ``SN`` column the cross-validation folds keep each supernova's spectra together):
        ``kind`` temperature or vector scaling (vector scaling over-fitted the 101 calibration
        supernovae: test accuracy 0.577 -> 0.532, conformal coverage 0.77 at nominal 0.90;
        benchmarks/trust_supernovae.py), then conformal sets (``method`` aps, raps or lac) at
        miscoverage ``alpha``. Writes the model folder ``out``; returns the record."""
        s = spectrum_set(data)
        if truth not in s.meta:
            raise InputError(f"labelled data: no truth column {truth!r}")
        pred = self.predict(s, calibrated=False)
        classes = list(self.models_[0].classes)
        t = np.asarray(s.meta[truth]).astype(str)
        keep = np.isin(t, classes)
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)[keep]
        groups = np.asarray(s.meta["SN"])[keep] if "SN" in s.meta else None     # folds by supernova
        record = calibrate_classes(proba, np.array([classes.index(v) for v in t[keep]]), classes, kind=kind,
                                   alpha=alpha, method=method, groups=groups)
        digest = data if isinstance(data, (str, Path)) else t.tobytes() + np.ascontiguousarray(s.flux).tobytes()
        record.update(case="supernovae", model="type", dataset=data_digest(digest, int(keep.sum())),
                      settings={"kind": kind, "alpha": alpha, "method": method, "truth": truth})
        write_calibrated(self.model_dir, out, record, overwrite=overwrite)
        return record

    def check(self, data=None, *, n: int = 500, seed: int = 1, truth: str = "TRUE_SUBTYPE") -> dict:
        """Subtype diagnostics (:func:`~sim2sky.learn.metrics.classification_check`) plus
        ``broad_accuracy`` and ``age_accuracy`` (when ``TRUE_AGE`` is given) on labelled spectra;
        on ``n`` spectra of held-out supernovae when ``data`` is None."""
        data = simulate(n, seed=seed) if data is None else data
        s = spectrum_set(data)
        if truth not in s.meta:
            raise InputError(f"data: no truth column {truth!r}")
        pred = self.predict(s)
        classes = self.models_[0].classes
        proba = np.stack([np.asarray(pred[f"p_{c}"]) for c in classes], 1)
        result = classification_check(s.meta[truth], pred["subtype"], proba, classes)
        true_broad = np.array([BROAD_TYPE.get(str(t), "") for t in s.meta[truth]])
        result["broad_accuracy"] = float(np.mean(np.asarray(pred["broad_type"]) == true_broad))
        if "TRUE_AGE" in s.meta:
            true_age = np.asarray(AGE_LABELS)[age_bin(np.asarray(s.meta["TRUE_AGE"], float))]
            result["age_accuracy"] = float(np.mean(np.asarray(pred["age_bin"]) == true_age))
        return result
