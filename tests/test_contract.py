"""The case contract, checked over every case package (sim2sky.cases.CASES).

simulate(n, seed=) -> QTable with units, or a Dataset (arrays with units, truth QTable, .write);
train(config, out) -> a sealed model folder that load() reads; load(model).predict(data) -> QTable
with a unit on every numeric column (catalogues with RA/Dec); .check() -> numbers; .calibrate.
"""

import importlib

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from sim2sky.cases import CASES
from sim2sky.core import verify_folder
from sim2sky.core.contract import CasePipeline, Dataset
from sim2sky.core.errors import InputError

# per case: simulate options, train settings (tiny: the mechanics, not the science), the model
# load() uses for predict (None = shipped; "trained" = the one train() wrote), and what check() must report
SPEC = {
    "nebulae": dict(n=25, sim={}, train={"n_per_class": 150, "n_hii_params": 400, "epochs": 1, "cross_theory": False},
                    model=None, check=("accuracy", "ece", "confusion")),
    "spectra": dict(n=26, sim={}, train={"n_per_class": 20, "n_stars": 200, "epochs": 1, "model_error": "none"}, model=None,
                    check=("accuracy", "ece", "z_abs_error")),
    "supernovae": dict(n=12, sim={}, train={"epochs": 1, "augment_copies": 1}, model=None,
                       check=("accuracy", "broad_accuracy", "age_accuracy"), data="sn-templates"),
    "lightcurves": dict(n=14, sim={}, train={"n_per_class": 20, "epochs": 2, "n_jobs": 1}, model=None,
                        check=("accuracy", "ece")),
    "transits": dict(n=4, sim={}, train={"n_per_scenario": 32, "epochs": 2, "n_jobs": 2}, model=None,
                     check=("accuracy", "no_tce_rate")),
    "hicubes": dict(n=12, sim={"shape": (48, 64, 64)}, train={"n_cubes": 4, "detector_epochs": 1, "n_stamps": 64,
                                                              "characteriser_epochs": 1, "n_calibration_cubes": 0},
                    model=None, check=("completeness", "purity")),
    "blends": dict(n=30, sim={"size": 128}, train={"n_stamps": 32, "epochs": 1}, model=None,
                   check=("completeness", "purity", "flux_bias_median")),
    "fields": dict(n=48, sim={"size": 16}, train={"n": 48, "size": 16}, model="trained",
                   check=("pk_max_error", "pdf_max_error")),
    "sbibm": dict(n=300, sim={}, train={"n": 600, "training": {"max_epochs": 8}}, model="trained", check=("coverage_max_error", "sbc_ks_pvalue")),
    "radio": dict(n=12, sim={}, train={"n_sims": 200, "n_calibration": 100, "epochs": 1, "real": "none"}, model=None,
                  check=("accuracy", "ece", "confusion")),
}
CATALOGUES = ("hicubes", "blends")


def _case(name):
    return importlib.import_module(f"sim2sky.cases.{CASES[name]}")


def _skip_without_data(name):
    if SPEC[name].get("data"):
        from sim2sky.core.data import available

        if not available(SPEC[name]["data"]):
            pytest.skip(f"needs dataset {SPEC[name]['data']}: set SIM2SKY_DATA to a mirror")


def _numeric_columns_have_units(table: QTable, where: str):
    assert isinstance(table, QTable), f"{where}: expected a QTable, got {type(table).__name__}"
    for name in table.colnames:
        col = table[name]
        if np.asarray(col).dtype.kind in "fiuc":
            assert isinstance(col, u.Quantity), f"{where}: numeric column {name!r} has no unit"


