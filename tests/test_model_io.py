import json

import numpy as np
import pytest

from sim2sky.cases.sbibm import get_task
from sim2sky.core.errors import ModelFolderError
from sim2sky.infer.io import load_posterior, save_posterior
from sim2sky.infer.npe import NPE
from sim2sky.infer.train import TrainConfig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    task = get_task("two_moons")
    theta, x = task.sample_joint(1000, seed=0)
    cfg = TrainConfig(max_epochs=3, seed=0)
    npe = NPE(prior=task.prior, train_config=cfg).fit(theta.numpy(), x.numpy(), theta_names=["a", "b"], x_names=["u", "v"])
    folder = tmp_path_factory.mktemp("m") / "model"
    save_posterior(npe.posterior_, folder, cfg, npe.history_, provenance={"seed": 0})
    return npe, folder


def test_round_trip_gives_identical_samples(trained):
    npe, folder = trained
    loaded = load_posterior(folder)
    xo = np.array([0.1, -0.2], np.float32)
    assert np.array_equal(npe.posterior_.sample(xo, 500, seed=7), loaded.sample(xo, 500, seed=7))
    assert loaded.theta_names == ["a", "b"] and loaded.x_names == ["u", "v"]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["prior"]["kind"] == "box_uniform"
    assert cfg["provenance"]["seed"] == 0 and cfg["provenance"]["sim2sky"]
    assert cfg["training"]["config"]["max_epochs"] == 3


