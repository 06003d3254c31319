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
