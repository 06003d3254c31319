"""Training the survey-spectra models from theory; their evaluation on held-out theory.

Three model folders (written by :func:`train_spectra`, shipped under ``models/``):

* ``classifier/`` — a calibrated classifier (temperature scaling, Mahalanobis "unknown") with a
  1-D ResNet backbone over the 13 classes of :mod:`.schema`, on the model grid (2 x 1024);
* ``redshift/`` — NPE of ln(1 + z) with the same ResNet architecture as embedding, trained
  jointly with a neural spline flow (multimodal posteriors for line confusions);
* ``stars/`` — NPE of (T_eff, log g, [Fe/H]) from ATLAS9 theory on the low-resolution grid,
  1-D CNN embedding.
"""

from __future__ import annotations

import json

import time
from pathlib import Path

import numpy as np
import torch
from astropy.io import fits

from ...core.atomic import atomic_dir, atomic_file
from ...core.modelio import seal_folder
from ...core.errors import InputError
from ...infer.estimator import NPEConfig
from ...infer.model_error import ResidualErrorModel
from ...infer.io import save_posterior
from ...infer.npe import NPE
from ...infer.priors import BoxUniform
from ...infer.train import TrainConfig
from ...learn.calibrate import expected_calibration_error
from ...learn.classifier import CalibratedClassifier, ClassifierConfig, ClassifierNet
from ...nn.encoders import CNN1d, ResNet1d
from .grid import INPUT_CHANNELS, to_inputs
from .schema import CLASSES, N_PIX, STAR_PARAMETERS, model_wave
from .evaluate import miles
from .forward import SurveyConditions, simulate_spectra
from .realstars import fit_star_model_error, miles_split
from .stars import STAR_PRIOR, StarObservation, simulate_stars, star_inputs, star_wave

__all__ = ["star_model_error", "classifier_network", "redshift_embedding", "stars_embedding", "train_classifier", "train_redshift",
           "train_stars", "train_spectra", "evaluate_classifier", "write_simulated", "Z_PRIOR"]

#: prior of the redshift model, in ln(1 + z)
Z_PRIOR = (-0.002, float(np.log(5.0)))


def classifier_network(seed: int = 0) -> ClassifierNet:
    """ResNet-1d (8-16-32-64 channels, stride-4 stem): 27k spectra/s on 2 cores, as accurate as a
    stride-2 stem (measured on held-out theory) at half the cost."""
    torch.manual_seed(seed)
    backbone = ResNet1d(N_PIX, 64, (8, 16, 32, 64), in_channels=INPUT_CHANNELS, stem_stride=4)
    return ClassifierNet(backbone, len(CLASSES), (INPUT_CHANNELS, N_PIX))


def redshift_embedding() -> ResNet1d:
    return ResNet1d(N_PIX, 64, (8, 16, 32, 64), in_channels=INPUT_CHANNELS, stem_stride=4)


def stars_embedding() -> CNN1d:
    return CNN1d(len(star_wave()), 32, (16, 32, 32), kernel=5, pooled=12, in_channels=2)


def evaluate_classifier(clf: CalibratedClassifier, x, y, snr=None, bins=(2, 5, 10, 20, 50, 100)) -> dict:
    """Accuracy, macro-F1, ECE, per-class recall and confusion; per S/N bin when ``snr`` is given."""
    from sklearn.metrics import confusion_matrix, f1_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)
    pred = clf.predict_all(x)
    yhat = pred["proba"].argmax(1)

    def block(m):
        cm = confusion_matrix(y[m], yhat[m], labels=range(len(clf.classes)))
        return {"n": int(m.sum()), "accuracy": float((yhat[m] == y[m]).mean()),
                "macro_f1": float(f1_score(y[m], yhat[m], labels=range(len(clf.classes)), average="macro")),
                "ece": expected_calibration_error(pred["proba"][m], y[m]),
                "recall": {c: float(r) for c, r in zip(clf.classes, cm.diagonal() / np.maximum(cm.sum(1), 1))},
                "unknown_rate": float((pred["label"][m] == "unknown").mean()), "confusion": cm.tolist()}

    out = block(np.ones(len(y), bool))
    if snr is not None:
        out["by_snr"] = {f"{lo}-{hi}": block((snr >= lo) & (snr < hi)) for lo, hi in zip(bins[:-1], bins[1:])
                         if ((snr >= lo) & (snr < hi)).sum() > 50}
    return out


def train_classifier(train: dict, cal: dict, ref: dict, epochs: int = 20, seed: int = 0,
                     progress: bool = False) -> CalibratedClassifier:
    x, xc, xr = (to_inputs(d["flux"], d["ivar"])[0] for d in (train, cal, ref))
    cfg = ClassifierConfig(epochs=epochs, batch_size=256, learning_rate=3e-3, seed=seed, num_threads=2)
    clf = CalibratedClassifier(classifier_network(seed), CLASSES, cfg, progress=progress)
    return clf.fit(x, train["y"], xc, cal["y"], xr, ref["y"])


