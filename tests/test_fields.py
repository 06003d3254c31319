"""Fields case: simulators against their input power spectra, the exact Gaussian posterior, the field
flow's likelihood, the emulator's statistics, NPE on maps against the exact posterior, and the CLI."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sim2sky.cases.fields import (compare_fields, gaussian_fields, gaussian_posterior_samples, linear_power,
                                  lognormal_fields, minkowski_2d, phase_randomize, reion21cm_fields, sigma_tophat,
                                  simulate_fields)
from sim2sky.cli import app
from sim2sky.infer import NPE, NPEConfig, TrainConfig, BoxUniform, c2st
from sim2sky.learn import EmulatorConfig, FieldEmulator, FlowMatchingConfig, FlowMatchingEmulator
from sim2sky.nn import ConditionalUNet, FieldFlow, power_spectrum, shell_index

runner = CliRunner()
THETA = np.array([0.3, 0.8])


def test_camb_table_sigma8_and_shape():
    assert sigma_tophat(8.0, 0.3, 0.8) == pytest.approx(0.8, rel=2e-3)
    k = np.array([0.01, 0.1, 1.0])
    p_low, p_high = linear_power(k, [0.2, 0.4], 0.8)
    assert p_low[2] < p_high[2] and p_low[0] > p_high[0]      # matter-radiation equality shifts the turnover


@pytest.mark.parametrize("dim,size,box", [(2, 64, 256.0), (3, 32, 128.0)])
@pytest.mark.parametrize("make", [gaussian_fields, lognormal_fields])
def test_fields_have_the_input_power_spectrum(make, dim, size, box):
    fields = make(np.tile(THETA, (128, 1)), size, dim, box, rng=1)
    k, pk = power_spectrum(torch.as_tensor(fields, dtype=torch.float64), dim, box=box)
    target = linear_power(k.numpy(), *THETA)[0] / (20.0 if dim == 2 else 1.0)
    ratio = pk.mean(0).numpy() / target
    modes = torch.bincount(shell_index((size,) * dim)[0].flatten())[:-1].numpy() * len(fields) / 2
    tolerance = 4 * np.sqrt(2 / modes) + 0.02     # 4 sigma of the Gaussian sample variance (non-Gaussian: x2)
    assert np.all(np.abs(ratio - 1) < tolerance * (2 if make is lognormal_fields else 1)), ratio
    if make is lognormal_fields:
        assert fields.min() > -1.0 and abs(float(fields.mean())) < 0.02


def test_phase_randomize_keeps_power_spectrum_not_morphology():
    fields = lognormal_fields(np.tile(THETA, (8, 1)), 64, 2, 256.0, rng=0)
    shuffled = phase_randomize(fields, 2, rng=1)
    _, p1 = power_spectrum(torch.as_tensor(fields, dtype=torch.float64), 2)
    _, p2 = power_spectrum(torch.as_tensor(shuffled, dtype=torch.float64), 2)
    np.testing.assert_allclose(p2.numpy(), p1.numpy(), rtol=1e-4)
    skew = [float(((f - f.mean()) ** 3).mean() / f.std() ** 3) for f in (fields, shuffled)]
    assert skew[0] > 2.0 and abs(skew[1]) < 0.5
    nu = np.array([0.0, 1.0])
    assert not np.allclose(minkowski_2d(fields, nu)[2], minkowski_2d(shuffled, nu)[2], rtol=0.2)


def test_reionisation_responds_to_its_parameters():
    theta = np.array([[10.0, 5.0], [40.0, 5.0], [25.0, 4.6], [25.0, 5.4]])
    tb, xhi = reion21cm_fields(theta, size=24, box=96.0, rng=0, return_xhi=True)
    mean = xhi.mean((1, 2, 3))
    assert mean[0] > mean[1] + 0.2 and mean[3] > mean[2] + 0.2          # zeta ionises, T_vir delays
    assert (tb >= 0).all() and tb.max() < 120
    ionised = xhi == 0
    assert ionised.any() and (tb[ionised] == 0).all()


def test_exact_gaussian_posterior_is_calibrated():
    rng = np.random.default_rng(3)
    low, high = np.array([0.1, 0.6]), np.array([0.5, 1.0])
    theta = low + (high - low) * rng.random((60, 2))
    fields = gaussian_fields(theta, 32, 2, 256.0, noise=0.2, rng=4)
    inside = []
    for t, f in zip(theta, fields):
        s = gaussian_posterior_samples(f, 400, low, high, 256.0, noise=0.2, grid=60, rng=5)
        lo, hi = np.quantile(s, [0.16, 0.84], axis=0)
        inside.append((t > lo) & (t < hi))
    cover = np.mean(inside, 0)
    assert np.all(np.abs(cover - 0.68) < 0.15), cover


def test_field_flow_log_prob_is_a_change_of_variables():
    torch.manual_seed(0)
    flow = FieldFlow((4, 4), 2, layers=2, knots=4, bins=6, hidden=(8,))
    with torch.no_grad():
        for p in flow.conditioner.parameters():
            p.normal_(0, 0.3)
    x, theta = torch.randn(1, 4, 4, dtype=torch.float64), torch.tensor([[0.2, -0.1]], dtype=torch.float64)
    flow = flow.double()
    jac = torch.autograd.functional.jacobian(lambda v: flow.to_noise(v.reshape(1, 4, 4), theta)[0].flatten(), x.flatten())
    _, logdet = flow.to_noise(x, theta)
    assert logdet.detach().item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-6)
    # sampling inverts the flow: the noise drawn is recovered from the field made from it
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    field = flow.sample(theta, generator=g1)
    z = torch.randn((1, 4, 4), generator=g2, dtype=torch.float64)
    torch.testing.assert_close(flow.to_noise(field, theta)[0], z, atol=1e-6, rtol=1e-6)


@pytest.mark.slow
def test_emulator_reproduces_lognormal_statistics():
    sims = simulate_fields("lognormal", 1500, size=32, seed=0)
    emu = FieldEmulator(FieldFlow((32, 32), 2, layers=2, bins=16), EmulatorConfig(epochs=12, seed=0))
    emu.fit(sims["theta"], sims["x"])
    test = simulate_fields("lognormal", 300, size=32, seed=1, theta=np.tile(THETA, (300, 1)))
    report = compare_fields(test["x"], emu.sample(test["theta"], seed=2), 2)
    assert report["pk_max_error"] < 0.15, report["pk_ratio"]
    assert abs(report["std_emu"] / report["std_sim"] - 1) < 0.1
    # an emulator that ignores theta fails: sigma_8 must change the fields' variance
    lo, hi = emu.sample(np.tile([0.3, 0.65], (200, 1))), emu.sample(np.tile([0.3, 0.95], (200, 1)))
    assert hi.std() > 1.2 * lo.std()
    # exact likelihood: held-out fields are likelier at their own sigma_8 than at a wrong one
    # (per field: the mean gap, 9-13 nats, moved with the thread count; the per-field ordering held
    # for 98-100% of fields in every run, and an emulator that ignores theta scores 0)
    own = emu.log_prob(test["x"][:50], test["theta"][:50])
    wrong = [emu.log_prob(test["x"][:50], np.tile([0.3, s8], (50, 1))) for s8 in (0.65, 0.95)]
    assert np.mean((own > wrong[0]) & (own > wrong[1])) >= 0.9


def _smooth_fields(amplitude: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Periodic Gaussian fields with a Gaussian-shaped P(k), unit variance times ``amplitude``, plus 1."""
    rng = np.random.default_rng(seed)
    k2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None] ** 2
    g = np.fft.ifft2(np.fft.fft2(rng.standard_normal((len(amplitude), size, size))) * np.exp(-40 * k2)).real
    return (amplitude.reshape(-1, 1, 1) * g / g.std() + 1.0).astype(np.float32)


