"""Deblending: the GalSim simulator's truth, the generic segmenter, the shipped deblender's photometry on held-out
blends against photutils, and the FITS command (catalogue + segmentation with WCS, bad inputs)."""

import json

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from sim2sky.cases.blends import (SURVEY, deblend, load_models, match_positions, photutils_deblend, simulate_blends,
                                  simulate_blends_file, simulate_field)
from sim2sky.cli import app
from sim2sky.learn import Segmenter, SegmenterConfig
from sim2sky.nn import UNet

runner = CliRunner()


def test_blend_truth_adds_up():
    images, isolated, truth = simulate_blends(40, seed=3)
    present = truth["present"]
    assert np.all(truth["flux"][~present] == 0)
    expected = SURVEY.flux(truth["mag"][present])
    # the isolated images hold the rendered flux (a little falls outside large galaxies' stamps)
    ratio = truth["flux"][present] / expected
    assert np.all(ratio < 1.001) and np.median(ratio) > 0.97
    resid = images - isolated.sum(1)
    assert resid.std() == pytest.approx(SURVEY.noise, rel=0.05)


def test_segmenter_learns_a_dense_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 1, 16, 16)).astype(np.float32)
    from scipy import ndimage

    y = (ndimage.uniform_filter(x[:, 0], (1, 3, 3)) > 0.2).astype(np.float32)
    seg = Segmenter(UNet(2, 1, 1, (8, 16)), SegmenterConfig(epochs=15, batch_size=32, learning_rate=1e-2)).fit(x, y)
    acc = ((seg.predict_proba(x[:64]) > 0.5) == (y[:64] > 0.5)).mean()
    assert acc > 0.93, acc
    assert seg.history_["loss"][-1] < 0.6 * seg.history_["loss"][0]


@pytest.mark.slow
def test_shipped_deblender_photometry_beats_photutils_on_held_out_pairs():
    images, isolated, truth = simulate_blends(300, seed=9090, p_objects=(0.0, 1.0, 0.0))
    models = load_models()
    ours, peer = [], []
    for i in range(len(images)):
        xt, yt, ft = truth["x"][i, :2], truth["y"][i, :2], truth["flux"][i, :2]
        res = deblend(images[i], SURVEY.noise, models)["catalogue"]
        p = photutils_deblend(images[i], SURVEY.noise)
        for cat, bucket in ((res, ours), (p, peer)):
            det_of_true, _ = match_positions(xt, yt, cat["x"], cat["y"], 3.0)
            for k in range(2):
                bucket.append(cat["flux"][det_of_true[k]] / ft[k] - 1 if det_of_true[k] >= 0 else np.nan)
    ours, peer = np.array(ours).reshape(-1, 2), np.array(peer).reshape(-1, 2)
    separated = truth["separation"] >= 0.9                       # ~1.3 PSF FWHM or more
    bright = truth["mag"][:, :2].max(1) < 23.5
    sel = separated & bright
    completeness = np.isfinite(ours[sel]).mean()
    assert completeness > 0.9, completeness
    bias_ours = np.nanmedian(ours[sel])
    assert abs(bias_ours) < 0.03, bias_ours
    scatter = lambda r: 1.4826 * np.nanmedian(np.abs(r - np.nanmedian(r)))  # noqa: E731
    assert scatter(ours[sel]) < scatter(peer[sel]), (scatter(ours[sel]), scatter(peer[sel]))


def test_cli_deblend_writes_wcs_products_and_rejects_bad_input(tmp_path):
    image = tmp_path / "field.fits"
    r = runner.invoke(app, ["simulate", "blends", "--out", str(image), "--n-galaxies", "20", "--size", "128"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["deblend", str(image), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    from astropy.table import Table

    cat = Table.read(tmp_path / "o" / "catalogue.fits")
    truth = Table.read(tmp_path / "field_truth.csv")
    assert len(cat) >= 0.6 * len(truth)
    assert np.all(np.isfinite(cat["ra"])) and "mag" in cat.colnames
    with fits.open(tmp_path / "o" / "segmentation.fits") as h:
        assert h[0].header["CTYPE1"].startswith("RA") and h[0].data.max() <= len(cat)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["sources"] == len(cat)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((4, 32, 32), np.float32)).writeto(cube)
    r = runner.invoke(app, ["deblend", str(cube), "--out", str(tmp_path / "p")])
    assert r.exit_code == 2 and "2-D" in r.output
    assert runner.invoke(app, ["deblend", str(tmp_path / "missing.fits"), "--out", str(tmp_path / "q")]).exit_code == 2
    assert runner.invoke(app, ["deblend", str(image), "--out", str(tmp_path / "r"), "--threshold", "2"]).exit_code == 2
    assert runner.invoke(app, ["simulate", "blends", "--out", str(tmp_path / "x.txt")]).exit_code == 2


def test_nan_pixels_do_not_crash_the_deblender(tmp_path):
    image, truth, header = simulate_field(15, (128, 128), seed=4)
    image[60:64, :] = np.nan
    res = deblend(image, SURVEY.noise)
    assert np.all(np.isfinite(res["catalogue"]["flux"]))


def test_simulate_blends_npz(tmp_path):
    out = simulate_blends_file(tmp_path / "b.npz", n=5, seed=1)
    with np.load(tmp_path / "b.npz", allow_pickle=False) as z:
        assert z["images"].shape == (5, 48, 48) and z["isolated"].shape == (5, 3, 48, 48)
    assert out["stamps"] == 5
