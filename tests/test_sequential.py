"""Truncated sequential NPE: the truncation region shrinks around the observation, the final
posterior matches the analytic one, it is calibrated on the truncated prior, and bad settings
are refused."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import needs

from sim2sky.core.errors import InputError
from sim2sky.cli import app
from sim2sky.infer import TSNPE, BoxUniform, TrainConfig, expected_coverage

runner = CliRunner()

SIGMA = 0.2
PRIOR = BoxUniform([-3.0, -3.0], [3.0, 3.0])


def simulator(theta, generator=None):
    return theta + SIGMA * torch.randn(theta.shape, generator=generator)


@pytest.fixture(scope="module")
def fitted():
    x_obs = np.array([0.7, -1.2], np.float32)
    ts = TSNPE(PRIOR, simulator, rounds=3, simulations_per_round=1000, train_config=TrainConfig(seed=0))
    return x_obs, ts.fit(x_obs, seed=0)


def test_truncation_shrinks_and_keeps_the_posterior(fitted):
    x_obs, ts = fitted
    assert [r["simulations"] for r in ts.rounds_] == [1000, 2000, 3000]
    assert ts.rounds_[0]["prior_volume"] == 1.0 and ts.rounds_[-1]["prior_volume"] < 0.5
    theta = ts.proposal_.sample(2000, torch.Generator().manual_seed(1))
    lp = ts.posterior_.log_prob(theta.numpy(), np.repeat(x_obs[None], len(theta), 0))
    assert (lp >= ts.proposal_.threshold).all() and bool(PRIOR.contains(theta).all())
    assert (np.abs(theta.numpy() - x_obs) > 2.5 * SIGMA).any()       # the region does not cut into the posterior


def test_posterior_matches_the_analytic_one(fitted):
    x_obs, ts = fitted
    s = ts.posterior_.sample(x_obs, 4000, seed=2)                  # flat prior, Gaussian likelihood: N(x_obs, SIGMA^2)
    assert np.abs(s.mean(0) - x_obs).max() < 0.35 * SIGMA
    assert np.all((s.std(0) > 0.8 * SIGMA) & (s.std(0) < 1.3 * SIGMA))


def test_calibrated_on_the_truncated_prior(fitted):
    _, ts = fitted
    theta = ts.proposal_.sample(200, torch.Generator().manual_seed(3))
    x = simulator(theta, torch.Generator().manual_seed(4)).numpy()
    levels, cov = expected_coverage(ts.posterior_, theta.numpy(), x, num_samples=300, levels=np.array([0.5, 0.68, 0.9]))
    assert np.abs(cov - levels).max() < 0.1


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="epsilon"):
        TSNPE(PRIOR, simulator, epsilon=0.0).fit(np.zeros(2, np.float32))


@needs("sbibm")
def test_cli_sequential_on_a_benchmark_observation(tmp_path):
    out = tmp_path / "ts"
    r = runner.invoke(app, ["npe", "sequential", "two_moons", "--observation", "1", "--rounds", "2",
                            "--simulations", "400", "--coverage-sims", "100", "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "sequential.json").read_text())
    assert [row["simulations"] for row in report["rounds"]] == [400, 800]
    assert report["rounds"][1]["prior_volume"] < 0.9 and report["c2st"] < 0.9
    assert report["coverage_max_error_truncated_prior"] < 0.25
    obs = tmp_path / "obs.npz"
    np.savez(obs, x=np.zeros((1, 2), np.float32))
    r = runner.invoke(app, ["npe", "sample", str(out), str(obs), "--num-samples", "50", "--out", str(tmp_path / "s.npz")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["npe", "sequential", "two_moons", "--observation", "11", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--observation" in r.output and "less than or equal to 10" in r.output