def train_redshift(train: dict, seed: int = 0, max_epochs: int = 60, progress: bool = False) -> NPE:
    x = to_inputs(train["flux"], train["ivar"])[0]
    theta = np.log1p(train["z"])[:, None].astype(np.float32)
    npe = NPE(prior=BoxUniform([Z_PRIOR[0]], [Z_PRIOR[1]]),
              config=NPEConfig(flow="nsf", transforms=4, hidden_features=(64, 64), bins=10),
              train_config=TrainConfig(batch_size=256, learning_rate=1e-3, max_epochs=max_epochs, patience=8,
                                       seed=seed, num_threads=2),
              embedding=redshift_embedding(), progress=progress)
    return npe.fit(theta, x, theta_names=["ln(1+z)"], x_names=None)


def train_stars(n: int = 40000, seed: int = 0, normalise: str = "mean", max_epochs: int = 60,
                progress: bool = False, model_error=None, augment_noise: float = 0.0,
                x_target=None) -> tuple[NPE, dict]:
    """The stellar-parameter NPE on ``n`` ATLAS9 stars (optionally with ``model_error`` draws or
    ``augment_noise``, see :func:`~.stars.simulate_stars`; DANN towards unlabelled ``x_target``)."""
    sims = simulate_stars(n, seed=seed, obs=StarObservation(), model_error=model_error, augment_noise=augment_noise)
    x = star_inputs(sims["flux"], sims["ivar"], normalise)
    theta = sims["theta"].astype(np.float32)
    theta[:, 0] = np.log10(theta[:, 0])                      # the flow works in log T_eff
    lo = [np.log10(STAR_PRIOR["TEFF"][0]), STAR_PRIOR["LOGG"][0], STAR_PRIOR["FEH"][0]]
    hi = [np.log10(STAR_PRIOR["TEFF"][1]), STAR_PRIOR["LOGG"][1], STAR_PRIOR["FEH"][1]]
    npe = NPE(prior=BoxUniform(lo, hi), config=NPEConfig(flow="maf", ensemble=3),    # the shipped model's recipe
              train_config=TrainConfig(batch_size=256, max_epochs=max_epochs, seed=seed, num_threads=2),
              embedding=stars_embedding(), progress=progress)
    npe.fit(theta, x, theta_names=["log10 T_eff", "log g", "[Fe/H]"], x_target=x_target)
    npe.posterior_.theta_units = ["dex(K)", "dex", "dex"]
    return npe, sims


def star_model_error(model_error: str | None):
    """The :class:`~sim2sky.infer.model_error.ResidualErrorModel` for ``train_spectra``'s setting:
    None (theory only), ``"miles"`` (fitted on the calibration half of the MILES development
    set: the shipped model) or a JSON file written by ``ResidualErrorModel.to_dict``."""
    if model_error is None or model_error == "none":
        return None
    if model_error == "miles":
        s = miles()
        return fit_star_model_error(s[miles_split(len(s))[0]])
    path = Path(model_error)
    if not path.is_file():
        raise InputError(f"model_error: expected none, miles or a JSON file of an error model, got {model_error!r}")
    try:
        return ResidualErrorModel.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"model_error: {path.name} is not an error model written by ResidualErrorModel.to_dict ({exc})")


