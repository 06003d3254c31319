"""Astropy objects in: specutils Spectrum, (Quantity, Quantity), NDData + WCS, QTable with units."""

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import NDData, StdDevUncertainty

from sim2sky.cases import blends, hicubes, spectra
from sim2sky.cases import variables as lightcurves_case
from sim2sky.core.errors import InputError


@pytest.fixture(scope="module")
def sims():
    return spectra.simulate(13, seed=4)


@pytest.fixture(scope="module")
def spectra_pipe():
    return spectra.load()


def test_spectra_from_specutils_quantities_and_tables_agree(sims, spectra_pipe):
    specutils = pytest.importorskip("specutils")
    ref = spectra_pipe.predict(sims)
    k = 5
    wave, flux, ivar = sims["wave"][k], sims["flux"][k].value, sims["ivar"][k].value
    sigma = np.where(ivar > 0, 1 / np.sqrt(np.maximum(ivar, 1e-30)), np.inf)      # masked: no information
    spec = specutils.Spectrum(spectral_axis=wave, flux=flux * u.Jy, uncertainty=StdDevUncertainty(sigma * u.Jy))
    one = spectra_pipe.predict(spec)
    assert one["class"][0] == ref["class"][k]
    assert one["z_median"][0].value == pytest.approx(ref["z_median"][k].value, abs=2e-3)
    # the same spectrum on a frequency axis (reversed order, converted to Angstrom)
    freq = spectra_pipe.predict((wave.to(u.GHz, u.spectral()), flux, ivar))
    assert freq["class"][0] == ref["class"][k]
    assert freq["z_median"][0].value == pytest.approx(ref["z_median"][k].value, abs=2e-3)
    # a wavelength in nm is converted, not read as Angstrom
    nm = spectra_pipe.predict((wave.to(u.nm), flux, ivar))
    assert nm["class"][0] == ref["class"][k]


def test_spectra_refuse_axes_without_or_with_wrong_units(sims, spectra_pipe):
    with pytest.raises(InputError, match="needs a unit"):
        spectra_pipe.predict((sims["wave"][0].value, sims["flux"][0].value))
    with pytest.raises(InputError, match="not a wavelength"):
        spectra_pipe.predict((sims["wave"][0].value * u.kg, sims["flux"][0].value))
    with pytest.raises(InputError, match="pixels per spectrum"):
        spectra_pipe.predict((sims["wave"][0], sims["flux"][0].value[:-3]))


def test_lightcurve_times_are_converted_or_refused():
    t = lightcurves_case.simulate(7, seed=2)
    pipe = lightcurves_case.load()
    ref = pipe.predict(t)
    hours = t.copy()
    hours["t"] = hours["t"].to(u.h)
    again = pipe.predict(hours)
    assert list(again["class"]) == list(ref["class"])
    np.testing.assert_allclose(again["period"].value, ref["period"].value, rtol=1e-6)
    wrong = t.copy()
    wrong["t"] = wrong["t"].value * u.m
    with pytest.raises(InputError, match="expected d"):
        pipe.predict(wrong)


def test_cube_from_nddata_matches_the_dataset():
    ds = hicubes.simulate(10, seed=5, shape=(48, 64, 64))
    pipe = hicubes.load()
    ref = pipe.predict(ds, characterise=False)
    nd = NDData(ds["cube"].value, wcs=ds.wcs, meta=dict(ds.meta["header"]))
    cat = pipe.predict(nd, characterise=False)
    assert len(cat) == len(ref) > 0
    np.testing.assert_allclose(cat["ra"].value, ref["ra"].value)
    with pytest.raises(InputError, match="no WCS"):
        pipe.predict(NDData(ds["cube"].value), characterise=False)


def test_image_from_array_and_wcs():
    ds = blends.simulate(20, seed=6, size=128)
    pipe = blends.load()
    ref = pipe.predict(ds)
    cat = pipe.predict((ds["image"].value, ds.wcs))
    np.testing.assert_allclose(cat["ra"].value, ref["ra"].value)
    bare = pipe.predict((ds["image"].value, None))          # no WCS: pixel positions only
    assert len(bare) == len(ref) and np.isnan(bare["ra"].value).all()
