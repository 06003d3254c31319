"""The radio-galaxy case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` draws cutouts of FRI, FRII, bent-tailed and compact sources (and, on request,
hybrids) from :mod:`.theory` through :mod:`.observe`; ``train`` trains the image classifier on
them and, where the MiraBest images are available, fine-tunes it on the MiraBest training split
and calibrates it on the calibration split (recorded in the folder); ``load(model).predict``
classifies FITS cutouts, stacks, ``.npz`` files or arrays into FRI, FRII, Bent, Compact or
unknown, one row per image in input order.
"""

from __future__ import annotations

import copy
import hashlib
from importlib import resources
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from ...core.atomic import atomic_file, check_out_dir, save_npz
from ...core.contract import CasePipeline, Dataset, qtable, train_settings
from ...core.data import available
from ...core.errors import InputError
from ...core.tables import read_table, write_table
from ...learn import CalibratedClassifier, UNKNOWN, classification_check, parse_class_priors
from ...nn.encoders import D4Invariant
from .io import iter_chunks, read_cutouts
from .mirabest import load_mirabest, select_rows, split_indices
from .observe import simulate_cutouts
from .preprocess import to_grid
from .schema import CLASS_PRIOR_PRESETS, CLASSES, SIM_CLASSES, SURVEYS
from .training import labelled_grid, orbit_pooled, radio_classifier, radio_network, training_set

__all__ = ["simulate", "train", "load", "RadioCase", "FLAGS"]

#: ``flag`` values: the classification stands (``ok``); nothing above 3 sigma after smoothing to
#: the working beam (``empty``); a beam coarser than 20" (``coarse_beam``: morphology barely resolved);
#: the image lies far from the training images (``unlike_training``, the class is then ``unknown``).
FLAGS = ("ok", "empty", "coarse_beam", "unlike_training")