def train_spectra(out, n_per_class: int = 8000, n_stars: int = 40000, epochs: int = 20, seed: int = 0,
                  normalise: str = "mean", model_error: str | None = "miles",
                  conditions: SurveyConditions = SurveyConditions(), progress: bool = False, log=print) -> dict:
    """Simulate from theory and train the three models; write them under ``out``; return metrics.

    ``model_error``: ATLAS9's error drawn into the stellar training spectra (see
    :func:`star_model_error`; ``"miles"`` reproduces the shipped model and needs the ``miles`` dataset).
    """
    out = Path(out)
    if normalise not in ("mean", "continuum"):          # checked before minutes of training, not after
        raise InputError(f"--normalise: expected mean or continuum, got {normalise!r}")
    error_model = star_model_error(model_error)
    t0 = time.perf_counter()
    log(f"simulating {len(CLASSES) * n_per_class} training spectra ({len(CLASSES)} classes)...")
    train = simulate_spectra(n_per_class, seed=seed, conditions=conditions)
    cal = simulate_spectra(max(n_per_class // 8, 200), seed=seed + 1, conditions=conditions)
    ref = simulate_spectra(max(n_per_class // 8, 200), seed=seed + 2, conditions=conditions)
    test = simulate_spectra(max(n_per_class // 8, 200), seed=seed + 3, conditions=conditions)
    log(f"  {time.perf_counter() - t0:.0f} s; training the classifier...")
    clf = train_classifier(train, cal, ref, epochs=epochs, seed=seed, progress=progress)
    metrics = {"classifier": evaluate_classifier(clf, to_inputs(test["flux"], test["ivar"])[0], test["y"], test["snr"])}
    m = metrics["classifier"]
    log(f"  held-out theory: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, ECE {m['ece']:.3f}")
    prov = {"seed": seed, "n_per_class": n_per_class, "command": "sim2sky train spectra"}
    log("training the redshift posterior (ResNet embedding + spline flow)...")
    znpe = train_redshift(train, seed=seed, max_epochs=max(10, 3 * epochs), progress=progress)
    xt = to_inputs(test["flux"], test["ivar"])[0]
    zs = znpe.posterior_.sample_batched(xt, 100, seed=seed)[..., 0]
    zt = np.log1p(test["z"])
    dz = np.expm1(np.median(zs, 1)) - test["z"]
    metrics["redshift"] = {"median_abs_dz_over_1pz": float(np.median(np.abs(dz) / (1 + test["z"]))),
                           "outlier_fraction": float(np.mean(np.abs(dz) / (1 + test["z"]) > 0.01)),
                           "coverage68": float(np.mean((np.quantile(zs, 0.16, 1) <= zt) & (zt <= np.quantile(zs, 0.84, 1))))}
    log(f"  redshift: median |dz|/(1+z) {metrics['redshift']['median_abs_dz_over_1pz']:.4f}, "
        f"outliers {metrics['redshift']['outlier_fraction']:.3f}, 68% coverage {metrics['redshift']['coverage68']:.3f}")
    log(f"training the stellar-parameter posterior on {n_stars} ATLAS9 stars ({normalise} normalisation)...")
    snpe, _ = train_stars(n_stars, seed=seed, normalise=normalise, progress=progress, model_error=error_model)
    with atomic_dir(out) as tmp:             # the three models or none; a user's folder is never replaced
        clf.save(tmp / "classifier", provenance=prov, metrics=m)
        save_posterior(znpe.posterior_, tmp / "redshift", history=znpe.history_, provenance=prov)
        save_posterior(snpe.posterior_, tmp / "stars", history=snpe.history_,
                       provenance={**prov, "n_stars": n_stars, "normalise": normalise,
                                   "model_error": None if error_model is None else error_model.to_dict(),
                                   "model_error_source": model_error,
                                   "theory": "ATLAS9 (Castelli & Kurucz 2004)",
                                   "parameters": [p.key for p in STAR_PARAMETERS]})
        seal_folder(tmp)
    metrics["wall_s"] = time.perf_counter() - t0
    log(f"done in {metrics['wall_s']:.0f} s -> {out}")
    return metrics


def write_simulated(out, n_per_class: int, seed: int = 0, conditions: SurveyConditions = SurveyConditions()) -> int:
    """Write simulated spectra as a stacked FITS image on the model grid (log10 λ WCS, ``DC-FLAG = 1``)
    with an ``IVAR`` extension and a ``TRUTH`` table (CLASS, Z, SNR, EW_HALPHA); returns the count."""
    out = Path(out)
    if not out.name.endswith((".fits", ".fit")):
        raise InputError(f"--out: {out.name} must end in .fits")
    if n_per_class < 1:
        raise InputError("--n-per-class must be positive")
    d = simulate_spectra(n_per_class, seed=seed, conditions=conditions)
    lw = np.log10(model_wave())
    h = fits.Header()
    h["CRVAL1"], h["CDELT1"], h["CRPIX1"] = float(lw[0]), float(lw[1] - lw[0]), 1.0
    h["CTYPE1"], h["CUNIT1"], h["DC-FLAG"] = "WAVE", "Angstrom", 1
    h["COMMENT"] = "sim2sky simulated survey spectra (vacuum wavelengths, unit median flux)"
    truth = fits.BinTableHDU.from_columns([
        fits.Column("TRUE_CLASS", "20A", array=np.asarray(CLASSES)[d["y"]]),
        fits.Column("TRUE_Z", "E", array=d["z"]), fits.Column("TRUE_SNR", "E", array=d["snr"]),
        fits.Column("TRUE_EW_HALPHA", "E", array=d["ew_halpha"])], name="TRUTH")
    hdul = fits.HDUList([fits.PrimaryHDU(d["flux"], header=h), fits.ImageHDU(d["ivar"], name="IVAR"), truth])
    with atomic_file(out) as tmp:
        hdul.writeto(tmp)
    return len(d["y"])
