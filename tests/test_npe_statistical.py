"""Statistical correctness of the NPE engine against exact posteriors.

Tolerances were set so that a posterior that ignores the observation, or one with the wrong
width, fails (checked in the same tests).
"""

import numpy as np
import pytest
import torch

from sim2sky.cases.sbibm import gaussian_linear_task, get_task
from sim2sky.infer.diagnostics import c2st, coverage_error, expected_coverage, tarp
from sim2sky.infer.npe import NPE, NPEConfig
from sim2sky.infer.train import TrainConfig

pytestmark = pytest.mark.slow

FAST = TrainConfig(batch_size=256, learning_rate=2e-3, max_epochs=60, patience=10, seed=0)


@pytest.fixture(scope="module")
def gaussian_3d():
    # the sbibm budget (10^4 simulations) and the default training settings: what a user gets
    task = gaussian_linear_task(3)
    theta, x = task.sample_joint(10_000, seed=0)
    npe = NPE(prior=task.prior, train_config=TrainConfig(seed=0)).fit(theta.numpy(), x.numpy())
    return task, npe


def test_c2st_against_analytic_posterior(gaussian_3d):
    task, npe = gaussian_3d
    scores, broken = [], []
    for i, seed in enumerate((11, 12, 13)):
        theta0 = task.prior.sample(1, torch.Generator().manual_seed(seed))
        x0 = task.simulate(theta0, torch.Generator().manual_seed(seed + 1))
        exact = task.analytic_posterior(x0[0]).sample((3000,)).numpy()
        ours = npe.posterior_.sample(x0[0].numpy(), 3000, seed=i)
        scores.append(c2st(exact, ours))
        # a broken posterior (twice too wide) must be detected by the same test
        wide = exact.mean(0) + 2.0 * (exact - exact.mean(0))
        broken.append(c2st(exact, wide))
    assert np.mean(scores) < 0.58, scores
    assert np.mean(broken) > 0.62, broken


def test_posterior_moments_match_analytic(gaussian_3d):
    task, npe = gaussian_3d
    x0 = np.array([[0.3, -0.5, 0.1]], np.float32)
    s = npe.posterior_.sample(x0[0], 5000, seed=0)
    assert np.allclose(s.mean(0), x0[0] / 2, atol=0.03)
    assert np.allclose(s.std(0), np.sqrt(0.05), rtol=0.15)
    assert np.allclose(npe.posterior_.map(x0[0]), x0[0] / 2, atol=0.08)  # Gaussian: mode = mean
    lo, hi = npe.posterior_.credible_interval(s[None], level=0.68)
    assert np.all((hi - lo)[0] > 0.3) and np.all((hi - lo)[0] < 0.6)  # +-1 sigma = 0.447 wide


def test_auto_flow_is_chosen_by_validation_loss(gaussian_3d):
    """3-5 parameters: a spline flow and three MAFs are both trained and the lower held-out loss
    wins: the MAFs on a Gaussian posterior (measured KL to the exact one 0.010 vs 0.037 nats),
    the spline on SLCP's four-mode posterior (C2ST 0.89 vs 0.95)."""
    _, npe = gaussian_3d
    cands = npe.history_["candidates"]
    assert [(c["flow"], c["ensemble"]) for c in cands] == [("nsf", 1), ("maf", 3)]
    assert npe.estimator_.config.flow == "maf" and cands[1]["val_loss"] < cands[0]["val_loss"]
    task = get_task("slcp")
    theta, x = task.sample_joint(3000, seed=1)
    slcp = NPE(prior=task.prior, train_config=TrainConfig(seed=1)).fit(theta.numpy(), x.numpy())
    losses = [c["val_loss"] for c in slcp.history_["candidates"]]
    assert slcp.estimator_.config.flow == "nsf" and losses[1] - losses[0] > 0.3    # measured 0.59


def test_expected_coverage_is_calibrated(gaussian_3d):
    task, npe = gaussian_3d
    theta, x = task.sample_joint(300, seed=99)
    levels, cov = expected_coverage(npe.posterior_, theta.numpy(), x.numpy(), num_samples=300)
    assert coverage_error(levels, cov) < 0.1
    samples = npe.posterior_.sample_batched(x.numpy(), 300, seed=1)
    tl, ecp = tarp(samples, theta.numpy())
    assert coverage_error(tl, ecp) < 0.1
    # an overconfident posterior (samples shrunk to 40% width) is flagged by both
    shrunk = samples.mean(1, keepdims=True) + 0.4 * (samples - samples.mean(1, keepdims=True))
    tl, ecp = tarp(shrunk, theta.numpy())
    assert coverage_error(tl, ecp) > 0.2


