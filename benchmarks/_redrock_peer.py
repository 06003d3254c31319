"""The real redrock (Bailey et al., DESI; redrock 0.21 from PyPI) as the spectra benchmark's classical peer.

Templates: DESI's own star (A, B, F, G, K, M, WD) and QSO (LOZ, HIZ) PCA templates from the data mirror
(``templates/redrock``). DESI's galaxy template is not in the mirror, so each galaxy subclass gets a
redrock template of 5 PCA vectors of 400 noiseless simulated rest-frame spectra from our theory (the
same bases the chi^2 re-implementation uses), on redrock's log(1+z) grid (step 3e-4) over 0 < z < 0.35.
Everything else (the redshift scan, Legendre terms for stars, minima refinement, ZWARN, DELTACHI2) is
redrock's own code.

    pip install redrock
"""

from __future__ import annotations

import glob
import os

import numpy as np
import scipy.sparse as sp

import _data  # noqa: F401
from sim2sky.cases.spectra import CLASSES, model_wave
from sim2sky.cases.spectra.forward import _galaxy
from sim2sky.cases.spectra.templates import galaxy_line_waves
from sim2sky.core.data import dataset_root

__all__ = ["galaxy_pca_bases", "RedrockPeer", "version"]

GALAXIES = ("GALAXY_PASSIVE", "GALAXY_STARFORMING", "GALAXY_STARBURST", "GALAXY_AGN")


def version() -> str:
    import redrock
    return redrock.__version__


def galaxy_pca_bases(rng) -> dict:
    """{galaxy class: (rest wave [A], basis (5, n))}: mean + 4 principal components of 400 noiseless spectra
    (continued beyond the theory's rest range with the edge values, as the simulator continues its spectra)."""
    out = {}
    for c in GALAXIES:
        w, cont, names, lflux, *_ = _galaxy(c, 400, rng)
        spec = cont.copy()
        for j, l0 in enumerate(galaxy_line_waves(names)):
            i = np.searchsorted(w, l0)
            if 0 < i < len(w):
                spec[:, i] += lflux[:, j] / (w[1] - w[0])
        _, _, vt = np.linalg.svd(spec - spec.mean(0), full_matrices=False)
        basis = np.vstack([spec.mean(0), vt[:4]])
        # redrock needs the template to span every observed pixel at every redshift (rest 2,667-10,400 A over
        # 0 < z < 0.35, the theory's SSPs start at 3,330 A): continued with the edge values, as the simulator
        # itself continues its spectra (forward._fill_edges)
        step = w[1] - w[0]
        lo, hi = np.arange(2000.0, w[0], step), np.arange(w[-1] + step, 12000.0, step)
        out[c] = (np.concatenate([lo, w, hi]), np.pad(basis, ((0, 0), (len(lo), len(hi))), mode="edge"))
    return out


class RedrockPeer:
    """``fit(flux, ivar) -> (class index (n,), z (n,), zwarn (n,))`` with redrock's zfind on the model grid."""

    def __init__(self, rng, mp_procs: int = 2):
        folder = dataset_root("redrock") / "templates" / "redrock"
        os.environ.setdefault("RR_TEMPLATE_DIR", str(folder))
        from redrock.templates import Template

        self.wave = model_wave().astype(np.float64)
        self.mp_procs = mp_procs
        self.templates = [Template(f) for f in sorted(glob.glob(str(folder / "rrtemplate-*.fits.gz")))]
        zgrid = 10 ** np.arange(0.0, np.log10(1.35), 3e-4) - 1
        for c, (w, basis) in galaxy_pca_bases(rng).items():
            self.templates.append(Template(spectype="GALAXY", subtype=c[7:], wave=w, flux=basis, redshifts=zgrid,
                                           method="PCA"))
        n = len(self.wave)
        self.R = sp.dia_matrix((np.ones((1, n)), [0]), shape=(n, n))      # our spectra are at model resolution

    @staticmethod
    def _class(spectype: str, subtype: str, z: float) -> int:
        spectype, subtype = spectype.strip(), subtype.strip()
        if spectype == "STAR":
            return CLASSES.index(f"STAR_{subtype}")
        if spectype == "QSO":
            # our two quasar classes are redshift ranges (broad-line below z = 1.6); redrock's LOZ/HIZ overlap
            return CLASSES.index("QSO_BROADLINE" if z < 1.6 else "QSO")
        return CLASSES.index(f"GALAXY_{subtype}")

    def fit(self, flux, ivar, wave=None):
        from redrock.targets import DistTargetsCopy, Spectrum, Target
        from redrock.templates import DistTemplate
        from redrock.zfind import zfind

        wave = self.wave if wave is None else np.asarray(wave, np.float64)
        n = len(wave)
        R = self.R if n == len(self.wave) else sp.dia_matrix((np.ones((1, n)), [0]), shape=(n, n))
        targets = DistTargetsCopy([Target(i, [Spectrum(wave, np.nan_to_num(np.asarray(f, float)),
                                                       np.nan_to_num(np.asarray(v, float)), R)])
                                   for i, (f, v) in enumerate(zip(flux, ivar))])
        # redrock's load_dist_templates reads files only; built templates are distributed directly
        dtemplates = [DistTemplate(t, targets.wavegrids(), mp_procs=self.mp_procs) for t in self.templates]
        _, zfit = zfind(targets, dtemplates, mp_procs=self.mp_procs)
        best = zfit[zfit["znum"] == 0]
        best.sort("targetid")
        z = np.asarray(best["z"], float)
        cls = np.array([self._class(str(a), str(b), zz) for a, b, zz in zip(best["spectype"], best["subtype"], z)])
        return cls, z, np.asarray(best["zwarn"], int)
