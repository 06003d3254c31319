"""One CLI grammar: sim2sky <case> simulate|train|predict|check|calibrate, old spellings as hidden aliases."""

import importlib
import json

import numpy as np
import pytest
import typer.main
from astropy.table import QTable, Table
from typer.testing import CliRunner

from sim2sky.cases import CASES
from sim2sky.cli import app
from sim2sky.cli.cases import SETTINGS_HELP, parse_settings

runner = CliRunner()
VERBS = ("simulate", "train", "predict", "check", "calibrate")


def test_every_case_has_the_five_verbs_and_only_cases_and_tools_are_visible():
    group = typer.main.get_command(app)
    visible = {name for name, cmd in group.commands.items() if not cmd.hidden}
    assert set(CASES) <= visible
    assert {"simulate", "train", "detect", "deblend"}.isdisjoint(visible)      # old spellings, hidden
    for case in CASES:
        commands = group.commands[case].commands
        shown = [n for n, c in commands.items() if not c.hidden]
        assert shown[:5] == list(VERBS), (case, shown)


def test_settings_help_names_what_the_api_accepts():
    import inspect

    for case, (sim_keys, train_keys) in SETTINGS_HELP.items():
        mod = importlib.import_module(f"sim2sky.cases.{CASES[case]}")
        params = set(inspect.signature(mod.simulate).parameters)
        if "options" in params:                       # fields: passed on to simulate_fields
            params |= set(inspect.signature(mod.simulate_fields).parameters)
        for key in sim_keys.replace("(none)", "").split(", "):
            if key:
                assert key.split("=")[0] in params, (case, key)
        if train_keys:
            r = runner.invoke(app, [case, "train", "--out", "/nonexistent-dir-for-help/x", "--set", "bogus=1"])
            assert r.exit_code == 2


def test_parse_settings():
    assert parse_settings(["a=1", "b=x", "c=3,300", "d=true", "e=[1, 2]"]) == {
        "a": 1, "b": "x", "c": (3, 300), "d": True, "e": (1, 2)}
    assert parse_settings(None) == {}


def test_simulate_predict_check_round_trip_with_units(tmp_path):
    table = tmp_path / "neb.ecsv"
    r = runner.invoke(app, ["nebulae", "simulate", "--n", "40", "--seed", "3", "--out", str(table)])
    assert r.exit_code == 0, r.output
    t = QTable.read(table)
    assert len(t) == 40 and str(t["SIGMA"].unit) == "km / s" and str(t["EW_HA6563"].unit) == "Angstrom"
    assert sorted(set(t["TRUE_CLASS"])) == ["AGN", "DIG", "HII", "PN", "SNR"]
    res = tmp_path / "classes.ecsv"
    r = runner.invoke(app, ["nebulae", "predict", str(table), "--out", str(res)])
    assert r.exit_code == 0, r.output
    p = QTable.read(res)
    assert str(p["OH_mean"].unit) == "dex" and np.mean(p["class"] == t["TRUE_CLASS"]) > 0.6
    report = tmp_path / "check.json"
    r = runner.invoke(app, ["nebulae", "check", str(table), "--out", str(report)])
    assert r.exit_code == 0, r.output
    numbers = json.loads(report.read_text())
    assert numbers["n"] == 40 and numbers["accuracy"] == pytest.approx(np.mean(p["class"] == t["TRUE_CLASS"]))


def test_bad_setting_and_unavailable_calibration_are_one_line_errors(tmp_path):
    r = runner.invoke(app, ["nebulae", "simulate", "--n", "5", "--set", "domian=theory", "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 2 and "did you mean 'domain'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["nebulae", "simulate", "--n", "5", "--set", "nokey", "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    Table({"period": [1.0]}).write(tmp_path / "t.csv")
    r = runner.invoke(app, ["transits", "calibrate", "shipped", str(tmp_path / "t.csv"), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "not available" in r.output
    r = runner.invoke(app, ["spectra", "simulate", "--n", "3", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 2 and ".fits or .ecsv" in r.output


def test_image_case_writes_fits_and_truth_and_predicts_radec(tmp_path):
    image = tmp_path / "field.fits"
    r = runner.invoke(app, ["blends", "simulate", "--n", "30", "--set", "size=128", "--out", str(image)])
    assert r.exit_code == 0, r.output
    truth = Table.read(tmp_path / "field_truth.csv")
    assert len(truth) == 30 and {"ra", "dec", "flux"} <= set(truth.colnames)
    r = runner.invoke(app, ["blends", "predict", str(image), "--out", str(tmp_path / "cat")])
    assert r.exit_code == 0, r.output
    cat = Table.read(tmp_path / "cat" / "catalogue.fits")
    assert len(cat) > 10 and np.all(np.abs(cat["ra"] - 150.0) < 0.01) and np.all(np.abs(cat["dec"] - 2.2) < 0.01)


def test_old_spellings_run_and_name_the_new_one(tmp_path):
    r = runner.invoke(app, ["simulate", "nebulae", "--n-per-class", "2", "--out", str(tmp_path / "old.csv")])
    assert r.exit_code == 0 and "nebulae simulate" in r.output
    assert len(Table.read(tmp_path / "old.csv")) == 10
    r = runner.invoke(app, ["nebulae", "classify", str(tmp_path / "old.csv"), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0 and "nebulae predict" in r.output
    assert len(Table.read(tmp_path / "c.csv")) == 10


def test_a_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "galsim", None)          # as if 'sim2sky[blends]' were not installed
    r = runner.invoke(app, ["blends", "simulate", "--n", "3", "--set", "size=64", "--out", str(tmp_path / "f.fits")])
    assert r.exit_code == 2 and "pip install 'sim2sky[blends]'" in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output and not (tmp_path / "f.fits").exists()
    monkeypatch.setitem(sys.modules, "h5py", None)
    r = runner.invoke(app, ["fields", "simulate", "--kind", "gaussian", "--n", "2", "--size", "16",
                            "--out", str(tmp_path / "f.h5")])
    assert r.exit_code == 2 and "sim2sky[fields]" in " ".join(r.output.split()), r.output


def _walk(cmd, path=()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_help_text_loses_no_bracketed_units_to_rich_markup():
    """'--help' renders with rich markup: an unescaped '[arcsec]' would print as nothing."""
    from rich.text import Text

    lost = []
    for path, cmd in _walk(typer.main.get_command(app)):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        for text in texts:
            if Text.from_markup(text).plain != text.replace("\\[", "["):
                lost.append((" ".join(path), text[:60]))
    assert not lost, lost
