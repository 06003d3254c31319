"""``sim2sky nebulae classify`` on line tables; bad input exits 2 with a clear message."""

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from sim2sky.cases.sbibm import shared_data_dir
from sim2sky.cli import app

runner = CliRunner()
pytestmark = pytest.mark.skipif(shared_data_dir() is None, reason="needs ../shared/data (3MdB tables) to simulate tables")


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("neb")
    r = run("simulate", "nebulae", "--out", d / "lines.csv", "--n-per-class", 150, "--sn", 50, "--seed", 3)
    assert r.exit_code == 0, r.output
    return d / "lines.csv"


def test_classify_table(table, tmp_path):
    r = run("nebulae", "classify", table, "--out", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    out = Table.read(tmp_path / "out.csv", format="ascii.csv")
    for col in ("ID", "p_HII", "p_PN", "p_SNR", "p_DIG", "class", "OH_mean", "OH_std", "logU_mean", "EBV_mean"):
        assert col in out.colnames
    truth = Table.read(table, format="ascii.csv")["TRUE_CLASS"]
    assert np.mean(np.asarray(out["class"]) == np.asarray(truth)) > 0.8
    hii = np.asarray(out["class"]) == "HII"
    assert np.isfinite(np.asarray(out["OH_mean"], float)[hii]).all()
    assert np.isnan(np.asarray(out["OH_mean"], float)[~hii]).all()
    p = np.stack([np.asarray(out[f"p_{c}"], float) for c in ("HII", "PN", "SNR", "DIG")], 1)
    assert np.allclose(p.sum(1), 1, atol=1e-3)


def test_subset_of_lines_and_upper_limits(table, tmp_path):
    t = Table.read(table, format="ascii.csv")
    keep = ["ID", "HA6563", "HA6563_ERR", "HB4861", "HB4861_ERR", "OIII5007", "NII6584", "NII6584_ERR", "SII6717",
            "SII6731", "TRUE_CLASS"]
    sub = t[keep]
    sub["SII6717_31"] = sub["SII6717"] + sub["SII6731"]
    sub.remove_columns(["SII6717", "SII6731"])
    sub["OIII5007"][:20] = np.nan                            # missing
    faint = np.asarray(sub["NII6584"]) < 2 * np.asarray(sub["NII6584_ERR"])
    sub["NII6584"][faint] = np.nan                           # undetected: NaN flux + error = upper limit
    sub.write(tmp_path / "sub.fits")
    r = run("nebulae", "classify", tmp_path / "sub.fits", "--out", tmp_path / "sub_out.csv")
    assert r.exit_code == 0, r.output
    out = Table.read(tmp_path / "sub_out.csv", format="ascii.csv")
    assert np.mean(np.asarray(out["class"]) == np.asarray(sub["TRUE_CLASS"])) > 0.6


@pytest.mark.parametrize("mutate,message", [
    (lambda t: t.rename_column("NII6584", "NII6583"), "did you mean 'NII6584'"),
    (lambda t: t.__setitem__("OIII5007", -t["OIII5007"] - 1), "negative"),
    (lambda t: t.remove_column("HA6563"), "HA6563"),
    (lambda t: t.replace_column("HB4861", np.array(["x"] * len(t))), "not numeric"),
])
def test_bad_tables_exit_2(table, tmp_path, mutate, message):
    t = Table.read(table, format="ascii.csv")
    mutate(t)
    t.write(tmp_path / "bad.csv", format="ascii.csv", overwrite=True)
    r = run("nebulae", "classify", tmp_path / "bad.csv", "--out", tmp_path / "never.csv")
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert not (tmp_path / "never.csv").exists()


def test_help_pages():
    for cmd in (["nebulae", "classify"], ["nebulae", "adapt"], ["train", "nebulae"], ["cube", "classify"],
                ["simulate", "cube"], ["simulate", "nebulae"], ["demo"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output, cmd


def test_adapt_to_a_table(tmp_path):
    r = run("simulate", "nebulae", "--out", tmp_path / "target.csv", "--n-per-class", 60, "--domain", "shifted", "--seed", 8)
    assert r.exit_code == 0, r.output
    r = run("nebulae", "adapt", "--target", tmp_path / "target.csv", "--out", tmp_path / "adapted",
            "--n-per-class", 600, "--epochs", 3)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "adapted/classifier/config.json").is_file() and (tmp_path / "adapted/hii_params").is_dir()
    r = run("nebulae", "classify", tmp_path / "target.csv", "--out", tmp_path / "o.csv", "--model", tmp_path / "adapted")
    assert r.exit_code == 0, r.output
    r = run("nebulae", "adapt", "--target", tmp_path / "missing.csv", "--out", tmp_path / "x")
    assert r.exit_code == 2


def test_error_messages_keep_square_brackets(table, tmp_path):
    t = Table.read(table, format="ascii.csv")
    t.remove_columns(["SII6731", "SII6731_ERR"])
    t.write(tmp_path / "half_sii.csv", format="ascii.csv")
    r = run("nebulae", "classify", tmp_path / "half_sii.csv", "--out", tmp_path / "o.csv")
    assert r.exit_code == 2 and "of the [SII] doublet" in " ".join(r.output.split())
