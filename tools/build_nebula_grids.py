"""Maintainer script: compact the nebula theory grids into package data (run once per grid release).

    python tools/build_nebula_grids.py ../shared/data

Writes into src/sim2sky/cases/nebulae/data/:
- ``mappings_grids.npz``: the MAPPINGS 5.1 HII and AGN-NLR grids of NebulaBayes 0.9.9 (MIT;
  Thomas et al. 2018, arXiv:1802.06049): parameters and log10 fluxes relative to Hβ of the
  optical lines 3300-9600 Å (the NebulaBayes wheel must be installed: ``pip install nebulabayes``);
- ``three_mdb.npz``: the documented columns of the 3MdB ``BOND_2`` HII and ``PNe_2021`` tables
  (Morisset et al. 2015, arXiv:1412.5368; GPL-3.0) as float32 log10 luminosities [erg/s].
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
from astropy.table import Table

OUT = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "cases" / "nebulae" / "data"
OPTICAL = ["OII3726", "OII3729", "NeIII3869", "HeI3889", "NeIII3967", "Hdelta", "Hgamma", "OIII4363", "HeI4472",
           "HeII4686", "ArIV4711", "ArIV4740", "Hbeta", "OIII5007", "HeI5016", "NI5198", "NI5200", "NII5755",
           "HeI5876", "OI6300", "SIII6312", "OI6364", "HeII6560", "Halpha", "NII6583", "HeI6678", "SII6716",
           "SII6731", "HeI7065", "OII7320", "OII7330", "SIII9069", "SIII9531"]


def mappings(kind):
    spec = importlib.util.find_spec("NebulaBayes")
    path = Path(list(spec.submodule_search_locations)[0]) / "grids" / f"NB_{kind}_grid.fits.gz"
    t = Table.read(path)
    axes = ["log U", "log P/k", "12 + log O/H"] + (["log E_peak", "Gamma", "p_NT"] if kind == "NLR" else [])
    lines = [c for c in OPTICAL if c in t.colnames]
    hb = np.asarray(t["Hbeta"], float)[:, None]
    flux = np.stack([np.asarray(t[c], float) for c in lines], 1) / hb
    # 10 low-excitation HII models have no [OIII] (NaN): negligible there
    logf = np.log10(np.maximum(np.nan_to_num(flux, nan=1e-4), 1e-8)).astype(np.float32)
    return {f"{kind}_axes": np.array(axes), f"{kind}_params": np.stack([np.asarray(t[a], float) for a in axes], 1),
            f"{kind}_lines": np.array(lines), f"{kind}_log_flux_hb": logf}


def three_mdb(root):
    out = {"columns": np.array(["OIII5007", "SII6716_31", "NII6584", "OII3727", "HA6563", "HB4861"])}
    for name in ("HII", "PNe"):
        table = np.loadtxt(root / "nebulae" / "3mdb" / f"Ratios_{name}_fluxes.txt", skiprows=1)[:, 1:]
        good = np.all(np.isfinite(table) & (table > 0), axis=1)
        out[name] = np.log10(table[good]).astype(np.float32)
    return out


def main(root):
    grids = {**mappings("HII"), **mappings("NLR")}
    np.savez_compressed(OUT / "mappings_grids.npz", **grids)
    np.savez_compressed(OUT / "three_mdb.npz", **three_mdb(Path(root)))
    for f in ("mappings_grids.npz", "three_mdb.npz"):
        print(f, f"{(OUT / f).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
