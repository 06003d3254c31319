"""``sim2sky nebulae classify`` on line tables; bad input exits 2 with a clear message."""

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from sim2sky.cli import app

runner = CliRunner()


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
    for col in ("ID", "p_HII", "p_PN", "p_SNR", "p_DIG", "p_AGN", "class", "OH_mean", "OH_std", "LOGU_mean", "LOGPK_std", "EBV_mean"):
        assert col in out.colnames
    truth = Table.read(table, format="ascii.csv")["TRUE_CLASS"]
    assert np.mean(np.asarray(out["class"]) == np.asarray(truth)) > 0.8
    hii = np.asarray(out["class"]) == "HII"
    assert np.isfinite(np.asarray(out["OH_mean"], float)[hii]).all()
    assert np.isnan(np.asarray(out["OH_mean"], float)[~hii]).all()
    p = np.stack([np.asarray(out[f"p_{c}"], float) for c in ("HII", "PN", "SNR", "DIG", "AGN")], 1)
    assert np.allclose(p.sum(1), 1, atol=1e-3)
    # field priors: re-weighted, still normalised, more HII calls; a bad spec exits 2 and writes nothing
    r = run("nebulae", "classify", table, "--out", tmp_path / "field.csv", "--class-priors", "field")
    assert r.exit_code == 0, r.output
    field = Table.read(tmp_path / "field.csv", format="ascii.csv")
    pf = np.stack([np.asarray(field[f"p_{c}"], float) for c in ("HII", "PN", "SNR", "DIG", "AGN")], 1)
    assert np.allclose(pf.sum(1), 1, atol=1e-3) and np.nanmean(pf[:, 0]) > np.nanmean(p[:, 0])
    r = run("nebulae", "classify", table, "--out", tmp_path / "bad.csv", "--class-priors", "HII=2,PN=x")
    assert r.exit_code == 2 and "class-priors" in r.output and not (tmp_path / "bad.csv").exists()


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


def test_unknown_columns_pass_through_with_a_notice(table, tmp_path):
    t = Table.read(table, format="ascii.csv")
    t["OII3727"] = 2.5 * np.asarray(t["HB4861"])              # a line we do not use
    t["FIELD"] = "NGC0628"                                    # a string column
    t.rename_column("NII6548", "NII6458")                     # a typo (NII6548 is optional)
    t.remove_column("NII6548_ERR")
    t.write(tmp_path / "extra.csv", format="ascii.csv")
    r = run("nebulae", "classify", tmp_path / "extra.csv", "--out", tmp_path / "o.csv")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "notice:" in text and "OII3727" in text and "FIELD" in text and "did you mean" in text
    out = Table.read(tmp_path / "o.csv", format="ascii.csv")
    assert np.allclose(out["OII3727"], t["OII3727"]) and set(out["FIELD"]) == {"NGC0628"}
    assert "class" in out.colnames


def _survey_layout(t, preset):
    """The simulated table renamed to a survey's column names (the presets' inverse)."""
    from sim2sky.cases.nebulae import PRESETS

    out = Table({"ID": t["ID"], "TRUE_CLASS": t["TRUE_CLASS"]})
    carried = ["ID", "TRUE_CLASS", "SIGMA"] + (["EW_HA6563"] if preset != "phangs" else [])
    for target, source in PRESETS[preset].items():
        base = target.replace("_ERR", "").replace("_IVAR", "")
        if base not in t.colnames or "+" in source or target.startswith(("SIGMA", "EW")):
            continue
        if target.endswith("_IVAR"):
            out[source] = 1.0 / np.asarray(t[f"{base}_ERR"], float) ** 2
            carried.append(f"{base}_ERR")
        elif target.endswith("_ERR") or target == base:
            out[source] = t[target]
            carried.append(target)
    if preset == "mpajhu":
        out["H_ALPHA_EQW"] = -np.asarray(t["EW_HA6563"], float)       # emission is negative there
        out["SIGMA_BALMER"] = t["SIGMA"]
    elif preset == "manga":
        out["EMLINE_GEW_HA_6564"] = t["EW_HA6563"]
        inst = 70.0                                                  # instrumental sigma [km/s]
        out["EMLINE_GSIGMA_HA_6564"] = np.sqrt(np.asarray(t["SIGMA"], float) ** 2 + inst**2)
        out["EMLINE_INSTSIGMA_HA_6564"] = np.full(len(t), inst)
    else:
        out["HA6562_SIGMA"] = t["SIGMA"]
    out["HA6562_FLUX_CORR" if preset == "phangs" else "OII_3726_FLUX"] = 3.0 * np.asarray(t["HA6563"], float)
    return out, carried


@pytest.mark.parametrize("preset", ["phangs", "manga", "mpajhu"])
def test_survey_presets_classify_like_canonical_tables(table, tmp_path, preset):
    t = Table.read(table, format="ascii.csv")
    survey, carried = _survey_layout(t, preset)
    t[carried].write(tmp_path / "canonical_in.csv", format="ascii.csv")    # the same information, canonical names
    r = run("nebulae", "classify", tmp_path / "canonical_in.csv", "--out", tmp_path / "canonical.csv", "--seed", 1)
    assert r.exit_code == 0, r.output
    ref = Table.read(tmp_path / "canonical.csv", format="ascii.csv")
    survey.write(tmp_path / f"{preset}.fits")
    for extra in ([], ["--preset", preset]):                       # detected, then explicit
        r = run("nebulae", "classify", tmp_path / f"{preset}.fits", "--out", tmp_path / f"{preset}.csv", "--seed", 1,
                *extra)
        assert r.exit_code == 0, r.output
        out = Table.read(tmp_path / f"{preset}.csv", format="ascii.csv")
        same = np.mean(np.asarray(out["class"]) == np.asarray(ref["class"]))
        assert same > 0.97, (preset, same)      # float rounding of ivar / sigma only
        assert np.mean(np.asarray(out["class"]) == np.asarray(t["TRUE_CLASS"])) > 0.75
    assert "layout" in " ".join(r.output.split()) or extra


