import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sim2sky import __version__
from sim2sky.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help():
    r = run("--version")
    assert r.exit_code == 0 and __version__ in r.output
    for cmd in ([], ["npe"], ["npe", "train"], ["npe", "sample"], ["npe", "check"], ["simulate", "sbibm"], ["demo"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0, (cmd, r.output)
        assert "Usage" in r.output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert run("simulate", "sbibm", "two_moons", "--num", 2000, "--out", d / "sims.npz", "--bounds-out", d / "bounds.json").exit_code == 0
    assert run("simulate", "sbibm", "two_moons", "--num", 300, "--seed", 9, "--out", d / "test.npz").exit_code == 0
    r = run("npe", "train", d / "sims.npz", "--out", d / "model", "--bounds", d / "bounds.json", "--max-epochs", 8, "--no-progress")
    assert r.exit_code == 0, r.output
    return d


def test_train_sample_check(workdir):
    d = workdir
    np.savez(d / "obs.npz", x=np.array([[0.1, 0.2], [-0.3, 0.1]], np.float32))
    r = run("npe", "sample", d / "model", d / "obs.npz", "-n", 300, "--out", d / "s.npz", "--csv", d / "summary.csv", "--no-progress")
    assert r.exit_code == 0, r.output
    s = np.load(d / "s.npz")
    assert s["samples"].shape == (2, 300, 2)
    lines = (d / "summary.csv").read_text().splitlines()
    assert lines[0] == "obs,parameter,mean,std,q16,q50,q84" and len(lines) == 5
    r = run("npe", "check", d / "model", d / "test.npz", "--out", d / "check", "--num-sims", 100, "--num-samples", 100)
    assert r.exit_code == 0, r.output
    rep = json.loads((d / "check" / "check.json").read_text())
    assert rep["num_sims"] == 100 and len(rep["coverage"]) == 21
    assert (d / "check" / "coverage.png").stat().st_size > 1000


def test_lognormal_prior_task_round_trip(tmp_path):
    """An ODE task with a log-normal prior: the prior JSON written by simulate is read by train,
    and every posterior sample is positive."""
    d = tmp_path
    assert run("simulate", "sbibm", "sir", "--num", 1500, "--out", d / "sir.npz", "--bounds-out", d / "prior.json").exit_code == 0
    assert json.loads((d / "prior.json").read_text())["kind"] == "lognormal"
    r = run("npe", "train", d / "sir.npz", "--out", d / "m", "--bounds", d / "prior.json", "--max-epochs", 4, "--no-progress")
    assert r.exit_code == 0, r.output
    np.savez(d / "obs.npz", x=np.load(d / "sir.npz")["x"][:2])
    r = run("npe", "sample", d / "m", d / "obs.npz", "-n", 200, "--out", d / "s.npz", "--no-progress")
    assert r.exit_code == 0, r.output
    assert (np.load(d / "s.npz")["samples"] > 0).all()
    (d / "bad.json").write_text('{"kind": "lognormal", "loc": [0, 0]}')
    r = run("npe", "train", d / "sir.npz", "--out", d / "m2", "--bounds", d / "bad.json", "--no-progress")
    assert r.exit_code == 2 and "log-normal prior needs" in r.output


def test_table_inputs(workdir, tmp_path):
    from astropy.table import Table

    sims = np.load(workdir / "sims.npz")
    t = Table({"Z": sims["theta"][:, 0], "logU": sims["theta"][:, 1], "f1": sims["x"][:, 0], "f2": sims["x"][:, 1]})
    t.write(tmp_path / "sims.fits")
    t.write(tmp_path / "sims.parquet")
    for f in ("sims.fits", "sims.parquet"):
        r = run("npe", "train", tmp_path / f, "--out", tmp_path / f"m_{f}", "--theta-cols", "Z,logU", "--x-cols", "f1,f2",
                "--max-epochs", 2, "--no-progress")
        assert r.exit_code == 0, r.output
    # observations as a table with the model's feature names
    Table({"f1": [0.1], "f2": [0.0]}).write(tmp_path / "obs.csv", format="ascii.csv")
    r = run("npe", "sample", tmp_path / "m_sims.fits", tmp_path / "obs.csv", "-n", 50, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "logU" in r.output
    # a misspelt column gets a suggestion
    r = run("npe", "train", tmp_path / "sims.fits", "--out", tmp_path / "x", "--theta-cols", "Z,logu", "--x-cols", "f1,f2")
    assert r.exit_code == 2 and "did you mean 'logU'" in r.output


@pytest.mark.parametrize("case", ["shape", "nan", "rows", "bounds", "obs_shape", "obs_range", "missing", "bad_json"])
def test_bad_input_exits_2_without_traceback(case, workdir, tmp_path):
    d = workdir
    rng = np.random.default_rng(0)
    if case == "shape":
        np.savez(tmp_path / "b.npz", theta=rng.normal(size=(100, 2, 2)), x=rng.normal(size=(100, 2)))
        args = ("npe", "train", tmp_path / "b.npz", "--out", tmp_path / "m")
    elif case == "nan":
        th, x = rng.uniform(-1, 1, (100, 2)), rng.normal(size=(100, 2))
        x[7, 1] = np.nan
        np.savez(tmp_path / "b.npz", theta=th, x=x)
        args = ("npe", "train", tmp_path / "b.npz", "--out", tmp_path / "m")
    elif case == "rows":
        np.savez(tmp_path / "b.npz", theta=rng.normal(size=(100, 2)), x=rng.normal(size=(90, 2)))
        args = ("npe", "train", tmp_path / "b.npz", "--out", tmp_path / "m")
    elif case == "bounds":
        np.savez(tmp_path / "b.npz", theta=rng.normal(size=(100, 2)) * 5, x=rng.normal(size=(100, 2)))
        args = ("npe", "train", tmp_path / "b.npz", "--out", tmp_path / "m", "--bounds", d / "bounds.json")
    elif case == "obs_shape":
        np.savez(tmp_path / "o.npz", x=np.zeros((3, 4)))
        args = ("npe", "sample", d / "model", tmp_path / "o.npz")
    elif case == "obs_range":
        np.savez(tmp_path / "o.npz", x=np.array([[40.0, 0.0]]))
        args = ("npe", "sample", d / "model", tmp_path / "o.npz")
    elif case == "missing":
        args = ("npe", "sample", tmp_path / "no_model", d / "sims.npz")
    else:
        (tmp_path / "bounds.json").write_text("{low: 1")
        args = ("npe", "train", d / "sims.npz", "--out", tmp_path / "m", "--bounds", tmp_path / "bounds.json")
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m").exists()  # nothing half-written


@pytest.mark.slow
@pytest.mark.parametrize("channel_axis", [False, True])
def test_cnn2d_embedding_from_the_cli(tmp_path, channel_axis):
    # maps of a tilted plane theta_0 * x + theta_1 * y + noise: a CNN embedding trained with the flow
    # must recover both slopes (posterior means well inside the prior); (n, 1, H, W) and (n, H, W) alike
    rng = np.random.default_rng(0)
    n = 2000
    theta = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    x = theta[:, 0, None, None] * xx + theta[:, 1, None, None] * yy + 0.1 * rng.standard_normal((n, 16, 16))
    x = (x[:, None] if channel_axis else x).astype(np.float32)
    np.savez(tmp_path / "sims.npz", theta=theta[:1800], x=x[:1800])
    np.savez(tmp_path / "obs.npz", x=x[1800:])
    (tmp_path / "b.json").write_text(json.dumps({"low": [-1, -1], "high": [1, 1]}))
    r = run("npe", "train", tmp_path / "sims.npz", "--out", tmp_path / "m", "--embedding", "cnn2d", "--bounds",
            tmp_path / "b.json", "--max-epochs", 40, "--learning-rate", 3e-3, "--no-progress")
    assert r.exit_code == 0, r.output
    r = run("npe", "sample", tmp_path / "m", tmp_path / "obs.npz", "-n", 200, "--out", tmp_path / "s.npz", "--no-progress")
    assert r.exit_code == 0, r.output
    mean = np.load(tmp_path / "s.npz")["samples"].mean(1)
    rms = np.sqrt(np.mean((mean - theta[1800:]) ** 2, 0))
    assert np.all(rms < 0.25), rms                    # prior sd 0.58; a broken embedding gives ~0.58
    r = run("npe", "train", tmp_path / "sims.npz", "--out", tmp_path / "m3", "--embedding", "cnn3d", "--bounds",
            tmp_path / "b.json", "--max-epochs", 1, "--no-progress")
    assert r.exit_code == 2 and "cnn3d" in r.output and not (tmp_path / "m3").exists()


@pytest.mark.slow
def test_sampling_on_a_dask_cluster_is_identical(workdir, tmp_path):
    from distributed import LocalCluster

    from sim2sky.infer.api import sample_observations

    x = np.random.default_rng(3).uniform(-0.3, 0.3, (9000, 2)).astype(np.float32)    # 3 chunks of <= 4096
    local = sample_observations(workdir / "model", x, 50, seed=4)
    assert local.shape == (9000, 50, 2) and np.isfinite(local).all()
    assert not np.array_equal(local[:4096], local[4096:8192])          # chunks draw different streams
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dist = sample_observations(workdir / "model", x, 50, seed=4, scheduler=cluster.scheduler_address)
        np.savez(tmp_path / "obs.npz", x=x[:100])
        r = run("npe", "sample", workdir / "model", tmp_path / "obs.npz", "-n", 50, "--out", tmp_path / "s.npz",
                "--seed", 4, "--scheduler", cluster.scheduler_address, "--no-progress")
        assert r.exit_code == 0, r.output
    assert np.array_equal(local, dist)
    assert np.array_equal(np.load(tmp_path / "s.npz")["samples"], sample_observations(workdir / "model", x[:100], 50, seed=4))
    r = run("npe", "sample", workdir / "model", tmp_path / "obs.npz", "--scheduler", "tcp://127.0.0.1:1", "--no-progress")
    assert r.exit_code == 2 and "scheduler" in r.output


def test_help_imports_no_torch():
    """'sim2sky --help' and every '<command> --help' load neither torch nor a case's libraries
    (it took 3.3 s with torch; 0.6 s without, measured on the 2-core CI machine)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import typer.main\n"
        "from sim2sky.cli import app\n"
        "group = typer.main.get_command(app)\n"
        "paths = [[]] + [[n] for n in group.commands] + [[n, s] for n, c in group.commands.items() "
        "for s in getattr(c, 'commands', {})]\n"
        "for p in paths:\n"
        "    r = CliRunner().invoke(app, p + ['--help'])\n"
        "    assert r.exit_code == 0, (p, r.output)\n"
        "heavy = sorted(m for m in ('torch', 'zuko', 'galsim', 'finufft', 'shap', 'umap', 'sklearn', 'dask')"
        " if m in sys.modules)\n"
        "print(len(paths), heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    n, heavy = r.stdout.split(maxsplit=1)
    assert int(n) > 40 and heavy.strip() == "[]", r.stdout


def test_parquet_tables_keep_their_units(tmp_path):
    """Parquet is read by astropy's own reader: units written by astropy come back (the
    hand-written pyarrow reader dropped them), and a line table's SIGMA in m/s is converted."""
    import astropy.units as u
    from astropy.table import QTable

    from sim2sky.core.tables import read_table

    t = QTable({"HA6563": [3.0, 2.0] * u.erg / u.s / u.cm**2, "SIGMA": [30000.0, 50000.0] * u.m / u.s})
    t.write(tmp_path / "t.parquet")
    back = read_table(tmp_path / "t.parquet")
    assert back["SIGMA"].unit == u.m / u.s and back["HA6563"].unit == u.erg / u.s / u.cm**2
    from sim2sky.cases.nebulae.linetable import _numeric

    np.testing.assert_allclose(_numeric(back, "SIGMA", "SIGMA"), [30.0, 50.0])
