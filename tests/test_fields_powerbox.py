"""Our field generators against an independent one (powerbox, Murray 2018) for the same P(k), and the exact
Gaussian likelihood on fields whose mean is not exactly zero (float32 rounding; powerbox fields)."""

import numpy as np
import pytest
import torch
from scipy import stats

from sim2sky.cases.fields import gaussian_fields, gaussian_log_likelihood
from sim2sky.cases.fields.power import linear_power
from sim2sky.nn.fourier import power_spectrum

SIZE, BOX, DEPTH = 64, 256.0, 20.0


def _pk_chi2(a, b):
    _, pa = power_spectrum(torch.as_tensor(a, dtype=torch.float64), 2, box=BOX)
    _, pb = power_spectrum(torch.as_tensor(b, dtype=torch.float64), 2, box=BOX)
    pa, pb = pa.numpy()[:, 1:], pb.numpy()[:, 1:]
    z = (pa.mean(0) - pb.mean(0)) / np.sqrt(pa.var(0, ddof=1) / len(pa) + pb.var(0, ddof=1) / len(pb))
    return float(stats.chi2.sf((z ** 2).sum(), len(z)))


def test_exact_likelihood_ignores_the_mean():
    field = gaussian_fields(np.array([[0.3, 0.8]]), SIZE, 2, BOX, DEPTH, rng=1)[0].astype(np.float64)
    om, s8 = np.meshgrid([0.2, 0.3, 0.4], [0.7, 0.8, 0.9], indexing="ij")
    base = gaussian_log_likelihood(field, om, s8, BOX, DEPTH)
    shifted = gaussian_log_likelihood(field + 1e-3, om, s8, BOX, DEPTH)
    assert np.all(np.isfinite(base)) and np.allclose(base, shifted, rtol=0, atol=1e-6)
    # the float32 field (mean ~1e-9 from rounding) gives the same posterior shape
    f32 = gaussian_log_likelihood(field.astype(np.float32), om, s8, BOX, DEPTH)
    assert np.allclose(f32 - f32.max(), base - base.max(), atol=1e-3)


def test_gaussian_generator_matches_powerbox():
    powerbox = pytest.importorskip("powerbox")
    theta = (0.3, 0.8)

    def pk(k, scale=1.0):
        return scale * linear_power(k, *theta)[0] / DEPTH

    n = 96
    ours = gaussian_fields(np.tile(theta, (n, 1)), SIZE, 2, BOX, DEPTH, rng=2).astype(np.float64)
    theirs = np.stack([powerbox.PowerBox(shape=(SIZE, SIZE), pk=pk, size=(BOX, BOX), seed=100 + i).delta_x() for i in range(n)])
    assert _pk_chi2(ours, theirs) > 1e-3
    assert ours.var() == pytest.approx(theirs.var(), rel=0.05)
    # the test has the power to see a 10% amplitude error
    louder = np.stack([powerbox.PowerBox(shape=(SIZE, SIZE), pk=lambda k: pk(k, 1.1), size=(BOX, BOX), seed=500 + i).delta_x()
                       for i in range(n)])
    assert _pk_chi2(ours, louder) < 1e-6


def test_lognormal_warns_when_no_lognormal_field_has_the_power():
    from sim2sky.cases.fields import lognormal_fields

    # 32^3 cubes of 128 Mpc/h at (0.45, 0.95): 3% of the Gaussian power's modes are negative (powerbox refuses)
    with pytest.warns(UserWarning, match="negative modes"):
        lognormal_fields(np.array([[0.45, 0.95]]), 32, 3, 128.0, rng=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lognormal_fields(np.array([[0.3, 0.8]]), 64, 2, 256.0, rng=0)      # the default maps: fine
