import numpy as np
import pytest
import torch

from sim2sky.core.errors import InputError
from sim2sky.infer.priors import BoxUniform, Gaussian, prior_from_dict
from sim2sky.nn.flows import BoxLogitTransform, FastRQSTransform


@pytest.mark.parametrize("core, tail", [(0.9, "exp"), (0.5, "gauss"), (0.0, "gauss")])
def test_box_logit_roundtrip_and_log_det(core, tail):
    low, high = torch.tensor([-1.0, 0.0, 10.0]), torch.tensor([1.0, 5.0, 12.0])
    t = BoxLogitTransform(low, high, core, tail)
    theta = low + torch.rand(100, 3, generator=torch.Generator().manual_seed(0)) * (high - low)
    theta[:3] = low + torch.tensor([0.001, 0.02, 0.999])[:, None] * (high - low)   # deep in the tails
    u, ladj = t.call_and_ladj(theta)
    assert torch.allclose(t.inv(u), theta, atol=1e-5)
    # analytic log|du/dtheta| against autograd, elementwise
    th = theta[:5].clone().requires_grad_(True)
    for i in range(5):
        for j in range(3):
            g = torch.autograd.grad(t(th)[i, j], th)[0][i, j]
            assert torch.isclose(torch.log(g.abs()), ladj[i, j], atol=1e-4)


def test_box_tails_shape_a_truncated_density():
    """A density that stays finite at the box edge: exponential tail in u for "exp", Gaussian for "gauss",
    and the probit map (core 0) sends the uniform prior to N(0, tau^2)."""
    low, high = torch.tensor([-1.0]), torch.tensor([1.0])
    theta = low + torch.rand(200_000, 1, generator=torch.Generator().manual_seed(1)) * 2
    u = BoxLogitTransform(low, high, 0.0, "gauss")(theta)
    tau = 2 / np.sqrt(2 * np.pi)
    assert abs(u.std().item() / tau - 1) < 0.01 and abs(u.mean().item()) < 0.01
    excess = lambda tail: BoxLogitTransform(low, high, 0.5, tail)(theta)[theta > 0.5] - 0.5
    e_exp, e_gauss = excess("exp"), excess("gauss")
    # exponential excess: sd = mean (scale 0.5); half-normal excess: sd/mean = sqrt(pi/2 - 1)
    assert abs(e_exp.std() / e_exp.mean() - 1) < 0.05
    assert abs(e_gauss.std() / e_gauss.mean() - np.sqrt(np.pi / 2 - 1)) < 0.05
    with pytest.raises(ValueError, match="tail must be"):
        BoxLogitTransform(low, high, 0.5, "cauchy")


def test_fast_rqs_matches_zuko():
    import zuko

    g = torch.Generator().manual_seed(0)
    w, h, d = (torch.randn(50, 8, generator=g) * 3, torch.randn(50, 8, generator=g) * 3, torch.randn(50, 7, generator=g))
    ours, ref = FastRQSTransform(w, h, d), zuko.transforms.MonotonicRQSTransform(w, h, d)
    x = torch.randn(50, generator=g) * 2
    assert torch.allclose(ours(x), ref(x), atol=1e-5)
    assert torch.allclose(ours.call_and_ladj(x)[1], ref.call_and_ladj(x)[1], atol=1e-4)


def test_prior_from_dict_and_errors():
    p = prior_from_dict({"low": [0, 0], "high": [1, 2]})
    assert isinstance(p, BoxUniform) and p.dim == 2
    assert isinstance(prior_from_dict({"kind": "gaussian", "loc": [0], "scale": [1]}), Gaussian)
    with pytest.raises(InputError, match="high must exceed low"):
        BoxUniform([0, 1], [1, 1])
    with pytest.raises(InputError, match="'low' has 2 values but 'high' has 3"):
        BoxUniform([0, 0], [1, 1, 1])
    with pytest.raises(InputError, match="missing"):
        prior_from_dict({"low": [0]})
    with pytest.raises(InputError, match="unknown prior kind"):
        prior_from_dict({"kind": "beta"})


def test_box_prior_log_prob_and_sampling():
    p = BoxUniform([-1, 2], [1, 6])
    s = p.sample(1000, torch.Generator().manual_seed(1))
    assert p.contains(s).all()
    assert np.isclose(p.log_prob(s[:1]).item(), -np.log(8.0))
    assert p.log_prob(torch.tensor([[2.0, 3.0]])).item() == -np.inf


def test_correlated_gaussian_prior_round_trip():
    cov = [[1.0, 0.6], [0.6, 2.0]]
    p = prior_from_dict({"kind": "gaussian", "loc": [1.0, -1.0], "covariance": cov})
    s = p.sample(100_000, torch.Generator().manual_seed(0)).numpy()
    assert np.allclose(np.cov(s.T), cov, atol=0.03) and np.allclose(s.mean(0), [1, -1], atol=0.02)
    q = prior_from_dict(p.to_dict())
    assert torch.allclose(q.covariance, p.covariance) and torch.allclose(q.scale, torch.tensor([1.0, 2.0 ** 0.5]))
    with pytest.raises(InputError, match="not positive definite"):
        Gaussian([0, 0], covariance=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(InputError, match="symmetric 2x2"):
        Gaussian([0, 0], covariance=[[1.0, 0.0, 0.0]])
    with pytest.raises(InputError, match="'scale'"):
        prior_from_dict({"kind": "gaussian", "loc": [0]})


def test_box_map_defaults_and_models_saved_before_it():
    from sim2sky.infer.estimator import NPEConfig, NPEEstimator

    assert (NPEConfig().resolved(2).box_tail, NPEConfig().resolved(2).box_core) == ("exp", 0.9)      # NSF
    assert (NPEConfig().resolved(10).box_tail, NPEConfig().resolved(10).box_core) == ("gauss", 0.5)  # MAFs
    assert NPEConfig(box_tail="gauss", box_core=0.7).resolved(2).box_core == 0.7
    prior = BoxUniform([-1, -1, -1], [1, 1, 1])
    est = NPEEstimator(3, 3, NPEConfig(), prior)
    arch = est.architecture()
    assert arch["box_tail"] == "gauss" and est.box_transform.tail == "gauss"
    legacy = {k: v for k, v in arch.items() if not k.startswith("box_")}   # a model folder from before
    old = NPEEstimator.from_architecture(legacy, prior)
    assert old.config.box_tail == "exp" and old.box_transform.core == 0.9
    with pytest.raises(ValueError, match="box_tail"):
        NPEConfig(box_tail="probit")
