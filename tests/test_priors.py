import numpy as np
import pytest
import torch

from sim2sky.core.errors import InputError
from sim2sky.infer.priors import BoxUniform, Gaussian, prior_from_dict
from sim2sky.nn.flows import BoxLogitTransform, FastRQSTransform


def test_box_logit_roundtrip_and_log_det():
    low, high = torch.tensor([-1.0, 0.0, 10.0]), torch.tensor([1.0, 5.0, 12.0])
    t = BoxLogitTransform(low, high)
    theta = low + torch.rand(100, 3) * (high - low)
    u, ladj = t.call_and_ladj(theta)
    assert torch.allclose(t.inv(u), theta, atol=1e-5)
    # analytic log|du/dtheta| against autograd, elementwise
    th = theta[:5].clone().requires_grad_(True)
    for i in range(5):
        for j in range(3):
            g = torch.autograd.grad(t(th)[i, j], th)[0][i, j]
            assert torch.isclose(torch.log(g.abs()), ladj[i, j], atol=1e-4)


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