def simulate(n: int, *, seed: int = 0, survey: str = "FIRST", hybrid_fraction: float = 0.0,
             neighbours: float = 1 / 3) -> Dataset:
    """``n`` simulated cutouts at a survey's pixels, beam and rms, with their truth.

    Parameters
    ----------
    survey : FIRST, NVSS, VLASS or LOTSS
    hybrid_fraction : float
        Share of hybrids (not a class of the classifier: they test its "unknown").
    neighbours : float
        Share of cutouts with confusing compact neighbours.

    Returns
    -------
    Dataset
        ``images`` (n, ny, nx) [Jy/beam]; ``truth`` QTable: ``class``, ``ra``/``dec`` [deg], ``las``
        [arcsec], ``pa`` [deg], ``peak_snr``, ``cos_i`` and the class parameters (NaN where a class
        has none); ``meta``: ``pixel_arcsec``, ``beam_arcsec``, ``survey``. ``.write(path)`` writes a
        stacked FITS image (or ``.npz``) and ``<stem>_truth.csv``.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    key = str(survey).upper()
    if key not in SURVEYS:
        raise InputError(f"survey: expected one of {', '.join(SURVEYS)}, got {survey!r}")
    if not 0 <= hybrid_fraction < 1 or not 0 <= neighbours <= 1:
        raise InputError(f"hybrid_fraction must lie in [0, 1) and neighbours in [0, 1], got {hybrid_fraction}, "
                         f"{neighbours}")
    s = SURVEYS[key]
    weights = np.r_[np.full(4, (1 - hybrid_fraction) / 4), hybrid_fraction]
    images, labels, params = simulate_cutouts(n, seed, s, SIM_CLASSES, neighbours, weights)
    rng = np.random.default_rng(seed + 7)
    cols = {"class": labels, "ra": rng.uniform(120, 240, n), "dec": np.degrees(np.arcsin(rng.uniform(0, 0.9, n)))}
    cols.update({k: v for k, v in params.items()})
    units = {"ra": "deg", "dec": "deg", "las": "arcsec", "pa": "deg", "offset": "arcsec", "size": "arcsec"}
    truth = qtable(cols, units)
    meta = {"pixel_arcsec": s.pixel_arcsec, "beam_arcsec": s.beam_arcsec, "survey": key}
    return Dataset({"images": images * u.Jy / u.beam}, truth, None, meta, writer=_write)


def _write(ds: Dataset, path: Path) -> dict:
    images = np.asarray(ds["images"].value, np.float32)
    if path.suffix.lower() == ".npz":
        save_npz(path, images=images, ra=np.asarray(ds.truth["ra"].value), dec=np.asarray(ds.truth["dec"].value))
    elif path.suffix.lower() == ".fits":
        header = fits.Header()
        header["BUNIT"] = "JY/BEAM"
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        header["CDELT1"], header["CDELT2"] = -ds.meta["pixel_arcsec"] / 3600, ds.meta["pixel_arcsec"] / 3600
        header["BMAJ"] = header["BMIN"] = ds.meta["beam_arcsec"] / 3600
        header["SURVEY"] = ds.meta["survey"]
        header["COMMENT"] = "sim2sky radio simulate: a stack of cutouts (n, ny, nx); positions in the POSITIONS HDU"
        positions = fits.BinTableHDU.from_columns([fits.Column("RA", "D", "deg", array=ds.truth["ra"].value),
                                                   fits.Column("DEC", "D", "deg", array=ds.truth["dec"].value)],
                                                  name="POSITIONS")
        with atomic_file(path) as tmp:
            fits.HDUList([fits.PrimaryHDU(images, header=header), positions]).writeto(tmp)
    else:
        raise InputError(f"out: {path.name} must end in .fits (a stacked image) or .npz")
    truth_out = path.with_name(path.stem + "_truth.csv")
    write_table(ds.truth, truth_out)
    return {"image": str(path), "truth": str(truth_out), "n": len(ds.truth)}


def train(data_or_config=None, out=None, *, overwrite: bool = False, n_sims: int = 16000, epochs: int = 20,
          n_calibration: int = 3000, real: str = "mirabest", finetune_epochs: int = 40, invariant: bool = False,
          views: str = "c2", seed: int = 1, progress: bool = False) -> Path:
    """Train the classifier on ``n_sims`` simulated cutouts; with ``real="mirabest"`` (and the dataset
    available) fine-tune it on the MiraBest training split plus simulations and calibrate the
    temperature and "unknown" threshold on the MiraBest calibration split; ``real="none"`` keeps it
    theory only (calibrated on ``n_calibration`` simulations). The MiraBest test split is never used.
    ``views``: the trained network then averages over each cutout turned by 0 and 180 deg
    (``"c2"``, 2 passes; :func:`~.training.orbit_pooled`, recalibrated), its four rotations
    (``"c4"``), rotations and reflections (``"d4"``, 8 passes) or not at all (``"none"``)."""
    s = train_settings(data_or_config, {}, "radio", ("n_sims", "epochs", "n_calibration", "real", "finetune_epochs",
                                                     "invariant", "views", "seed"))
    n_sims, epochs = int(s.get("n_sims", n_sims)), int(s.get("epochs", epochs))
    n_calibration, real = int(s.get("n_calibration", n_calibration)), s.get("real", real)
    finetune_epochs, invariant = int(s.get("finetune_epochs", finetune_epochs)), bool(s.get("invariant", invariant))
    seed, views = int(s.get("seed", seed)), str(s.get("views", views))
    if views != "none" and views not in D4Invariant.GROUPS:
        raise InputError(f"views: expected none or one of {', '.join(D4Invariant.GROUPS)}, got {views!r}")
    if views != "none" and invariant:
        raise InputError("views: the invariant network already averages over its views; use views=none with it")
    if real not in ("mirabest", "none"):
        raise InputError(f"real: expected 'mirabest' or 'none', got {real!r}")
    if min(n_sims, n_calibration) < 40 or epochs < 1:
        raise InputError(f"n_sims and n_calibration must be >= 40 and epochs >= 1, got {n_sims}, {n_calibration}, {epochs}")
    out = check_out_dir(out, overwrite=overwrite)
    x, y, _ = training_set(n_sims, seed)
    xc, yc, _ = training_set(n_calibration, seed + 1000)
    index = {c: i for i, c in enumerate(CLASSES)}
    yi, yci = np.array([index[c] for c in y]), np.array([index[c] for c in yc])
    clf = radio_classifier(radio_network(invariant, seed), epochs=epochs, seed=seed, progress=progress)
    clf.fit(x, yi, xc, yci)
    cal_sets = (xc, yci)
    prov = {"command": "sim2sky radio train", "n_sims": n_sims, "epochs": epochs, "seed": seed, "invariant": invariant,
            "theory": "sim2sky.cases.radio.theory (FRI, FRII, Bent, Compact); 85% FIRST, 15% beams 5.4-45 arcsec",
            "real_data": "none"}
    if real == "mirabest" and available("mirabest"):
        data = load_mirabest()
        rows = split_indices(data["code"])
        tr, cal = select_rows(data, rows["train"]), select_rows(data, rows["calibration"])
        (xr, yr), (xrc, yrc) = labelled_grid(tr), labelled_grid(cal)
        # fine-tune on the real training split, repeated 4x, beside a third of the simulations
        # (so that Compact, absent from MiraBest, is not forgotten)
        m = len(x) // 3
        xf = np.concatenate([x[:m], np.repeat(xr, 4, 0)])
        yf = np.concatenate([yi[:m], np.repeat(yr, 4)])
        fine = radio_classifier(clf.network_, epochs=finetune_epochs, learning_rate=1e-3, seed=seed, progress=progress)
        cal_sets = (xrc, yrc, np.concatenate([xrc, xc]), np.concatenate([yrc, yci]))
        fine.fit(xf, yf, *cal_sets)
        clf = fine
        prov.update(real_data="MiraBest (Porter & Scaife 2023): fine-tuned on the train split, temperature and "
                              "'unknown' threshold on the calibration split (+ simulations for the threshold)",
                    mirabest_split_seed=33, mirabest_train=len(yr), mirabest_calibration=len(yrc),
                    mirabest_test_rows_sha256=hashlib.sha256(rows["test"].tobytes()).hexdigest(),
                    finetune_epochs=finetune_epochs)
    history = [float(v) for v in clf.history_["loss"]]
    if views != "none":
        clf = orbit_pooled(clf, views, *cal_sets)
    prov["views"] = views
    clf.save(out, provenance=prov, metrics={"history_loss": history})
    return out


def load(model=None) -> "RadioCase":
    """The radio classifier of a model folder (the shipped one when None)."""
    return RadioCase(model)


class RadioCase(CasePipeline):
    """Morphology of radio sources in cutouts: FRI, FRII, Bent, Compact or unknown."""

    case = "radio"

    def __init__(self, model=None):
        self.model = Path(model) if model is not None else Path(str(resources.files("sim2sky.cases.radio") / "models"
                                                                    / "classifier"))
        self.classifier_ = CalibratedClassifier.load(self.model)

    def predict(self, data, *, pixel_scale: float | None = None, beam: float | None = None,
                class_priors=None, chunk: int = 2048) -> QTable:
        """One row per image, in input order: ``source``, ``class``, ``p_<class>``, ``flag``,
        ``ood_distance``, ``peak_snr`` (after smoothing to the working beam), ``ra``/``dec`` [deg]
        (the cutout centre, NaN without a WCS), ``pixel_scale`` and ``beam`` [arcsec] as read.

        ``data``: FITS path(s) (2-D cutouts with a celestial WCS, or a stack (n, ny, nx) with
        CDELT and BMAJ in degrees), an ``.npz`` with ``images``, or an array / Quantity / NDData /
        ``(array, WCS)``; ``pixel_scale`` and ``beam`` [arcsec] override or supply what headers lack.
        ``class_priors``: the class fractions of the sample (``"FRI=0.4,FRII=0.5,Bent=0.1,Compact=0"``,
        a preset of :data:`~.schema.CLASS_PRIOR_PRESETS` such as ``"mirabest"``, or numbers in
        :data:`CLASSES` order): probabilities re-weighted by prior / training fraction; the
        "unknown" test is unaffected.
        """
        priors = parse_class_priors(class_priors, CLASSES, CLASS_PRIOR_PRESETS)
        if isinstance(data, Dataset):
            pixel_scale = pixel_scale or data.meta["pixel_arcsec"]
            beam = beam or data.meta["beam_arcsec"]
            data = data["images"]
        if chunk < 1:
            raise InputError(f"chunk must be >= 1, got {chunk}")
        groups = read_cutouts(data, pixel_scale, beam)
        n = sum(len(g.images) for g in groups)
        ra, dec = np.concatenate([g.ra for g in groups]), np.concatenate([g.dec for g in groups])
        source = np.concatenate([g.source for g in groups])
        k = len(CLASSES)
        proba, dist = np.zeros((n, k), np.float32), np.zeros(n)
        snr, pix, bm = np.zeros(n), np.zeros(n), np.zeros(n)
        label = np.empty(n, object)
        finite_any = False
        for images, pixel, b, rows in iter_chunks(groups, chunk):
            finite = np.isfinite(images).any((1, 2))
            finite_any |= bool(finite.any())
            x, s = to_grid(images, pixel, b)
            res = self.classifier_.predict_all(x, class_priors=priors)
            proba[rows], dist[rows], label[rows], snr[rows] = res["proba"], res["distance"], res["label"], s
            pix[rows], bm[rows] = float(np.mean(pixel)), b
            empty = (x.reshape(len(x), -1).max(1) <= 0) | ~finite
            label[rows[empty]] = UNKNOWN
            proba[rows[empty]] = np.nan
        if n and not finite_any:
            raise InputError("INPUT: every pixel of every image is NaN")
        flag = np.where(np.isnan(proba).any(1), "empty", np.where(dist > self.classifier_.threshold_, "unlike_training",
                                                                  np.where(bm > 20, "coarse_beam", "ok")))
        cols = {"source": source, "class": label.astype(str)}
        cols.update({f"p_{c}": proba[:, j] for j, c in enumerate(CLASSES)})
        cols.update({"flag": flag, "ood_distance": dist, "peak_snr": snr, "ra": ra, "dec": dec, "pixel_scale": pix,
                     "beam": bm})
        return qtable(cols, {"ra": "deg", "dec": "deg", "pixel_scale": "arcsec", "beam": "arcsec"})

    def check(self, data=None, *, n: int = 400, seed: int = 1) -> dict:
        """Accuracy, ECE and confusion of the classifier on labelled cutouts: fresh FIRST simulations
        (``data`` None), a simulated :class:`Dataset`, or ``"mirabest-test"`` (the real test split)."""
        if data is None:
            data = simulate(n, seed=seed)
        if isinstance(data, str) and data == "mirabest-test":
            te = load_mirabest("test")
            keep = te["label"] != "Hybrid"
            pred = self.predict(te["images"][keep], pixel_scale=1.8, beam=5.4)
            truth = te["label"][keep]
        elif isinstance(data, Dataset):
            pred, truth = self.predict(data), np.asarray(data.truth["class"]).astype(str)
        elif isinstance(data, (str, Path)):
            truth = _labels(Path(data), "class")
            pred = self.predict(data)
            if len(pred) != len(truth):
                raise InputError(f"DATA: {len(pred)} images but {len(truth)} truth rows")
        else:
            raise InputError("data: check needs a simulated Dataset with its truth, a FITS stack or .npz with "
                             "<stem>_truth.csv beside it, or 'mirabest-test'")
        proba = np.column_stack([pred[f"p_{c}"].value for c in CLASSES])
        report = classification_check(truth, np.asarray(pred["class"]), proba, CLASSES)
        report["n_classified"] = int(np.isfinite(proba).all(1).sum())
        return report

    def calibrate(self, data, out, *, overwrite: bool = False, truth: str = "class", pixel_scale=None, beam=None):
        """Refit the temperature and the "unknown" threshold on labelled real cutouts: a stacked
        FITS (or ``.npz``) with ``<stem>_truth.csv`` beside it holding ``truth`` per image; writes a
        new sealed folder at ``out`` recording the calibration set."""
        path = Path(data) if isinstance(data, (str, Path)) else None
        if path is None:
            raise InputError("data: calibrate needs a FITS stack or .npz with <stem>_truth.csv beside it")
        labels = _labels(path, truth)
        group, = read_cutouts(path, pixel_scale, beam)
        images = np.asarray(group.images[:], np.float32)
        if len(images) != len(labels):
            raise InputError(f"DATA: {len(images)} images but {len(labels)} rows in {path.stem}_truth.csv")
        keep = np.isin(labels, CLASSES)
        if keep.sum() < 30:
            raise InputError(f"DATA: {int(keep.sum())} images labelled {', '.join(CLASSES)}; at least 30 are needed")
        x = to_grid(images[keep], group.pixel, group.beam)[0]
        y = np.array([CLASSES.index(c) for c in labels[keep]])
        out = check_out_dir(out, overwrite=overwrite)
        clf = copy.deepcopy(self.classifier_)
        before = float(clf.temperature_)
        clf.calibrate(x, y)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        record = {"dataset": {"n": int(keep.sum()), "sha256": sha, "source": str(path)},
                  "temperature_before": before, "temperature_after": float(clf.temperature_)}
        prov = {**getattr(clf, "provenance_", {}), "calibration": record}
        clf.save(out, provenance=prov, metrics=getattr(clf, "metrics_", {}))
        return record


def _labels(path: Path, truth: str) -> np.ndarray:
    """The per-image classes of a labelled stack, from ``<stem>_truth.csv`` beside it."""
    labels_path = path.with_name(path.stem + "_truth.csv")
    if not path.is_file():
        raise InputError(f"DATA: {path} does not exist")
    if not labels_path.is_file():
        raise InputError(f"DATA: no {labels_path.name} beside {path.name} (one row per image, column {truth!r})")
    table = read_table(labels_path)
    if truth not in table.colnames:
        raise InputError(f"truth: {labels_path.name} has no column {truth!r}; columns: {', '.join(table.colnames)}")
    return np.asarray(table[truth]).astype(str)
