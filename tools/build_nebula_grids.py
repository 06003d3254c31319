"""Maintainer script: compact the nebula theory grids into package data (run once per grid release).

    python tools/build_nebula_grids.py ../shared/data

Writes into src/sim2sky/cases/nebulae/data/:
- ``mappings_grids.npz``: the MAPPINGS 5.1 HII and AGN-NLR grids of NebulaBayes 0.9.9 (MIT;
  Thomas et al. 2018, arXiv:1802.06049): parameters and log10 fluxes relative to Hβ of the
  optical lines 3300-9600 Å (the NebulaBayes wheel must be installed: ``pip install nebulabayes``);
- ``three_mdb.npz``: the documented columns of the 3MdB ``BOND_2`` HII and ``PNe_2021`` tables
  (Morisset et al. 2015, arXiv:1412.5368; GPL-3.0) as float32 log10 luminosities [erg/s];
- ``pyqz_grids.npz``: the MAPPINGS V (sph/pp, log P/k 4.5/5.0/5.5) and MAPPINGS IV kappa
  (kappa 10/20/50/inf) HII grids shipped in the pyqz 0.8.4 sdist (Dopita et al. 2013,
  arXiv:1307.5950; Vogt et al. 2015, arXiv:1505.05785; GPL-3.0): ``pip download --no-deps
  pyqz==0.8.4`` and pass the unpacked folder as the second argument.
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


PYQZ_MV = ["[NII]/Ha", "[SII]+/Ha", "[OIII]/Hb", "[OII]+/Hb", "[OI]/[OII]+", "6716/6731"]
PYQZ_MIV = ["[NII]/Ha", "[SII]+/Ha", "[OIII]/Hb", "[OI]/Ha", "[SIII]/[SII]+"]


def _pyqz_csv(path):
    lines = path.read_text().splitlines()
    header = [h.split("(")[0].strip() for h in lines[3].split(",") if h.strip()]
    rows = []
    for line in lines[4:]:
        try:
            v = [float(x) for x in line.split(",") if x.strip()]
        except ValueError:
            continue
        if len(v) == len(header):
            rows.append(v)
    return header, np.array(rows)


def pyqz(folder):
    """MAPPINGS V / IV grids of pyqz: params (log Q, 12+log O/H, log P/k, label) and log ratios."""
    ref = Path(folder) / "pyqz" / "ref_data"
    out = {"MV_columns": np.array(PYQZ_MV), "MIV_columns": np.array(PYQZ_MIV)}
    for fam, pattern, cols in (("MV", "MVgrid_QZ_*_GCZO_Pk*_kinf.csv", PYQZ_MV), ("MIV", "MIVgrid_QZ_pp_GCZO_Pk50_k*.csv", PYQZ_MIV)):
        params, ratios = [], []
        for path in sorted(ref.glob(pattern)):
            if "samp" in path.name:
                continue
            header, d = _pyqz_csv(path)
            tag = path.stem.split("_")
            # the sub-grid label: geometry (0 spherical, 1 plane-parallel) for MV, 1/kappa for MIV
            label = (0.0 if tag[2] == "sph" else 1.0) if fam == "MV" else (0.0 if tag[-1] == "kinf" else 1 / float(tag[-1][1:]))
            params.append(np.column_stack([d[:, 0], d[:, 1], d[:, 5], np.full(len(d), label)]))
            ratios.append(np.stack([d[:, header.index(c)] for c in cols], 1))
        out[f"{fam}_params"] = np.concatenate(params).astype(np.float32)
        out[f"{fam}_log_ratios"] = np.concatenate(ratios).astype(np.float32)
    return out


def main(root, pyqz_folder=None):
    if pyqz_folder:
        np.savez_compressed(OUT / "pyqz_grids.npz", **pyqz(pyqz_folder))
        print("pyqz_grids.npz", f"{(OUT / 'pyqz_grids.npz').stat().st_size / 1e6:.3f} MB")
        return
    grids = {**mappings("HII"), **mappings("NLR")}
    np.savez_compressed(OUT / "mappings_grids.npz", **grids)
    np.savez_compressed(OUT / "three_mdb.npz", **three_mdb(Path(root)))
    for f in ("mappings_grids.npz", "three_mdb.npz"):
        print(f, f"{(OUT / f).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data", sys.argv[2] if len(sys.argv) > 2 else None)
