"""The nebula case: simulated training sets, the default models, and their evaluation.

A *domain* is a set of theory models per class plus an :class:`ObservationModel`. The default
("theory") domain trains the shipped models; :func:`shifted_domain` is the honest stand-in for
real data used to evaluate domain adaptation: another HII grid (3MdB BOND instead of MAPPINGS),
another extinction law, more dust, a broader LSF, a tilted noise spectrum, lower S/N and more DIG
along the line of sight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table

from ...core.errors import InputError, suggest
from ...core.tables import write_table
from ...learn.calibrate import expected_calibration_error
from ...learn.classifier import CalibratedClassifier, ClassifierConfig, mlp_classifier
from .features import FEATURE_NAMES, augment_table, line_features, measured_to_table
from .lines import LINE_NAMES
from .measure import LineFitConfig, measure_lines
from .observe import ObservationModel, noise_library, render_spectra
from .schema import CLASSES, HII_LABELS, UNKNOWN
from .theory import (Bond3MdBHII, DiffuseIonisedGas, MappingsHII, MappingsIVKappaHII, MappingsNLR, MappingsVHII, PNe3MdB,
                     ShockSNR)

__all__ = ["HII_FAMILIES", "fit_classifier", "Domain", "theory_domain", "source_domain", "shifted_domain", "simulate_set", "simulate_noise", "simulate_agn", "line_table", "write_line_table",
           "evaluate_classifier", "DOMAINS"]


@dataclass(frozen=True)
class Domain:
    name: str
    models: dict = field(default_factory=dict)       # class -> tuple of NebulaModel
    observation: ObservationModel = ObservationModel()
    z_range: tuple[float, float] = (0.0, 0.01)
    lsf_scale_fit: float = 1.0                          # LSF the *measurement* assumes


#: The HII-region theory families (four grids from three codes/versions and two ionising-spectrum sets).
HII_FAMILIES = (MappingsHII, Bond3MdBHII, MappingsVHII, MappingsIVKappaHII)


def theory_domain(hii=HII_FAMILIES) -> Domain:
    return Domain("theory", {"HII": tuple(m() for m in hii), "PN": (PNe3MdB(),), "SNR": (ShockSNR(),),
                             "DIG": (DiffuseIonisedGas(),), "AGN": (MappingsNLR(),)})


def source_domain() -> Domain:
    """The DANN experiment's labelled source: MAPPINGS HII only, default observation model."""
    return Domain("source", {"HII": (MappingsHII(),), "PN": (PNe3MdB(),), "SNR": (ShockSNR(),),
                             "DIG": (DiffuseIonisedGas(),), "AGN": (MappingsNLR(),)})


def shifted_domain() -> Domain:
    obs = ObservationModel(r_v=4.05, ebv=(0.2, 1.4), lsf_scale=1.2, sn_halpha=(3.0, 100.0), dig_probability=0.8,
                           dig_fraction=(0.1, 0.6), balmer_absorption_ew=(1.0, 5.0), noise_tilt=-1.0)
    return Domain("shifted", {"HII": (Bond3MdBHII(),), "PN": (PNe3MdB(),), "SNR": (ShockSNR(),),
                              "DIG": (DiffuseIonisedGas(),), "AGN": (MappingsNLR(),)}, obs, z_range=(0.0, 0.03))


DOMAINS = {"theory": theory_domain, "shifted": shifted_domain, "source": source_domain}


def simulate_set(domain: Domain, n_per_class: int, seed: int = 0, augment: bool = True, sn_halpha=None,
                 classes=CLASSES, chunk: int = 4096, extra_models: dict | None = None,
                 keep_measurements: bool = False) -> dict:
    """Simulate, render and *measure* a labelled set of nebulae.

    Returns dict with ``x`` (n, d) features, ``y`` (n,) class index into ``classes``, ``valid``,
    ``sn`` (n,) true S/N(Hα), ``theta`` (n, 4) HII parameters (NaN where unknown), ``source``.
    """
    rng = np.random.default_rng(seed)
    wave, noise_var = noise_library()
    models = dict(domain.models)
    models.update(extra_models or {})
    dig = DiffuseIonisedGas()
    fit = LineFitConfig(lsf_scale=domain.lsf_scale_fit)
    out = {k: [] for k in ("x", "y", "valid", "sn", "theta", "source")}
    if keep_measurements:
        out.update(flux=[], err=[], sigma=[], ew=[])
    for k, cls in enumerate(classes):
        for m_i, model in enumerate(models[cls]):
            n_model = n_per_class // len(models[cls]) + (m_i < n_per_class % len(models[cls]))
            for start in range(0, n_model, chunk):
                n = min(chunk, n_model - start)
                params, fluxes = model.sample(n, rng)
                sigma = rng.uniform(*model.sigma_kms, n)
                ew = 10 ** rng.uniform(*np.log10(model.ew_halpha), n)
                _, dig_f = dig.sample(n, rng)
                z = rng.uniform(*domain.z_range)
                r = render_spectra(fluxes, sigma, ew, domain.observation, rng, z=z, sn_halpha=sn_halpha,
                                   dig_fluxes=None if cls == "DIG" else dig_f, wave=wave, noise_var=noise_var)
                m = measure_lines(r["flux"], r["var"], wave, z=z, config=fit)
                measured = measured_to_table(m)
                table = augment_table(measured, n, rng) if augment else measured
                x, valid = line_features(table, n)
                theta = np.full((n, len(HII_LABELS)), np.nan)
                if isinstance(model, MappingsHII):
                    theta = np.stack([params[k] for k in HII_LABELS[:3]] + [r["ebv"]], 1)
                out["x"].append(x)
                out["y"].append(np.full(n, k))
                out["valid"].append(valid)
                out["sn"].append(r["sn_halpha"])
                out["theta"].append(theta)
                out["source"].append(np.full(n, model.name, dtype=object))
                if keep_measurements:
                    out["flux"].append(m["flux"])
                    out["err"].append(m["err"])
                    out["sigma"].append(m["sigma"])
                    out["ew"].append(measured["EW_HA6563"][0])
    return {key: np.concatenate(v) for key, v in out.items()}