def _copy(folder, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


def test_missing_file(trained, tmp_path):
    d = _copy(trained[1], tmp_path)
    (d / "weights.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="missing weights.safetensors"):
        load_posterior(d)
    with pytest.raises(ModelFolderError, match="does not exist"):
        load_posterior(tmp_path / "nope")


def test_corrupt_config_and_weights(trained, tmp_path):
    d = _copy(trained[1], tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="not valid JSON"):
        load_posterior(d)
    d2 = _copy(trained[1], tmp_path / "b")
    raw = bytearray((d2 / "weights.safetensors").read_bytes())
    raw[-10:] = b"0123456789"
    (d2 / "weights.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFolderError, match="checksum"):
        load_posterior(d2)


def test_other_major_version_is_refused(trained, tmp_path):
    d = _copy(trained[1], tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["sim2sky_version"] = "99.0.0"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFolderError, match="sim2sky 99.0.0"):
        load_posterior(d)


def test_out_of_range_and_bad_observations(trained):
    from sim2sky.core.errors import InputError

    post = trained[0].posterior_
    with pytest.raises(InputError, match="outside the training range"):
        post.check_x(np.array([[50.0, 0.0]]))
    with pytest.raises(InputError, match="NaN or inf"):
        post.check_x(np.array([[np.nan, 0.0]]))
    with pytest.raises(InputError, match=r"shape \(m, 2\)"):
        post.check_x(np.zeros((3, 5)))


# --- nothing lost, nothing loaded in silence (issue 31, items 0 and 2) ---------------------------

def test_seal_covers_config_weights_and_side_files(trained, tmp_path):
    """Every file of a model folder is sealed: flipped weights with weights_sha256 removed, an
    edited config (labels swapped), an added or removed file are refused; 'sim2sky model seal'
    re-seals a folder edited on purpose."""
    from sim2sky.core.modelio import SEAL, seal_folder, verify_folder

    d = _copy(trained[1], tmp_path)
    verify_folder(d)
    cfg = json.loads((d / "config.json").read_text())
    # 1. weights flipped and the weights checksum removed from config.json
    del cfg["weights_sha256"]
    (d / "config.json").write_text(json.dumps(cfg))
    raw = bytearray((d / "weights.safetensors").read_bytes())
    raw[-4:] = bytes(255 - b for b in raw[-4:])
    (d / "weights.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFolderError, match=SEAL):
        load_posterior(d)
    seal_folder(d)                             # even re-sealed, weights without their checksum are refused
    with pytest.raises(ModelFolderError, match="no weights_sha256"):
        load_posterior(d)
    # 2. names swapped in config.json: refused until re-sealed on purpose
    d2 = _copy(trained[1], tmp_path / "b")
    cfg = json.loads((d2 / "config.json").read_text())
    cfg["parameters"]["names"] = cfg["parameters"]["names"][::-1]
    (d2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFolderError, match="config.json.*no longer match"):
        load_posterior(d2)
    # 3. an unlisted file, a missing seal
    d3 = _copy(trained[1], tmp_path / "c")
    (d3 / "extra.json").write_text("{}")
    with pytest.raises(ModelFolderError, match="does not list"):
        load_posterior(d3)
    (d3 / "extra.json").unlink()
    (d3 / SEAL).unlink()
    with pytest.raises(ModelFolderError, match="sim2sky model seal"):
        load_posterior(d3)
    # the documented command re-seals an edited folder, which then loads with its edit
    from typer.testing import CliRunner

    from sim2sky.cli import app

    res = CliRunner().invoke(app, ["model", "seal", str(d2)])
    assert res.exit_code == 0, res.output
    assert load_posterior(d2).theta_names == ["b", "a"]
    res = CliRunner().invoke(app, ["model", "verify", str(d2)])
    assert res.exit_code == 0 and "ok" in res.output
    (d2 / "config.json").write_text((d2 / "config.json").read_text() + " ")
    res = CliRunner().invoke(app, ["model", "verify", str(d2)])
    assert res.exit_code == 2 and "no longer match" in res.output


def test_shipped_model_folders_are_sealed():
    from importlib import resources

    from sim2sky.core.modelio import verify_folder

    root = resources.files("sim2sky") / "cases"
    folders = sorted({p.parent for p in __import__("pathlib").Path(str(root)).glob("*/models/*/config.json")})
    assert len(folders) >= 15
    for f in folders:
        verify_folder(f)


def test_model_folders_are_group_readable(trained, tmp_path):
    import os
    import stat

    from sim2sky.infer.io import save_posterior

    old = os.umask(0o022)
    try:
        folder = save_posterior(trained[0].posterior_, tmp_path / "m")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(folder.stat().st_mode)
    assert mode == 0o755, oct(mode)
    assert all(stat.S_IMODE(f.stat().st_mode) & 0o044 == 0o044 for f in folder.iterdir())


def test_a_user_folder_is_never_replaced(trained, tmp_path):
    """The exact case of the report: 'npe train proj/mydata/sims.npz --out proj' deleted the
    project folder and the input. Now it exits 2 and touches nothing, and so does the API."""
    from typer.testing import CliRunner

    from sim2sky.cli import app
    from sim2sky.core import OutputExistsError
    from sim2sky.infer.io import save_posterior

    proj = tmp_path / "proj"
    (proj / "mydata").mkdir(parents=True)
    (proj / "notes.txt").write_text("three years of notes")
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "sbibm", "two_moons", "--out", str(proj / "mydata" / "sims.npz"), "--num", "500"])
    assert res.exit_code == 0, res.output
    before = sorted((p.relative_to(proj).as_posix(), p.read_bytes()) for p in proj.rglob("*") if p.is_file())
    for out in (proj, proj / "mydata", proj / "notes.txt", proj / "notes.txt" / "m"):
        res = runner.invoke(app, ["npe", "train", str(proj / "mydata" / "sims.npz"), "--out", str(out),
                                  "--max-epochs", "1", "--no-progress"])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert res.output.count("error:") == 1 and "--out" in res.output, res.output
    after = sorted((p.relative_to(proj).as_posix(), p.read_bytes()) for p in proj.rglob("*") if p.is_file())
    assert after == before and not list(tmp_path.glob(".proj.*"))
    # '--out .' is refused (it would replace the folder the user stands in)
    import os

    cwd = os.getcwd()
    os.chdir(proj)
    try:
        res = runner.invoke(app, ["npe", "train", "mydata/sims.npz", "--out", ".", "--max-epochs", "1", "--no-progress"])
    finally:
        os.chdir(cwd)
    assert res.exit_code == 2 and "current folder" in res.output, res.output
    # the API refuses as well: save into a non-empty foreign folder
    with pytest.raises(OutputExistsError, match="not a sim2sky model folder"):
        save_posterior(trained[0].posterior_, proj)
    assert (proj / "notes.txt").read_text() == "three years of notes"
    # a model folder of the same kind: exit 2 without --overwrite, replaced with it
    model = tmp_path / "model"
    args = ["npe", "train", str(proj / "mydata" / "sims.npz"), "--out", str(model), "--max-epochs", "1", "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    first = (model / "config.json").read_text()
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--overwrite" in res.output, res.output
    assert (model / "config.json").read_text() == first
    res = runner.invoke(app, args + ["--overwrite"])
    assert res.exit_code == 0, res.output
    assert (model / "config.json").read_text() != first        # new provenance time, new folder
    load_posterior(model)
    # an empty folder is fine
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, args[:4] + [str(tmp_path / "empty")] + args[5:]).exit_code == 0
    # a model of another kind is not replaced, even with --overwrite
    res = runner.invoke(app, ["lightcurves", "train", "--out", str(model), "--overwrite", "--n-per-class", "5",
                              "--epochs", "1"])
    assert res.exit_code == 2 and "'npe'" in res.output, res.output
