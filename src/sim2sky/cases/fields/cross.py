"""21-cm cubes from 21cmFAST, an independent simulator over the same (zeta, T_vir) prior as ``reion21cm``.

A posterior trained on one simulator can learn that simulator's quirks. 21cmFAST (Mesinger,
Furlanetto & Cen 2011; v4, Murray et al. 2020 for v3) is the field's standard semi-numerical
code, so kind ``21cmfast`` runs it with the parameters meaning what they mean in ``reion21cm``:
``HII_EFF_FACTOR`` = zeta, ``ION_Tvir_MIN`` = log10 T_vir (``SOURCE_MODEL = CONST-ION-EFF`` with
``M_MIN_in_Mass = False``), the same cosmology (:data:`~.schema.PLANCK`), redshift, box, grid and
largest bubble radius, and the same observation model (:func:`~.forward.observe_21cm`).

What differs is the physics the two codes approximate differently: 21cmFAST displaces the
density field with 2LPT, filters with a sharp-k window, normalises the conditional mass
function to Sheth-Tormen and computes the initial conditions on a finer grid (``DIM = 2
size``); ours uses the linear density field, top-hat filters and pure extended Press-Schechter.
Neither includes redshift-space distortions here. At (zeta, log10 T_vir) = (30, 4.7) both give a
mean of 11-12 mK and x_HI ~0.5 (one 32^3 box each, seed 1).

21cmFAST is an optional dependency (``pip install 'sim2sky[cross]'``, which compiles against
FFTW and GSL: Debian ``libfftw3-dev libgsl-dev``). One 32^3 box takes ~1 s on one core.

References
----------
Mesinger, A., Furlanetto, S. & Cen, R. (2011), MNRAS 411, 955, arXiv:1003.3878.
Murray, S. G. et al. (2020), JOSS 5, 2582, arXiv:2010.15121.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...core.extras import require
from .forward import observe_21cm
from .schema import PLANCK, REION_REDSHIFT

__all__ = ["twentyonecmfast_fields"]


def twentyonecmfast_fields(theta, size: int = 32, box: float = 128.0, noise_mk: float = 0.0,
                           wedge: float | None = None, z: float = REION_REDSHIFT, r_max: float = 40.0, rng=None,
                           return_xhi: bool = False):
    """21-cm brightness-temperature cubes [mK] from 21cmFAST, per (zeta, log10 T_vir).

    Parameters
    ----------
    theta : array (B, 2): zeta, log10 T_vir [K]
    size, box : cube of size^3 cells, side ``box`` [Mpc/h]; axis 0 is the line of sight
    noise_mk, wedge : the observation model of :func:`~.forward.observe_21cm`
    z : redshift of the coeval box
    r_max : largest bubble radius [Mpc/h] (21cmFAST's ``R_BUBBLE_MAX``, in Mpc)
    rng : numpy Generator or seed; it draws each box's 21cmFAST seed, then the noise
    return_xhi : also return the neutral-fraction cubes

    Returns
    -------
    float32 (B, size, size, size) [mK] (and x_HI of the same shape)
    """
    p21 = require("py21cmfast")
    rng = np.random.default_rng(rng)
    theta = np.atleast_2d(np.asarray(theta, float))
    h = PLANCK["h"]
    seeds = rng.integers(1, 2**31 - 1, len(theta))
    out = np.empty((len(theta), size, size, size), np.float32)
    xhi = np.empty_like(out) if return_xhi else None
    for i, ((zeta, log_tvir), seed) in enumerate(zip(theta, seeds)):
        with warnings.catch_warnings():
            # "CONST-ION-EFF uses the EPS conditional mass function normalised to ... HMF": what we ask for
            warnings.simplefilter("ignore", UserWarning)
            inputs = p21.InputParameters.from_template("const-zeta", random_seed=int(seed)).evolve_input_structs(
                HII_DIM=size, DIM=2 * size, BOX_LEN=box / h, HII_EFF_FACTOR=float(zeta), ION_Tvir_MIN=float(log_tvir),
                M_MIN_in_Mass=False, R_BUBBLE_MAX=r_max / h, SIGMA_8=PLANCK["sigma_8"], OMm=PLANCK["omega_m"],
                hlittle=h)
            coeval = p21.run_coeval(out_redshifts=[float(z)], inputs=inputs, write=False)[0]
        # 21cmFAST's line of sight is its last axis; ours is the first
        out[i] = np.moveaxis(coeval.brightness_temp, -1, 0)
        if return_xhi:
            xhi[i] = np.moveaxis(coeval.ionized_box.get("neutral_fraction"), -1, 0)
    out[:] = observe_21cm(out, box, noise_mk, wedge, rng)
    return (out, xhi) if return_xhi else out
