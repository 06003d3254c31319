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
    assert m["macro_f1"] >= min_f1, m            # case guide (docs/guide.md): 0.935 at S/N 20, 0.967 at S/N 100
    assert m["ece"] <= 0.03, m
    assert min(m["recall"].values()) > 0.8, m
    assert m["unknown_rate"] < 0.05


def test_unknown_for_noise(pipe):
    from sim2sky.cases.nebulae.features import measured_to_table

    x, meas = simulate_noise(1000, seed=5)
    res = pipe.predict(measured_to_table(meas), 1000)
    assert np.mean(res["label"] == "unknown") > 0.9          # pure noise: (almost) never a nebula


def _five_line_labels(pipe, model, n, seed):
    from sim2sky.cases.nebulae.crosstheory import theory_line_table

    rng = np.random.default_rng(seed)
    _, fluxes = model.sample(n, rng)
    return pipe.predict(theory_line_table(fluxes, rng), n)["label"]


def test_agn_families_never_trained_on_come_out_agn_not_hii(pipe):
    from sim2sky.cases.nebulae.crosstheory import EmpiricalSeyfert

    labels = _five_line_labels(pipe, EmpiricalSeyfert(), 2000, 6)     # SDSS Seyfert locus, 5 lines, 3% errors
    assert np.mean(np.isin(labels, ["AGN", "unknown"])) >= 0.5 and np.mean(labels == "HII") <= 0.1
    agn = simulate_agn(800, seed=6)                                    # the NLR grid, measured spectra
    assert np.mean(pipe.classifier.predict(agn["x"][agn["valid"]]) == "AGN") > 0.7


def test_class_priors_move_ambiguous_hii_to_hii():
    from sim2sky.cases.nebulae import MappingsIVKappaHII

    plain = _five_line_labels(NebulaPipeline(), MappingsIVKappaHII(), 2000, 8)
    field = _five_line_labels(NebulaPipeline(class_priors="field"), MappingsIVKappaHII(), 2000, 8)
    assert np.mean(field == "HII") > np.mean(plain == "HII") + 0.1 and np.mean(field == "HII") > 0.85
    with pytest.raises(Exception, match="class-priors"):
        NebulaPipeline(class_priors="HII=1,PN=1")


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
    # O/H, log U and E(B-V) are constrained (docs/guide.md: rms 0.20, 0.21 dex, 0.13 mag at S/N 50); log P/k
    # only through the [SII] doublet, mostly in its low-density limit, so it stays near the prior
    assert np.all(rms[[0, 1, 3]] < 0.6 * prior_sd[[0, 1, 3]]), (rms, prior_sd)


def test_short_retraining_reaches_documented_accuracy(tmp_path):
    m = train_nebulae(tmp_path / "models", n_per_class=3000, n_hii_params=3000, epochs=10, log=lambda *a: None)
    assert m["accuracy"] > 0.83, m                  # full training: docs/guide.md
    folds = m["cross_theory"]["folds"]               # leave-one-HII-grid-out, one fold per grid
    assert len(folds) == 4 and all(f["hii_recall_spectra"] > 0.5 for f in folds), folds
    assert 0.7 < m["cross_theory"]["temperature_ratio"] < 2.0
    assert (tmp_path / "models/classifier/weights.safetensors").is_file()
    assert (tmp_path / "models/hii_params/config.json").is_file()
    pipe = NebulaPipeline(tmp_path / "models")
    assert pipe.classes == CLASSES


def test_dann_aligns_domains_without_losing_accuracy():
    # with EW(Hα) among the features DANN no longer raises target accuracy here (docs/guide.md); what must
    # hold is that the reversed gradient makes the domains indistinguishable (domain loss near
    # log 2, unlike the same discriminator without reversal) at a bounded cost in accuracy. The
    # aligned run trains for DANNConfig's 40 epochs: at 15 the cost was 0.09-0.14 and moved by
    # 0.04 between machines; at 40 it is 0.023-0.043 over seeds 1-3 (a collapsed one loses > 0.3)
    src = simulate_set(source_domain(), 4000, 0)
    cal = simulate_set(source_domain(), 800, 1, augment=False)
    tgt = simulate_set(shifted_domain(), 2000, 3, augment=False)
    test = simulate_set(shifted_domain(), 800, 4, augment=False)
    v, vc, vt = src["valid"], cal["valid"], tgt["valid"]
    d = src["x"].shape[1]
    plain = CalibratedClassifier(mlp_classifier(d, len(CLASSES)), CLASSES, ClassifierConfig(epochs=15)).fit(src["x"][v], src["y"][v], cal["x"][vc], cal["y"][vc])
    runs = {}
    for weight, epochs in ((0.0, 15), (3.0, 40)):
        runs[weight] = fit_dann(CalibratedClassifier(mlp_classifier(d, len(CLASSES), seed=1), CLASSES, ClassifierConfig(epochs=15, seed=1)), src["x"][v], src["y"][v],
                                tgt["x"][vt], cal["x"][vc], cal["y"][vc], DANNConfig(epochs=epochs, seed=1, domain_weight=weight))
    aligned, separable = runs[3.0].history_["domain_loss"][-1], runs[0.0].history_["domain_loss"][-1]
    assert aligned > 0.6 and aligned > separable + 0.1, (aligned, separable)
    before, after = evaluate_classifier(plain, test)["accuracy"], evaluate_classifier(runs[3.0], test)["accuracy"]
    assert after > before - 0.065, (before, after)
