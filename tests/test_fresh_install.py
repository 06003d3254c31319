"""A user with nothing but ``pip install``: build the wheel, install it into a new virtual
environment, run the demo from an empty folder with no data mirror and no user cache."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd, cwd, env, timeout=900):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    base = tmp_path_factory.mktemp("fresh")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIM2SKY_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(base / "home"), XDG_CACHE_HOME=str(base / "home/.cache"), MPLBACKEND="Agg")
    # pip keeps its own cache of downloaded wheels, so a reinstall needs no network beyond the first
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", base / "dist",
              ROOT], ROOT, env)
    assert r.returncode == 0, r.stderr[-3000:]
    wheel = next((base / "dist").glob("sim2sky-*.whl"))
    r = _run([sys.executable, "-m", "venv", base / "venv"], base, env)
    assert r.returncode == 0, r.stderr
    pip = base / "venv/bin/pip"
    r = _run([pip, "install", "-q", "-c", ROOT / "constraints.txt", wheel], base, env)
    assert r.returncode == 0, r.stderr[-3000:]
    work = base / "empty"
    work.mkdir()
    return base / "venv/bin/sim2sky", work, env


def test_demo_runs_from_the_wheel_alone(fresh):
    sim2sky, work, env = fresh
    r = _run([sim2sky, "demo", "--out", "d", "--size", 48, "--no-progress"], work, env, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    for f in ("mock_cube.fits", "classes.fits", "params.fits", "nebulae.csv", "report.html"):
        assert (work / "d" / f).is_file(), f
    assert "accuracy / macro-F1" in r.stdout


def test_other_commands_need_no_shared_data(fresh, tmp_path):
    sim2sky, work, env = fresh
    r = _run([sim2sky, "simulate", "nebulae", "--out", "t.csv", "--n-per-class", 20], work, env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run([sim2sky, "nebulae", "classify", "t.csv", "--out", "c.csv"], work, env)
    assert r.returncode == 0, r.stderr[-2000:]


def test_missing_dataset_is_one_error_line(fresh):
    sim2sky, work, env = fresh
    r = _run([sim2sky, "data", "path", "muse"], work, env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "sim2sky data fetch muse" in " ".join(r.stderr.split()) and "Traceback" not in r.stderr
    r = _run([sim2sky, "data", "list"], work, env)
    assert r.returncode == 0 and "missing" in r.stdout
    r = _run([sim2sky, "simulate", "sbibm", "two_moons", "--num", 100, "--out", "s.npz", "--observations-out", "o.npz"],
             work, env)
    assert r.returncode == 2 and "sim2sky data fetch sbibm" in " ".join(r.stderr.split()), r.stderr
    assert not (work / "s.npz").exists()