def fit_classifier(domain: Domain, n_per_class: int, seeds: tuple[int, int, int], epochs: int = 25, seed: int = 0,
                   progress: bool = False) -> CalibratedClassifier:
    """Simulate a domain's training, calibration and "unknown"-reference sets (``seeds``) and fit
    the nebula classifier (MLP, ``seed``) on them.

    Training drops lines at random; the temperature is fitted on complete line sets (the cube
    case); the "unknown" statistics on a held-out set with lines dropped like real inputs.
    """
    train = simulate_set(domain, n_per_class, seeds[0])
    cal = simulate_set(domain, max(n_per_class // 6, 500), seeds[1], augment=False)
    ref = simulate_set(domain, max(n_per_class // 6, 500), seeds[2])
    v, vc, vr = train["valid"], cal["valid"], ref["valid"]
    clf = CalibratedClassifier(mlp_classifier(len(FEATURE_NAMES), len(CLASSES), seed=seed), CLASSES,
                               ClassifierConfig(epochs=epochs, seed=seed), FEATURE_NAMES, progress=progress)
    return clf.fit(train["x"][v], train["y"][v], cal["x"][vc], cal["y"][vc], ref["x"][vr], ref["y"][vr])


def simulate_noise(n: int, seed: int = 0, z: float = 0.005) -> np.ndarray:
    """Features of pure-noise spectra (real MUSE variance, no lines), measured like any spectrum."""
    rng = np.random.default_rng(seed)
    wave, var = noise_library()
    v = var[rng.integers(0, len(var), n)]
    flux = rng.standard_normal(v.shape).astype(np.float32) * np.sqrt(v)
    m = measure_lines(flux, v, wave, z=z)
    return line_features(measured_to_table(m), n)[0], m


def simulate_agn(n: int, seed: int = 0, obs: ObservationModel = ObservationModel()) -> dict:
    """AGN narrow-line-region spectra (NebulaBayes NLR grid) for the "unknown" test."""
    return simulate_set(Domain("agn", {"AGN": (MappingsNLR(),)}, obs), n, seed, augment=False, classes=("AGN",))


def line_table(n_per_class: int, sn_halpha=None, domain: str = "theory", seed: int = 0) -> Table:
    """Measured line fluxes of simulated nebulae as a table with units (the ``nebulae predict`` input).

    Fluxes are in units of 10^-17 erg/s/cm2 for an Hα flux of 100; measured negative fluxes of
    undetected lines are written as 0 with their error. Columns TRUE_CLASS and TRUE_SN hold the truth.
    """
    if domain not in DOMAINS:
        raise InputError(f"--domain: unknown domain {domain!r}{suggest(domain, DOMAINS)}; choose from {', '.join(DOMAINS)}")
    d = simulate_set(DOMAINS[domain](), n_per_class, seed, augment=False, sn_halpha=sn_halpha, keep_measurements=True)
    flux = u.Unit("1e-17 erg / (s cm2)")
    t = Table({"ID": np.arange(len(d["y"]))})
    for i, name in enumerate(LINE_NAMES):
        t[name] = np.round(np.maximum(d["flux"][:, i], 0) * 100, 4) * flux
        t[f"{name}_ERR"] = np.round(d["err"][:, i] * 100, 4) * flux
    t["SIGMA"] = np.round(d["sigma"], 1) * u.km / u.s
    t["EW_HA6563"] = np.round(np.where(d["ew"] > 0, d["ew"], np.nan), 2) * u.AA
    t["TRUE_CLASS"] = np.asarray(CLASSES)[d["y"]]
    t["TRUE_SN"] = np.round(d["sn"], 2)
    return t


def write_line_table(out, n_per_class: int, sn_halpha=None, domain: str = "theory", seed: int = 0) -> int:
    """Write :func:`line_table` to ``out`` atomically (CSV by default); returns the number of rows."""
    t = line_table(n_per_class, sn_halpha, domain, seed)
    write_table(t, out, default_format="ascii.csv")
    return len(t)


def evaluate_classifier(clf, data: dict) -> dict:
    """Accuracy, macro-F1, per-class recall, ECE and confusion matrix on a labelled set."""
    from sklearn.metrics import confusion_matrix, f1_score  # noqa: PLC0415  (scikit-learn: 1.2 s import)
    x, y = data["x"][data["valid"]], data["y"][data["valid"]]
    pred = clf.predict_all(x)
    yhat = pred["proba"].argmax(1)
    cm = confusion_matrix(y, yhat, labels=range(len(clf.classes)))
    recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
    return {"n": int(len(y)), "accuracy": float((yhat == y).mean()),
            "macro_f1": float(f1_score(y, yhat, average="macro")),
            "recall": {c: float(r) for c, r in zip(clf.classes, recall)},
            "ece": expected_calibration_error(pred["proba"], y),
            "unknown_rate": float((pred["label"] == UNKNOWN).mean()),
            "confusion": cm.tolist()}
