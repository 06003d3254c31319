"""Attributions: integrated gradients are exact for linear models, complete for networks, and on the
shipped nebula classifier point at the physics each class is defined by."""

import numpy as np
import pytest
import torch

from sim2sky.cases.nebulae import CLASSES, FEATURE_NAMES, NebulaPipeline, simulate_set, theory_domain
from sim2sky.learn import classifier_attributions, integrated_gradients, shap_attributions


def test_linear_model_attributions_are_exact(rng):
    w = torch.tensor([1.5, -2.0, 0.0, 3.0])
    x = rng.normal(size=(50, 4)).astype(np.float32)
    base = np.full(4, 0.3, np.float32)
    a, err = integrated_gradients(lambda z: z @ w, x, base, steps=8)
    assert np.allclose(a, (x - base) * w.numpy(), atol=1e-5) and np.abs(err).max() < 1e-4


def test_bad_input_is_refused():
    with pytest.raises(Exception, match="x: expected finite"):
        integrated_gradients(lambda z: z.sum(1), np.array([[np.nan, 1.0]]))


@pytest.mark.slow
def test_nebula_classifier_attributions_complete_and_physical():
    pipe = NebulaPipeline()
    d = simulate_set(theory_domain(), 200, seed=21, augment=False, sn_halpha=50.0)
    x, y = d["x"][d["valid"]], d["y"][d["valid"]]
    net = pipe.classifier.network_
    a, err = classifier_attributions(net, x, y, baseline=net.x_mean.numpy(), steps=64)
    delta = np.abs(a.sum(1))
    assert np.abs(err).max() < 0.01 * delta.mean(), (np.abs(err).max(), delta.mean())   # completeness
    top = {c: [FEATURE_NAMES[i] for i in np.argsort(np.abs(a[y == k]).mean(0))[::-1][:4]] for k, c in enumerate(CLASSES)}
    assert "SII6717_31_ratio" in top["SNR"], top          # [SII]/Hα defines SNRs (Mathewson & Clarke 1973)
    assert {"log_ew_HA", "ew_missing"} & set(top["DIG"][:2]), top     # EW(Hα) defines DIG (Lacerda et al. 2018)
    assert "OIII5007_ratio" in top["AGN"] and "OIII5007_ratio" in top["PN"], top


def test_shap_matches_expected_gradients_of_a_linear_model(rng):
    # for f = w.x, SHAP (expected gradients) = w * (x - E[background]); a wrong class or baseline fails
    w = torch.tensor([[1.5, -2.0, 0.0, 3.0], [0.5, 0.1, 0.2, 0.3]])
    net = torch.nn.Linear(4, 2, bias=False)
    net.weight.data = w.clone()
    bg, x = rng.normal(size=(200, 4)), rng.normal(size=(20, 4))
    a = shap_attributions(net, x, 0, bg, nsamples=2000)
    exact = (x - bg.mean(0)) * w[0].numpy()
    assert np.abs(a - exact).mean() < 0.05 and np.abs(a - exact).max() < 0.35
    assert np.abs(a[:, 2]).max() == 0.0                       # a feature with zero weight gets nothing
    with pytest.raises(Exception, match="background: expected"):
        shap_attributions(net, x, 0, bg[:, :3])
