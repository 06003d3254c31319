"""Training the shipped nebula models: the classifier (calibrated across theories) and the HII posterior."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_dir
from ...core.modelio import seal_folder
from ...infer.io import save_posterior
from ...infer.npe import NPE, NPEConfig
from ...infer.priors import BoxUniform
from ...infer.train import TrainConfig
from .crosstheory import leave_one_grid_out
from .features import FEATURE_NAMES
from .schema import CLASSES, HII_LABELS, HII_UNITS
from .theory import MappingsHII
from .training import HII_FAMILIES, Domain, evaluate_classifier, fit_classifier, simulate_set, theory_domain

__all__ = ["train_nebulae"]


def train_nebulae(out, n_per_class: int = 20000, n_hii_params: int = 40000, seed: int = 0, epochs: int = 25,
                  progress: bool = False, log=print, cross_theory: bool = True) -> dict:
    """Train the default classifier and HII-parameter posterior; write them under ``out``.

    With ``cross_theory``, the classifier's temperature is calibrated *across* theories: a
    leave-one-HII-grid-out run (:func:`~sim2sky.cases.nebulae.crosstheory.leave_one_grid_out`, at a
    third of the training size) measures how much the temperature fitted within the training
    theories under-states the uncertainty on an unseen grid, and that factor is applied.
    Returns the held-out metrics (also stored in the model folders).
    """
    out = Path(out)
    t0 = time.perf_counter()
    dom = theory_domain()
    log(f"simulating {len(CLASSES) * n_per_class} training spectra (render + measure) and training the classifier...")
    clf = fit_classifier(dom, n_per_class, (seed, seed + 1, seed + 4), epochs=epochs, seed=seed, progress=progress)
    test = simulate_set(dom, max(n_per_class // 6, 500), seed + 2, augment=False)     # complete line sets
    if cross_theory:
        log("leave-one-HII-grid-out runs for the cross-theory temperature...")
        logo = leave_one_grid_out(HII_FAMILIES, n_per_class=max(n_per_class // 3, 1000), epochs=epochs, seed=seed + 20,
                                  log=log)
        clf.temperature_ *= logo["temperature_ratio"]
        log(f"  temperature x {logo['temperature_ratio']:.3f} -> {clf.temperature_:.3f}")
    metrics = evaluate_classifier(clf, test)
    if cross_theory:
        metrics["cross_theory"] = logo
    log(f"  held-out accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}, ECE {metrics['ece']:.3f}")
    prov = {"seed": seed, "n_per_class": n_per_class, "domain": dom.name, "command": "sim2sky train nebulae"}

    log(f"simulating {n_hii_params} HII regions (MAPPINGS grid) for the parameter posterior...")
    hii = simulate_set(Domain("hii", {"HII": (MappingsHII(),)}, dom.observation), n_hii_params, seed + 3,
                       classes=("HII",))
    ok = hii["valid"] & np.isfinite(hii["theta"]).all(1)
    m = MappingsHII()
    lo = [m.parameters[2].low, m.parameters[0].low, m.parameters[1].low, dom.observation.ebv[0]]
    hi = [m.parameters[2].high, m.parameters[0].high, m.parameters[1].high, dom.observation.ebv[1]]
    # (64, 64) conditioners: as accurate here as (128, 128) (coverage and rms in the tests) and 3x
    # cheaper to sample, which is what bounds cube throughput
    npe = NPE(prior=BoxUniform(lo, hi), config=NPEConfig(flow="nsf", transforms=4, hidden_features=(64, 64), embedding="mlp",
                                                          embedding_dim=32),
              train_config=TrainConfig(batch_size=512, max_epochs=80 if epochs >= 20 else 20, patience=10, seed=seed),
              progress=progress).fit(hii["theta"][ok], hii["x"][ok], theta_names=list(HII_LABELS),
                                     x_names=list(FEATURE_NAMES))
    npe.posterior_.theta_units = list(HII_UNITS)
    with atomic_dir(out) as tmp:             # both models or neither; a user's folder is never replaced
        clf.save(tmp / "classifier", provenance=prov, metrics=metrics)
        save_posterior(npe.posterior_, tmp / "hii_params", history=npe.history_,
                       provenance={**prov, "n_simulations": int(ok.sum())})
        seal_folder(tmp)
    metrics["wall_s"] = time.perf_counter() - t0
    log(f"done in {metrics['wall_s']:.0f} s -> {out}")
    return metrics
