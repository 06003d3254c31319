"""Transit case: limb-darkened occultation against exact geometry, the BLS search on injected
signals and noise, the views' diagnostics, the simulation-trained vetter on held-out simulated
TCEs (AUC, recall at 99% precision, calibration), the two-view network's spec, and the CLI."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sim2sky.cases.transits import (SCENARIOS, eclipse_flux, kepler_times, load_transit_vetter, occulted_fraction,
                                    search_tce, search_views, simulate_tce_set, tce_views, transit_flux, vetting_scores)
from sim2sky.cases.variables.lcsim import _overlap_area
from sim2sky.cli import app
from sim2sky.nn import Branches, build_encoder

runner = CliRunner()


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 2.0])
def test_uniform_occultation_matches_the_exact_disc_overlap(p):
    z = np.linspace(0, 1 + p + 0.1, 300)
    exact = _overlap_area(z, 1.0, p) / np.pi
    assert np.max(np.abs(occulted_fraction(z, p, 0.0, 0.0) - exact)) < 5e-3 * min(p * p, 1.0)


def test_limb_darkening_small_planet_limit_and_depth():
    p, u1, u2 = 0.01, 0.4, 0.25
    z = np.array([0.0, 0.5, 0.9])
    mu = np.sqrt(1 - z ** 2)
    local = (1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2) / (1 - u1 / 3 - u2 / 6)
    assert occulted_fraction(z, p, u1, u2) == pytest.approx(p * p * local, rel=1e-3)
    t = np.linspace(-0.2, 0.2, 2001)
    flux = transit_flux(t, 5.0, 0.0, 0.1, 12.0, 0.0, u1, u2)
    assert 1 - flux.min() == pytest.approx(0.01 * local[0], rel=2e-3)      # limb-darkened centre is deeper
    assert flux[0] == 1.0 and flux[-1] == 1.0


def test_eclipsing_binary_has_primary_and_secondary():
    t = np.linspace(0, 2.0, 4001)
    f = eclipse_flux(t, 2.0, 0.0, 0.8, 0.5, 5.0, 0.0, mass_ratio=0.8)
    primary, secondary = 1 - f[np.abs(t - 0.0) < 0.01].min(), 1 - f[np.abs(t - 1.0) < 0.01].min()
    assert primary > secondary > 0.05


def _noisy(signal_fn, seed, noise=1e-4):
    rng = np.random.default_rng(seed)
    t = kepler_times(rng)
    return t, signal_fn(t) + noise * rng.standard_normal(len(t)), np.full(len(t), noise)


def test_search_recovers_an_injected_planet_and_ignores_white_noise():
    t, f, e = _noisy(lambda t: transit_flux(t, 3.7, 1.1, 0.03, 10.0, 0.3), 0)
    tce = search_tce(t, f, e)
    assert tce["period"] == pytest.approx(3.7, rel=2e-3)
    assert abs((tce["t0"] - 1.1 + 1.85) % 3.7 - 1.85) < 0.05
    assert tce["depth"] == pytest.approx(0.03 ** 2 * 1.15, rel=0.25) and tce["snr"] > 30
    views = tce_views(t, f, e, tce)
    assert views["global"].min() == pytest.approx(-1, abs=0.3) and abs(views["scalars"][5]) < 0.2  # no secondary
    assert all(search_tce(*_noisy(lambda t: np.ones_like(t), s)) is None for s in range(3))


def test_coarse_to_fine_search_finds_the_exhaustive_searchs_tce():
    """The default search refines the strongest coarse peaks on the exhaustive search's own grids:
    a shallow planet (S/N ~13), a deep one, an EB and a long-period planet come out identical."""
    cases = [lambda t: transit_flux(t, 3.7, 1.1, 0.012, 10.0, 0.3), lambda t: transit_flux(t, 0.83, 0.2, 0.05, 4.0, 0.1),
             lambda t: eclipse_flux(t, 4.2, 0.7, 0.7, 0.6, 9.0, 0.2), lambda t: transit_flux(t, 21.3, 5.0, 0.02, 40.0, 0.2)]
    for k, signal in enumerate(cases):
        t, f, e = _noisy(signal, 10 + k)
        fast, full = search_tce(t, f, e), search_tce(t, f, e, exhaustive=True)
        assert fast is not None and fast == full, (k, fast, full)
    assert search_views(*_noisy(lambda t: np.ones_like(t), 0))[2] == "no TCE"
    assert "at least 200 cadences" in search_views(t[:50], f[:50], e[:50])[2]


def test_views_expose_an_eclipsing_binary():
    t, f, e = _noisy(lambda t: eclipse_flux(t, 4.2, 0.7, 0.7, 0.6, 9.0, 0.2), 3)
    tce = search_tce(t, f, e)
    ratio = tce["period"] / 4.2
    assert min(abs(ratio - 1), abs(ratio - 0.5)) < 2e-3                # the period, or half of it
    scalars = tce_views(t, f, e, tce)["scalars"]
    # found at P: a secondary eclipse at phase 0.5; at P/2: odd and even eclipses differ
    assert scalars[5] > 0.2 if ratio > 0.75 else abs(scalars[6]) > 5


def test_shipped_vetter_on_held_out_simulations():
    data = simulate_tce_set(96, seed=11, n_jobs=2)
    assert len(data["x"]) > 70 and set(data["y"]) == set(range(len(SCENARIOS)))
    scores = vetting_scores(load_transit_vetter().predict_proba(data["x"]), data["y"])
    assert scores["auc"] > 0.9 and scores["scenario_accuracy"] > 0.7 and scores["ece"] < 0.15


def test_branches_network_round_trips_its_spec():
    parts = [{"start": 0, "stop": 3, "shape": [3], "encoder": {"kind": "mlp", "in_features": 3, "hidden": [8]}},
             {"start": 3, "stop": 19, "shape": [2, 8], "encoder": {"kind": "cnn1d", "in_features": 8,
                                                                  "out_features": 4, "in_channels": 2}}]
    net = Branches(parts, hidden=(6,))
    copy = build_encoder(net.spec())
    copy.load_state_dict(net.state_dict())
    x = torch.randn(5, 19)
    assert torch.allclose(net(x), copy(x)) and net(x).shape == (5, 6)
    with pytest.raises(ValueError, match="cannot be reshaped"):
        Branches([{**parts[1], "shape": [3, 8]}])


def test_cli_simulate_vet_and_errors(tmp_path):
    curves = tmp_path / "q.csv"
    r = runner.invoke(app, ["transits", "simulate", "--n", "4", "--seed", "2", "--out", str(curves)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "vet.csv"
    r = runner.invoke(app, ["lightcurves", "vet", str(curves), "--out", str(out)])
    assert r.exit_code == 0, r.output
    from astropy.table import Table
    tab = Table.read(out)
    assert len(tab) == 4 and set(tab["label"]) <= set(SCENARIOS) | {"unknown", "no_tce"}
    ok = np.isfinite(tab["p_planet"])
    assert np.allclose(sum(tab[f"p_{c}"][ok] for c in SCENARIOS), 1.0, atol=1e-5)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,t,flux,err\n" + "".join(f"a,{k * 0.02},{5.0 + k},0.001\n" for k in range(300)))
    r = runner.invoke(app, ["transits", "vet", str(bad), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 0 and "flagged 1" in r.output                  # not relative flux: flagged, not a crash
    r = runner.invoke(app, ["transits", "vet", str(curves), "--out", str(tmp_path / "o.csv"), "--flux-col", "f"])
    assert r.exit_code == 2 and "--flux-col" in r.output
    r = runner.invoke(app, ["transits", "simulate", "--n", "0", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 2 and "--n" in r.output and "greater than or equal to 1" in r.output