@pytest.mark.slow
def test_flow_matching_emulator_learns_the_conditional_field_distribution():
    # fields whose amplitude is the parameter: the emulator must get the amplitude and the
    # large-scale power right at three parameter values (an emulator that ignores theta, or a
    # sampler integrating the wrong way, is off by far more than the tolerance)
    torch.manual_seed(0)
    theta = np.random.default_rng(0).uniform(0.5, 2.0, (3000, 1)).astype(np.float32)
    emu = FlowMatchingEmulator(ConditionalUNet(2, 1, channels=(16, 32)),
                               FlowMatchingConfig(epochs=8, batch_size=64, steps=8, seed=0, num_threads=2))
    emu.fit(theta, _smooth_fields(theta, 16, seed=1))
    assert emu.history_["val_loss"][-1] < 0.8 * emu.history_["val_loss"][0]
    for amplitude in (0.6, 1.0, 1.8):
        fields = emu.sample(np.full((400, 1), amplitude, np.float32), seed=1)
        truth = _smooth_fields(np.full(400, amplitude), 16, seed=2)
        assert fields.std() == pytest.approx(amplitude, rel=0.15)
        assert fields.mean() == pytest.approx(1.0, abs=0.15)
        k, p_emu = power_spectrum(torch.as_tensor(fields - fields.mean()), 2)
        _, p_sim = power_spectrum(torch.as_tensor(truth - truth.mean()), 2)
        ratio = (p_emu.mean(0) / p_sim.mean(0))[:3]          # the shells that hold the power
        assert torch.all((ratio > 0.7) & (ratio < 1.3)), (amplitude, ratio)


