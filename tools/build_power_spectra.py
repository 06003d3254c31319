"""Maintainer script: tabulate linear matter power spectra with CAMB into package data.

    pip install camb && python tools/build_power_spectra.py

Writes ``src/sim2sky/cases/fields/data/linear_pk.npz``: the z = 0 linear matter power spectrum
of flat LCDM normalised to sigma_8 = 1, on a grid of Omega_m (other parameters Planck 2018:
h = 0.6766, Omega_b h^2 = 0.02242, n_s = 0.9665), k in h/Mpc, P in (Mpc/h)^3. At run time
``P(k; Omega_m, sigma_8) = sigma_8^2 * P_1(k; Omega_m)``, interpolated in log P across Omega_m
(sim2sky.cases.fields.power), so simulating fields needs neither CAMB nor a download.
References: Lewis, Challinor & Lasenby 2000, arXiv:astro-ph/9911177.
"""

from pathlib import Path

import camb
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "cases" / "fields" / "data" / "linear_pk.npz"
H, OMBH2, NS = 0.6766, 0.02242, 0.9665
OMEGA_M = np.linspace(0.08, 0.60, 53)
K = np.logspace(-4, np.log10(300.0), 400)


def shape(omega_m: float) -> np.ndarray:
    pars = camb.CAMBparams()
    ombh2 = OMBH2
    omch2 = omega_m * H**2 - ombh2 - 0.06 / 93.14
    pars.set_cosmology(H0=100 * H, ombh2=ombh2, omch2=omch2, mnu=0.06)
    pars.InitPower.set_params(ns=NS, As=2.1e-9)
    pars.set_matter_power(redshifts=[0.0], kmax=K[-1] * H * 1.1, nonlinear=False)
    res = camb.get_results(pars)
    interp = res.get_matter_power_interpolator(nonlinear=False, hubble_units=True, k_hunit=True)
    pk = interp.P(0.0, K)
    return pk / res.get_sigma8_0() ** 2


if __name__ == "__main__":
    table = np.stack([shape(om) for om in OMEGA_M]).astype(np.float64)
    np.savez_compressed(OUT, omega_m=OMEGA_M, k=K, pk_sigma8_1=table, h=H, ombh2=OMBH2, ns=NS)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB): {table.shape}")
