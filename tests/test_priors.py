import numpy as np
import pytest
import torch

from sim2sky.core.errors import InputError
from sim2sky.infer.priors import BoxUniform, Gaussian, prior_from_dict
from sim2sky.nn.flows import BoxLogitTransform


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

    assert (NPEConfig().resolved(2).box_tail, NPEConfig().resolved(2).box_core) == ("exp", 0.97)     # NSF
    assert (NPEConfig().resolved(10).box_tail, NPEConfig().resolved(10).box_core) == ("gauss", 0.5)  # MAFs
    assert NPEConfig(box_tail="gauss", box_core=0.7).resolved(2).box_core == 0.7
    # 3-5 parameters: a spline flow and three MAFs compete on validation loss
    assert [(c.flow, c.ensemble) for c in NPEConfig().candidates(5)] == [("nsf", 1), ("maf", 3)]
    assert [(c.flow, c.ensemble) for c in NPEConfig().candidates(6)] == [("maf", 3)]
    assert [(c.flow, c.ensemble) for c in NPEConfig(flow="maf").candidates(4)] == [("maf", 1)]
    prior = BoxUniform([-1] * 6, [1] * 6)
    est = NPEEstimator(6, 3, NPEConfig(), prior)
    arch = est.architecture()
    assert arch["box_tail"] == "gauss" and est.support_transform.tail == "gauss"
    legacy = {k: v for k, v in arch.items() if not k.startswith("box_")}   # a model folder from before
    old = NPEEstimator.from_architecture(legacy, prior)
    assert old.config.box_tail == "exp" and old.support_transform.core == 0.9
    with pytest.raises(ValueError, match="box_tail"):
        NPEConfig(box_tail="probit")


def test_lognormal_prior_density_support_and_json():
    from sim2sky.infer.priors import LogNormal

    p = LogNormal([np.log(0.4), -3.0], [0.5, 0.2])
    s = p.sample(200_000, torch.Generator().manual_seed(0))
    assert (s > 0).all()
    assert np.allclose(np.log(s.numpy()).mean(0), [np.log(0.4), -3.0], atol=0.01)
    assert np.allclose(np.log(s.numpy()).std(0), [0.5, 0.2], rtol=0.01)
    ref = torch.distributions.Independent(torch.distributions.LogNormal(p.loc, p.scale), 1)
    assert torch.allclose(p.log_prob(s[:5]), ref.log_prob(s[:5]), atol=1e-4)
    assert p.log_prob(torch.tensor([[0.3, -1.0]])).item() == -np.inf and not p.contains(torch.tensor([[0.0, 1.0]]))
    q = prior_from_dict(p.to_dict())
    assert isinstance(q, LogNormal) and torch.equal(q.loc, p.loc)
    with pytest.raises(InputError, match="positive 'scale'"):
        LogNormal([0.0], [-1.0])
    with pytest.raises(InputError, match="log-normal prior needs 'loc' and 'scale'"):
        prior_from_dict({"kind": "lognormal", "loc": [0.0]})


def test_lognormal_prior_flow_models_log_theta(tmp_path):
    """With a log-normal prior the flow lives in log space: every sample is positive, the
    density is normalised in theta's own units, and the map survives save/load."""
    from sim2sky.infer import NPE, LogNormal, TrainConfig
    from sim2sky.infer.io import load_posterior, save_posterior

    p = LogNormal([0.0], [1.0])
    theta = p.sample(3000, torch.Generator().manual_seed(0))
    x = torch.log(theta) + 0.3 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(1))
    post = NPE(prior=p, train_config=TrainConfig(seed=0, max_epochs=40)).fit(theta.numpy(), x.numpy()).posterior_
    assert post.estimator.support_transform is not None
    s = post.sample(np.array([-1.0], np.float32), 4000, seed=0)
    assert (s > 0).all()
    # exact: log theta | x ~ N(x / (1 + 0.09), sqrt(0.09 / 1.09)); measured 0.019 off and 7% wide
    assert abs(np.log(s).mean() - (-1.0 / 1.09)) < 0.05 and abs(np.log(s).std() / np.sqrt(0.09 / 1.09) - 1) < 0.15
    grid = np.linspace(1e-4, 2.0, 8000, dtype=np.float32)[:, None]
    dens = np.exp(post.log_prob(grid, np.full((len(grid), 1), -1.0, np.float32)))
    assert abs(np.trapezoid(dens, grid[:, 0]) - 1) < 0.02
    loaded = load_posterior(save_posterior(post, tmp_path / "m"))
    assert np.allclose(loaded.sample(np.array([-2.0], np.float32), 100, seed=3), post.sample(np.array([-2.0], np.float32), 100, seed=3))


