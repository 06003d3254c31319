"""The shipped nebula classifier and HII posterior: accuracy, calibration, unknowns, retraining, DANN."""

import numpy as np
import pytest

from sim2sky.cases.nebulae import NebulaPipeline
from sim2sky.cases.nebulae import (CLASSES, Domain, evaluate_classifier, simulate_agn, simulate_noise, simulate_set,
                                   source_domain, shifted_domain, theory_domain, train_nebulae)
from sim2sky.learn.classifier import CalibratedClassifier, ClassifierConfig, mlp_classifier
from sim2sky.learn.dann import DANNConfig, fit_dann
from sim2sky.cases.nebulae import MappingsHII

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe():
    return NebulaPipeline()


@pytest.mark.parametrize("sn,min_f1", [(20.0, 0.90), (100.0, 0.95)])
def test_shipped_classifier_accuracy_and_calibration(pipe, sn, min_f1):
    test = simulate_set(theory_domain(), 800, seed=101, augment=False, sn_halpha=sn)
    m = evaluate_classifier(pipe.classifier, test)
    assert m["macro_f1"] >= min_f1, m            # README: 0.935 at S/N 20, 0.967 at S/N 100
    assert m["ece"] <= 0.03, m
    assert min(m["recall"].values()) > 0.8, m
    assert m["unknown_rate"] < 0.05


def test_unknown_for_noise_and_agn(pipe):
    x, meas = simulate_noise(1000, seed=5)
    table = {"HA6563": (meas["flux"][:, 8], meas["err"][:, 8])}
    from sim2sky.cases.nebulae.features import measured_to_table
    res = pipe.predict(measured_to_table(meas), 1000)
    assert np.mean(res["label"] == "unknown") > 0.9          # pure noise: (almost) never a nebula
    agn = simulate_agn(1000, seed=6)
    labels = pipe.classifier.predict(agn["x"][agn["valid"]])
    hii = simulate_set(theory_domain(), 250, seed=7, augment=False)
    base = np.mean(pipe.classifier.predict(hii["x"][hii["valid"]]) == "unknown")
    assert np.mean(labels == "unknown") > 3 * base + 0.1       # AGN flagged far more often than nebulae


def test_hii_posterior_is_calibrated(pipe):
    rng_seed = 11
    hii = simulate_set(Domain("hii", {"HII": (MappingsHII(),)}), 300, seed=rng_seed, augment=False, classes=("HII",),
                       sn_halpha=50.0)
    ok = hii["valid"]
    samples = pipe.posterior.sample_batched(hii["x"][ok], 400, seed=0)
    theta = hii["theta"][ok]
    lo, hi = np.quantile(samples, [0.16, 0.84], axis=1)
    coverage = ((theta >= lo) & (theta <= hi)).mean(0)
    assert np.all(np.abs(coverage - 0.68) < 0.1), coverage
    rms = np.sqrt(np.mean((samples.mean(1) - theta) ** 2, 0))
    prior_sd = theta.std(0)
    # O/H, log U and E(B-V) are constrained (README: rms 0.20, 0.21 dex, 0.13 mag at S/N 50); log P/k
    # only through the [SII] doublet, mostly in its low-density limit, so it stays near the prior
    assert np.all(rms[[0, 1, 3]] < 0.6 * prior_sd[[0, 1, 3]]), (rms, prior_sd)


def test_short_retraining_reaches_documented_accuracy(tmp_path):
    m = train_nebulae(tmp_path / "models", n_per_class=3000, n_hii_params=3000, epochs=10, log=lambda *a: None)
    assert m["accuracy"] > 0.85, m                  # full training: 0.909 (README)
    assert (tmp_path / "models/classifier/weights.safetensors").is_file()
    assert (tmp_path / "models/hii_params/config.json").is_file()
    pipe = NebulaPipeline(tmp_path / "models")
    assert pipe.classes == CLASSES


def test_dann_aligns_domains_without_losing_accuracy():
    # with EW(Hα) among the features DANN no longer raises target accuracy here (README); what must
    # hold is that the reversed gradient makes the domains indistinguishable (domain loss near
    # log 2, unlike the same discriminator without reversal) at little cost in accuracy
    src = simulate_set(source_domain(), 4000, 0)
    cal = simulate_set(source_domain(), 800, 1, augment=False)
    tgt = simulate_set(shifted_domain(), 2000, 3, augment=False)
    test = simulate_set(shifted_domain(), 800, 4, augment=False)
    v, vc, vt = src["valid"], cal["valid"], tgt["valid"]
    d = src["x"].shape[1]
    plain = CalibratedClassifier(mlp_classifier(d, 4), CLASSES, ClassifierConfig(epochs=15)).fit(src["x"][v], src["y"][v], cal["x"][vc], cal["y"][vc])
    runs = {}
    for weight in (0.0, 3.0):
        runs[weight] = fit_dann(CalibratedClassifier(mlp_classifier(d, 4, seed=1), CLASSES, ClassifierConfig(epochs=15, seed=1)), src["x"][v], src["y"][v],
                                tgt["x"][vt], cal["x"][vc], cal["y"][vc], DANNConfig(epochs=15, seed=1, domain_weight=weight))
    aligned, separable = runs[3.0].history_["domain_loss"][-1], runs[0.0].history_["domain_loss"][-1]
    assert aligned > 0.6 and aligned > separable + 0.1, (aligned, separable)
    before, after = evaluate_classifier(plain, test)["accuracy"], evaluate_classifier(runs[3.0], test)["accuracy"]
    assert after > before - 0.04, (before, after)