def test_column_map_string_and_files(table, tmp_path):
    t = Table.read(table, format="ascii.csv")
    t.rename_columns(["HA6563", "HA6563_ERR", "HB4861"], ["F_HALPHA", "E_HALPHA", "F_HBETA"])
    t.write(tmp_path / "custom.csv", format="ascii.csv")
    pairs = {"HA6563": "F_HALPHA", "HA6563_ERR": "E_HALPHA", "HB4861": "F_HBETA"}
    (tmp_path / "map.json").write_text(__import__("json").dumps(pairs))
    (tmp_path / "map.yaml").write_text("".join(f"{k}: {v}\n" for k, v in pairs.items()))
    outs = []
    for spec in (",".join(f"{k}={v}" for k, v in pairs.items()), tmp_path / "map.json", tmp_path / "map.yaml"):
        r = run("nebulae", "classify", tmp_path / "custom.csv", "--out", tmp_path / "o.csv", "--columns", spec)
        assert r.exit_code == 0, r.output
        outs.append(np.asarray(Table.read(tmp_path / "o.csv", format="ascii.csv")["class"]))
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    r = run("nebulae", "classify", tmp_path / "custom.csv", "--out", tmp_path / "o.csv", "--columns", "HA6563=F_HALFA")
    assert r.exit_code == 2 and "did you mean 'F_HALPHA'" in " ".join(r.output.split())
    r = run("nebulae", "classify", tmp_path / "custom.csv", "--out", tmp_path / "o.csv", "--columns", "HALPHA=F_HALPHA")
    assert r.exit_code == 2 and "not a sim2sky column" in " ".join(r.output.split())


def test_negative_fluxes_need_allow_negative(table, tmp_path):
    t = Table.read(table, format="ascii.csv")
    t["OI6300"][:10] = -np.asarray(t["OI6300_ERR"][:10])
    t.write(tmp_path / "neg.csv", format="ascii.csv")
    r = run("nebulae", "classify", tmp_path / "neg.csv", "--out", tmp_path / "o.csv")
    assert r.exit_code == 2 and "--allow-negative" in " ".join(r.output.split())
    r = run("nebulae", "classify", tmp_path / "neg.csv", "--out", tmp_path / "o.csv", "--allow-negative")
    assert r.exit_code == 0, r.output


def test_help_pages():
    for cmd in (["nebulae", "classify"], ["nebulae", "adapt"], ["train", "nebulae"], ["cube", "classify"],
                ["simulate", "cube"], ["simulate", "nebulae"], ["demo"], ["data"], ["data", "list"], ["data", "fetch"],
                ["data", "path"]):
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


def test_line_table_units_are_converted_or_refused(tmp_path):
    """Astropy at the boundary: a QTable in memory is accepted; SIGMA in m/s and a line in
    another flux unit are converted (the classes do not change); an incompatible unit is one
    error line. (SIGMA in m/s was read as km/s: 80 of 100 rows turned unknown.)"""
    import astropy.units as u
    from astropy.table import QTable, Table

    from sim2sky.cases.nebulae import classify_table, read_line_table
    from sim2sky.core.errors import InputError

    r = runner.invoke(app, ["simulate", "nebulae", "--out", str(tmp_path / "n.ecsv"), "--n-per-class", "20"])
    assert r.exit_code == 0, r.output
    plain = Table.read(tmp_path / "n.ecsv")
    for col in plain.colnames:            # the file has units; the test gives its own
        plain[col].unit = None
    q = QTable(plain)
    q["SIGMA"] = plain["SIGMA"] * 1000 * u.m / u.s
    flux = u.def_unit("flux20", 1e-20 * u.erg / u.s / u.cm**2)
    for col in plain.colnames:
        if col.startswith(("HA6563", "NII6584")):
            q[col] = plain[col] * flux
        elif col.startswith("HB4861"):
            q[col] = plain[col] / 1000 * (1e-17 * u.erg / u.s / u.cm**2)     # another scale: converted back
    lt_plain, lt_q = read_line_table(tmp_path / "n.ecsv"), read_line_table(q)
    np.testing.assert_allclose(lt_q.lines["SIGMA"][0], lt_plain.lines["SIGMA"][0], rtol=1e-6)   # float32 columns
    np.testing.assert_allclose(lt_q.lines["HB4861"][0], lt_plain.lines["HB4861"][0], rtol=1e-6)
    a = classify_table(tmp_path / "n.ecsv", tmp_path / "a.csv")
    b = classify_table(q, tmp_path / "b.csv")
    assert a["counts"] == b["counts"] and a["counts"]["unknown"] < 20, (a["counts"], b["counts"])
    assert list(Table.read(tmp_path / "a.csv")["class"]) == list(Table.read(tmp_path / "b.csv")["class"])
    bad = QTable(q)
    bad["SIGMA"] = plain["SIGMA"] * u.K
    with pytest.raises(InputError, match="SIGMA.*convertible to km / s"):
        read_line_table(bad)
    bad = QTable(q)
    bad["HB4861"] = plain["HB4861"] * u.km
    with pytest.raises(InputError, match="HB4861 is in km but HA6563"):
        read_line_table(bad)