def test_x_log_auto_picks_positive_skewed_features(tmp_path):
    """Multiplicative features (log-normal, spread over decades) are modelled as log x, others as is;
    the choice is stored with the model, a model saved before it loads, and x <= 0 is refused."""
    import json

    from safetensors.numpy import load_file, save_file

    from sim2sky.core.modelio import seal_folder, sha256_file

    from sim2sky.infer import NPE, TrainConfig
    from sim2sky.infer.estimator import NPEConfig, log_features
    from sim2sky.infer.io import load_posterior, save_posterior

    g = torch.Generator().manual_seed(0)
    theta = torch.rand(3000, 2, generator=g)
    noise = torch.randn(3000, 3, generator=g)
    x = torch.stack([torch.exp(4 * theta[:, 0] + 0.5 * noise[:, 0]),         # log-normal: logged
                     theta[:, 1] + 0.1 * noise[:, 1],                          # signed: as is
                     5 + theta[:, 1] + 0.1 * noise[:, 2]], -1)                 # positive, symmetric: as is
    assert log_features(x).tolist() == [True, False, False]
    prior = BoxUniform([0, 0], [1, 1])
    post = NPE(prior, train_config=TrainConfig(seed=0, max_epochs=3)).fit(theta.numpy(), x.numpy()).posterior_
    assert post.estimator.x_log.tolist() == [True, False, False]
    xo = np.array([np.exp(2.0), 0.5, 5.5], np.float32)
    folder = save_posterior(post, tmp_path / "m")
    again = load_posterior(folder)
    assert again.estimator.x_log.tolist() == [True, False, False]
    assert np.array_equal(again.sample(xo, 50, seed=1), post.sample(xo, 50, seed=1))
    with pytest.raises(InputError, match="modelled as its log"):
        post.sample(np.array([-1.0, 0.5, 5.5], np.float32), 10)
    # a folder written before x_log existed: no buffer, features as is
    weights = next(folder.glob("*.safetensors"))
    state = {k: v for k, v in load_file(weights).items() if not k.endswith("x_log")}
    save_file(state, weights)
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = sha256_file(weights)
    (folder / "config.json").write_text(json.dumps(config))
    seal_folder(folder)                 # edited on purpose: re-sealed, as 'sim2sky model seal' does
    assert not load_posterior(folder).estimator.x_log.any()
    off = NPE(prior, NPEConfig(x_log="none"), TrainConfig(seed=0, max_epochs=1)).fit(theta.numpy(), x.numpy())
    assert not off.estimator_.x_log.any()
    # an embedding network sees the inputs as they are (spectra, maps): no log features
    from sim2sky.nn.encoders import ENCODERS

    embedded = NPE(prior, NPEConfig(ensemble=1), TrainConfig(seed=0, max_epochs=1),
                   embedding=ENCODERS["mlp"](3, out_features=8)).fit(theta.numpy(), x.numpy())
    assert not embedded.estimator_.x_log.any()


def test_torch_zuko_and_sbi_style_priors_are_accepted():
    """Priors from torch.distributions (and zuko's/sbi's BoxUniform, which are Independent(Uniform))
    become ours with the same bounds; others are one error line."""
    import torch
    import zuko

    from sim2sky.core.errors import InputError
    from sim2sky.infer import NPE, BoxUniform, Gaussian, LogNormal, TrainConfig, as_prior

    d = torch.distributions
    box = as_prior(d.Independent(d.Uniform(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])), 1))
    assert isinstance(box, BoxUniform) and box.low.tolist() == [-1.0, 0.0] and box.high.tolist() == [1.0, 2.0]
    zbox = as_prior(zuko.distributions.BoxUniform(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])))
    assert isinstance(zbox, BoxUniform) and zbox.high.tolist() == [1.0, 2.0]
    g = as_prior(d.Independent(d.Normal(torch.zeros(3), 2 * torch.ones(3)), 1))
    assert isinstance(g, Gaussian)
    theta = torch.randn(5, 3)
    ref = d.Independent(d.Normal(torch.zeros(3), 2 * torch.ones(3)), 1).log_prob(theta)
    assert torch.allclose(g.log_prob(theta).float(), ref, atol=1e-5)
    mvn = as_prior(d.MultivariateNormal(torch.zeros(2), torch.tensor([[2.0, 0.5], [0.5, 1.0]])))
    assert isinstance(mvn, Gaussian)
    assert isinstance(as_prior(d.LogNormal(torch.zeros(2), torch.ones(2))), LogNormal)
    with pytest.raises(InputError, match="not supported"):
        as_prior(d.Beta(torch.ones(2), torch.ones(2)))
    # NPE with a torch prior: samples stay inside the box (the support map came with it)
    rng = np.random.default_rng(0)
    th = rng.uniform([-1, 0], [1, 2], (600, 2)).astype(np.float32)
    x = (th + 0.1 * rng.standard_normal(th.shape)).astype(np.float32)
    npe = NPE(prior=d.Independent(d.Uniform(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])), 1),
              train_config=TrainConfig(max_epochs=3, seed=0)).fit(th, x)
    s = npe.posterior_.sample(np.array([0.99, 1.99], np.float32), 500, seed=1)
    assert (s[:, 0] <= 1).all() and (s[:, 1] <= 2).all() and (s >= [-1, 0]).all()