def test_flow_matching_emulator_saves_loads_and_refuses_bad_settings(tmp_path):
    from sim2sky.core.errors import InputError

    theta = np.random.default_rng(0).uniform(0.5, 2.0, (40, 1)).astype(np.float32)
    emu = FlowMatchingEmulator(ConditionalUNet(2, 1, channels=(4, 8)), FlowMatchingConfig(epochs=1, steps=2))
    emu.fit(theta, _smooth_fields(theta, 8, seed=0))
    emu.save(tmp_path / "fm")
    again = FlowMatchingEmulator.load(tmp_path / "fm")
    np.testing.assert_allclose(emu.sample(theta[:3], seed=4), again.sample(theta[:3], seed=4), rtol=1e-5, atol=1e-5)
    for bad in ({"device": "tpu"}, {"steps": 0}, {"ema": 1.0}):
        with pytest.raises(InputError):
            FlowMatchingConfig(**bad)
    with pytest.raises(InputError, match="divisible"):
        ConditionalUNet(2, 1, channels=(4, 8, 16))(torch.zeros(1, 6, 6), torch.zeros(1), torch.zeros(1, 1))


@pytest.mark.slow
def test_npe_on_gaussian_maps_matches_exact_posterior():
    low, high = [0.1, 0.6], [0.5, 1.0]
    sims = simulate_fields("gaussian", 4000, size=32, noise=0.2, seed=0)
    npe = NPE(prior=BoxUniform(low, high), config=NPEConfig(embedding="powerspectrum"),
              train_config=TrainConfig(max_epochs=60, patience=10, seed=0)).fit(sims["theta"], sims["x"])
    obs = simulate_fields("gaussian", 3, size=32, noise=0.2, seed=7)
    scores = []
    for t, f in zip(obs["theta"], obs["x"]):
        ref = gaussian_posterior_samples(f.astype(float), 1000, low, high, 256.0, noise=0.2, grid=80, rng=0)
        q = npe.posterior_.sample(f[None], 1000, seed=0)
        scores.append(c2st(q.reshape(-1, 2), ref, seed=0))
    assert np.mean(scores) < 0.70, scores