def test_box_prior_samples_never_leave_the_box():
    task = gaussian_linear_task(2, uniform=True)
    theta, x = task.sample_joint(3000, seed=0)
    npe = NPE(prior=task.prior, train_config=TrainConfig(max_epochs=15, seed=0)).fit(theta.numpy(), x.numpy())
    # observations at the edge of the box put much posterior mass near the bounds
    xs = np.array([[0.98, -0.97], [1.2, 1.1], [-1.3, 0.0]], np.float32)
    s = npe.posterior_.sample_batched(xs, 20000, seed=0)
    assert (s >= -1).all() and (s <= 1).all()
    assert np.isfinite(npe.posterior_.log_prob(s[:, :5].transpose(1, 0, 2), xs)).all()


def test_training_is_reproducible_with_a_seed():
    task = gaussian_linear_task(2)
    theta, x = task.sample_joint(1000, seed=0)
    cfg = TrainConfig(max_epochs=5, seed=3)
    a = NPE(prior=task.prior, train_config=cfg).fit(theta.numpy(), x.numpy())
    b = NPE(prior=task.prior, train_config=cfg).fit(theta.numpy(), x.numpy())
    assert a.history_["val_loss"] == b.history_["val_loss"]


def test_maf_and_embeddings_train(tmp_path):
    task = gaussian_linear_task(2)
    theta, x = task.sample_joint(1500, seed=0)
    for cfg in (NPEConfig(flow="maf"), NPEConfig(embedding="mlp", embedding_dim=8)):
        npe = NPE(prior=task.prior, config=cfg, train_config=TrainConfig(max_epochs=30, seed=0)).fit(theta.numpy(), x.numpy())
        s = npe.posterior_.sample(np.array([0.2, -0.2], np.float32), 2000, seed=0)
        assert np.allclose(s.mean(0), [0.1, -0.1], atol=0.1)


def test_cnn1d_embedding_on_spectra():
    # theta = (line centre, amplitude) of a Gaussian line in a 64-channel noisy spectrum
    g = torch.Generator().manual_seed(0)
    n, grid = 3000, torch.linspace(0, 1, 64)
    theta = torch.rand(n, 2, generator=g) * torch.tensor([0.6, 2.0]) + torch.tensor([0.2, 1.0])
    x = theta[:, 1:] * torch.exp(-0.5 * ((grid - theta[:, :1]) / 0.03) ** 2) + 0.1 * torch.randn(n, 64, generator=g)
    from sim2sky.infer.priors import BoxUniform

    prior = BoxUniform([0.2, 1.0], [0.8, 3.0])
    npe = NPE(prior=prior, config=NPEConfig(embedding="cnn1d", embedding_dim=16),
              train_config=TrainConfig(max_epochs=25, learning_rate=2e-3, seed=0)).fit(theta.numpy(), x.numpy())
    s = npe.posterior_.sample_batched(x[:50].numpy(), 200, seed=0)
    err = np.abs(s.mean(1)[:, 0] - theta[:50, 0].numpy())
    assert np.median(err) < 0.02  # the line centre is recovered to < 1.3 channels


def test_training_streams_from_memmap(tmp_path):
    # simulations on disk, opened as memory maps: trained block by block, not loaded whole
    task = gaussian_linear_task(2)
    theta, x = task.sample_joint(4000, seed=0)
    np.save(tmp_path / "theta.npy", theta.numpy())
    x_np = x.numpy().copy()
    x_np[17] = np.nan  # an invalid row inside a block is skipped while streaming
    np.save(tmp_path / "x.npy", x_np)
    t_mm = np.load(tmp_path / "theta.npy", mmap_mode="r")
    x_mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    npe = NPE(prior=task.prior, train_config=TrainConfig(max_epochs=40, learning_rate=2e-3, seed=0)).fit(t_mm, x_mm)
    assert npe.history_["n_train"] == 3600
    s = npe.posterior_.sample(np.array([0.2, -0.2], np.float32), 3000, seed=0)
    assert np.allclose(s.mean(0), [0.1, -0.1], atol=0.06)


def test_truncated_posterior_in_10d_gaussian_linear_uniform():
    """sbibm's gaussian_linear_uniform: N(x, 0.1 I) cut by the box [-1, 1]^10, exact density known.

    Held-out KL(p || q) over the prior predictive, 10^4 simulations, defaults: 0.20 nats with the
    Gaussian-tailed box map, 0.33 with the exponential one used before (so 0.26 separates them)."""
    from sim2sky.cases.sbibm import get_task

    task = get_task("gaussian_linear_uniform")
    theta, x = task.sample_joint(10_000, seed=1)
    npe = NPE(prior=task.prior, train_config=TrainConfig(seed=1)).fit(theta.numpy(), x.numpy())
    t, xt = task.sample_joint(2000, seed=7)
    sd, unit = 0.1 ** 0.5, torch.distributions.Normal(0.0, 1.0)
    log_p = (torch.distributions.Normal(xt, sd).log_prob(t).sum(-1)
             - (unit.cdf((1 - xt) / sd) - unit.cdf((-1 - xt) / sd)).log().sum(-1))
    with torch.no_grad():
        kl = (log_p - npe.estimator_(xt).log_prob(t)).mean().item()
    assert kl < 0.26