def test_every_case_is_registered_and_exposes_the_contract():
    import pkgutil

    import sim2sky.cases as cases

    packages = {m.name for m in pkgutil.iter_modules(cases.__path__) if m.ispkg}
    assert packages == set(CASES.values()), "a case package is missing from sim2sky.cases.CASES (or vice versa)"
    assert set(SPEC) == set(CASES)
    for name in CASES:
        mod = _case(name)
        for fn in ("simulate", "train", "load"):
            assert callable(getattr(mod, fn)) and fn in mod.__all__, f"{name}.{fn}"
        exported = [getattr(mod, n) for n in mod.__all__]      # resolves lazy (PEP 562) exports too
        pipeline = [v for v in exported if isinstance(v, type) and issubclass(v, CasePipeline) and v is not CasePipeline]
        assert len(pipeline) == 1 and pipeline[0].case == name, name
        for verb in ("predict", "check", "calibrate"):
            assert callable(getattr(pipeline[0], verb))


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulate_returns_units(name, tmp_path):
    _skip_without_data(name)
    spec = SPEC[name]
    out = _case(name).simulate(spec["n"], seed=0, **spec["sim"])
    again = _case(name).simulate(spec["n"], seed=0, **spec["sim"])
    if isinstance(out, Dataset):
        _numeric_columns_have_units(out.truth, f"{name}.simulate truth")
        assert len(out.truth) == spec["n"]
        for key, array in out.arrays.items():
            if np.asarray(array).dtype.kind == "f":
                assert isinstance(array, u.Quantity), f"{name}: array {key!r} has no unit"
                np.testing.assert_array_equal(np.asarray(array), np.asarray(again.arrays[key]))  # seeded
        written = out.write(tmp_path / ("sim.npz" if name == "fields" else "sim.fits"))
        assert written and all(not str(v).endswith(".tmp") for v in written.values())
    else:
        _numeric_columns_have_units(out, f"{name}.simulate")
        assert len(out) >= spec["n"]
        for col in out.colnames:                                                       # seeded
            np.testing.assert_array_equal(np.asarray(out[col]), np.asarray(again[col]))
    with pytest.raises(InputError):
        _case(name).simulate(-1, seed=0, **spec["sim"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_train_load_predict_check(name, tmp_path):
    _skip_without_data(name)
    spec, mod = SPEC[name], _case(name)
    model = mod.train(dict(spec["train"]), tmp_path / "model")
    assert model == tmp_path / "model" and (model / "checksums.sha256").is_file()
    verify_folder(model)
    # the folder is refused as a new --out without overwrite, and replaced with it
    with pytest.raises(InputError):
        mod.train(dict(spec["train"]), tmp_path / "model")
    pipe = mod.load(model if spec["model"] == "trained" else spec["model"])
    mod.load(model)                                   # the trained folder loads
    data = mod.simulate(spec["n"], seed=1, **spec["sim"])
    if name == "fields":
        data = data.truth
    pred = pipe.predict(data)
    _numeric_columns_have_units(pred, f"{name}.predict")
    assert len(pred) > 0
    if name in CATALOGUES:
        assert pred["ra"].unit == u.deg and pred["dec"].unit == u.deg
        assert np.isfinite(pred["ra"].value).all() and np.isfinite(pred["dec"].value).all()
        wcs = data.wcs.celestial
        x, y = wcs.wcs_world2pix(pred["ra"].value, pred["dec"].value, 0)
        np.testing.assert_allclose(x, pred["x"].value, atol=1e-6)
        np.testing.assert_allclose(y, pred["y"].value, atol=1e-6)
    report = pipe.check(**({"n": spec["n"]} if name not in ("fields",) else {"n": 16}))
    for key in spec["check"]:
        assert key in report, f"{name}.check lacks {key}"
        value = report[key]
        values = list(value.values()) if isinstance(value, dict) else value
        assert np.all(np.isfinite(np.asarray(values, float))), f"{name}.check {key} = {value}"
    if name == "supernovae":            # labelled data: the calibrate verb writes a calibrated folder
        labelled = mod.simulate(60, seed=2, split="calibration")
        record = pipe.calibrate(labelled, tmp_path / "calibrated")
        assert (tmp_path / "calibrated" / "calibration.json").is_file() and record["dataset"]["n"] == 60
        assert "subtype_set" in mod.load(tmp_path / "calibrated").predict(data).colnames
    elif name == "nebulae":             # labelled theory line tables: calibrated for their line pattern
        record = pipe.calibrate(mod.simulate(200, seed=2), tmp_path / "calibrated")
        assert record["dataset"]["n"] == 200 and record["lines"]
        assert "calibrated" in mod.load(tmp_path / "calibrated").predict(data).colnames
    elif name == "radio":               # labelled cutouts: a stack with <stem>_truth.csv beside it
        mod.simulate(40, seed=2).write(tmp_path / "labelled.fits")
        record = pipe.calibrate(tmp_path / "labelled.fits", tmp_path / "calibrated")
        assert record["dataset"]["n"] == 40
        assert len(mod.load(tmp_path / "calibrated").predict(data)) == spec["n"]
    else:                               # spectra: no stellar labels; lightcurves: no survey groups; hicubes: too
        with pytest.raises(InputError):  # few detections; the others have no calibration yet
            pipe.calibrate(data, tmp_path / "calibrated")


def test_estimators_follow_scikit_learn_rules():
    """get_params / set_params / clone work on every estimator (check_estimator does not apply:
    their fit takes (theta, x) or (x, y, x_cal, y_cal), not scikit-learn's (X, y))."""
    from sklearn.base import clone

    from sim2sky.infer import NPE
    from sim2sky.learn import (CalibratedClassifier, DensityScorer, FieldEmulator, FlowMatchingEmulator, Representation,
                               Segmenter, mlp_classifier)

    net = mlp_classifier(4, 3)
    for est in (NPE(), CalibratedClassifier(net, ("a", "b", "c")), Segmenter(net), FieldEmulator(net, theta_names=["a"]),
                FlowMatchingEmulator(net), Representation(net, feature_names=["f"]), DensityScorer(bins=5)):
        params = est.get_params()
        twin = clone(est)
        assert type(twin) is type(est) and twin.get_params().keys() == params.keys()
        for name, value in params.items():
            if hasattr(value, "parameters"):            # networks are copied, not shared
                assert twin.get_params()[name] is not value
        assert est.set_params(**{next(iter(params)): params[next(iter(params))]}) is est
        assert not [k for k in vars(twin) if k.endswith("_") and not k.startswith("_")], "clone is unfitted"