def test_cli_simulate_train_sample_emulate(tmp_path):
    r = runner.invoke(app, ["simulate", "fields", "--kind", "lognormal", "--n", "200", "--size", "16", "--out",
                            str(tmp_path / "f.h5"), "--bounds-out", str(tmp_path / "b.json"), "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["npe", "train", str(tmp_path / "f.h5"), "--out", str(tmp_path / "npe"), "--embedding",
                            "powerspectrum", "--bounds", str(tmp_path / "b.json"), "--max-epochs", "2", "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["simulate", "fields", "--kind", "lognormal", "--n", "2", "--size", "16", "--seed", "3",
                            "--out", str(tmp_path / "obs.fits"), "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["npe", "sample", str(tmp_path / "npe"), str(tmp_path / "obs.fits"), "-n", "50",
                            "--csv", str(tmp_path / "s.csv"), "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["emulate", "train", str(tmp_path / "f.h5"), "--out", str(tmp_path / "emu"), "--epochs", "1",
                            "--layers", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["emulate", "sample", str(tmp_path / "emu"), "--theta", "0.3,0.8", "--n", "4", "--out",
                            str(tmp_path / "e.npz")])
    assert r.exit_code == 0, r.output
    assert np.load(tmp_path / "e.npz")["x"].shape == (4, 16, 16)
    r = runner.invoke(app, ["emulate", "check", str(tmp_path / "emu"), str(tmp_path / "obs.fits"), "--out",
                            str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    assert "pk_max_error" in json.loads((tmp_path / "c.json").read_text())
    r = runner.invoke(app, ["emulate", "train", str(tmp_path / "f.h5"), "--out", str(tmp_path / "fm"), "--method",
                            "flowmatch", "--channels", "4,8", "--epochs", "1", "--steps", "2", "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["emulate", "sample", str(tmp_path / "fm"), "--theta", "0.3,0.8", "--n", "3", "--out",
                            str(tmp_path / "fm.npz")])
    assert r.exit_code == 0, r.output
    assert np.load(tmp_path / "fm.npz")["x"].shape == (3, 16, 16)


def test_hybrid_embedding_saves_and_loads(tmp_path):
    from sim2sky.infer import load_posterior, save_posterior

    sims = simulate_fields("reion21cm", 64, size=16, box=64.0, noise=3.0, seed=0)
    npe = NPE(prior=BoxUniform([10.0, 4.6], [50.0, 5.4]), config=NPEConfig(embedding="cnn2d+powerspectrum"),
              train_config=TrainConfig(max_epochs=2, seed=0)).fit(sims["theta"], sims["x"])
    emb = npe.posterior_.estimator.embedding
    save_posterior(npe.posterior_, tmp_path / "m")
    again = load_posterior(tmp_path / "m")
    a = npe.posterior_.sample(sims["x"][0], 50, seed=3)
    b = again.sample(sims["x"][0], 50, seed=3)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert emb.out_features == 64                 # CNN features + P(k) features


def test_power_spectrum_embedding_does_not_depend_on_the_batch():
    # the log P(k) is standardised with statistics fixed from the training set, not per batch: a
    # field's features must be the same whatever else is in the batch, in training mode too (batch
    # statistics made 21-cm posteriors over-cover: 0.85 at the 68% level)
    from sim2sky.nn import PowerSpectrum

    fields = torch.as_tensor(simulate_fields("lognormal", 64, size=16, seed=0)["x"])
    emb = PowerSpectrum(16, 8, dim=2)
    emb.set_standardization(fields)
    filled = emb.norm.running_var > 1e-6                   # shells beyond the grid's corner hold no modes
    z = ((emb.log_power(fields) - emb.norm.running_mean) / emb.norm.running_var.sqrt())[:, filled]
    assert filled.sum() >= 10 and z.mean(0).abs().max() < 1e-4 and (z.std(0) - 1).abs().max() < 0.02
    emb.train()
    alone, mixed = emb(fields[:4]), emb(torch.cat([fields[:4], 3 * fields[4:]]))[:4]
    torch.testing.assert_close(alone, mixed)


def test_cli_bad_inputs_exit_2(tmp_path):
    cases = [["simulate", "fields", "--kind", "reion", "--n", "2", "--out", str(tmp_path / "a.npz")],
             ["simulate", "fields", "--kind", "reion21cm", "--dim", "2", "--n", "2", "--out", str(tmp_path / "a.npz")],
             ["simulate", "fields", "--n", "2", "--size", "15", "--out", str(tmp_path / "a.npz")],
             ["simulate", "fields", "--n", "2", "--out", str(tmp_path / "a.txt")]]
    for args in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
    bad = simulate_fields("gaussian", 20, size=8)
    bad["x"][3, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", theta=bad["theta"], x=bad["x"])
    r = runner.invoke(app, ["emulate", "train", str(tmp_path / "nan.npz"), "--out", str(tmp_path / "e"), "--no-progress"])
    assert r.exit_code == 2 and "NaN" in r.output
    np.savez(tmp_path / "flat.npz", theta=bad["theta"], x=bad["x"].reshape(20, -1))
    r = runner.invoke(app, ["emulate", "train", str(tmp_path / "flat.npz"), "--out", str(tmp_path / "e"), "--no-progress"])
    assert r.exit_code == 2 and "maps" in r.output
    good = simulate_fields("gaussian", 20, size=8)
    np.savez(tmp_path / "g.npz", theta=good["theta"], x=good["x"])
    assert runner.invoke(app, ["emulate", "train", str(tmp_path / "g.npz"), "--out", str(tmp_path / "e"), "--epochs",
                               "1", "--no-progress"]).exit_code == 0
    for args in (["--method", "diffusion"], ["--method", "flowmatch", "--channels", "4,8,16,32,64"],
                 ["--method", "flowmatch", "--channels", "a"], ["--method", "flowmatch", "--device", "tpu"]):
        r = runner.invoke(app, ["emulate", "train", str(tmp_path / "g.npz"), "--out", str(tmp_path / "e2"), "--epochs",
                                "1", "--no-progress", *args])
        assert r.exit_code == 2, (args, r.output)
    for args in (["--theta", "0.3"], ["--theta", "0.3,9.0"], ["--theta", "a,b"]):
        r = runner.invoke(app, ["emulate", "sample", str(tmp_path / "e"), "--out", str(tmp_path / "o.npz"), *args])
        assert r.exit_code == 2, (args, r.output)


def test_simulation_on_a_dask_cluster_gives_the_local_fields(tmp_path):
    from distributed import LocalCluster

    from sim2sky.cases.fields import read_fields, simulate_fields

    local = simulate_fields("lognormal", 1100, size=16, dim=2, seed=7)            # 3 blocks of <= 512
    assert not np.array_equal(local["x"][:100], local["x"][512:612])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dist = simulate_fields("lognormal", 1100, size=16, dim=2, seed=7, scheduler=cluster.scheduler_address)
        r = runner.invoke(app, ["simulate", "fields", "--kind", "lognormal", "--n", "600", "--size", "16", "--dim", "2",
                                "--seed", "7", "--out", str(tmp_path / "f.npz"), "--no-progress",
                                "--scheduler", cluster.scheduler_address])
        assert r.exit_code == 0, r.output
    assert np.array_equal(local["x"], dist["x"]) and np.array_equal(local["theta"], dist["theta"])
    assert np.array_equal(read_fields(tmp_path / "f.npz")["x"], simulate_fields("lognormal", 600, size=16, dim=2, seed=7)["x"])
    r = runner.invoke(app, ["simulate", "fields", "--n", "10", "--size", "16", "--dim", "2", "--out", str(tmp_path / "g.npz"),
                            "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "scheduler" in r.output
