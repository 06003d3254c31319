"""scarlet2 (the JAX successor of scarlet, Melchior et al. 2018, arXiv:1802.10157) as the
model-fitting deblender peer of the blend benchmark (benchmark-only dependency: ``pip install scarlet2``).

Detections are SEP's (the same call as the SEP peer), as scarlet's own tutorials do; each becomes a scarlet2
``Source`` with a free-form pixel morphology initialised from Gaussian moments (``init.from_gaussian_moments``),
constrained to [0, 1], and a positive amplitude, fitted with scarlet2's Adam optimiser against the observed
Moffat PSF (drawn with GalSim), deconvolved to a Gaussian model PSF of sigma 0.8 px. Flux = the sum of the
source's model, shape = adaptive moments of the model convolved back to the observed PSF.
"""

from __future__ import annotations

import numpy as np

from sim2sky.cases.blends import SURVEY
from sim2sky.cases.blends.peers import sep_deblend

__all__ = ["scarlet2_deblend", "psf_image", "version"]

_CALLS = [0]


def version() -> str:
    import scarlet2
    return scarlet2.__version__


def psf_image(size: int = 25, survey=SURVEY) -> np.ndarray:
    """The survey's Moffat PSF on its pixels, unit sum: (size, size)."""
    import galsim

    psf = galsim.Moffat(beta=survey.psf_beta, fwhm=survey.psf_fwhm_arcsec)
    img = psf.drawImage(nx=size, ny=size, scale=survey.pixel_arcsec).array
    return img / img.sum()


def scarlet2_deblend(image: np.ndarray, noise: float, psf: np.ndarray | None = None,
                     max_iter: int = 200) -> tuple[dict, np.ndarray | None]:
    """``({x, y, flux}, stamps (n, ny, nx))`` of the scarlet2 model of one image; ``psf``: the observed PSF
    image (default: the survey's Moffat)."""
    import jax
    import jax.numpy as jnp
    import scarlet2 as sc2
    from numpyro.distributions import constraints

    sc2.set_validation(False)
    psf = psf_image() if psf is None else np.asarray(psf, float) / np.sum(psf)
    det = sep_deblend(image, noise)
    if len(det["x"]) == 0:
        return {"x": np.zeros(0), "y": np.zeros(0), "flux": np.zeros(0)}, np.zeros((0,) + image.shape)
    data = jnp.asarray(image[None], jnp.float32)
    obs = sc2.Observation(data, weights=jnp.full(data.shape, 1.0 / noise ** 2, jnp.float32),
                          psf=sc2.ArrayPSF(jnp.asarray(psf[None], jnp.float32)))
    frame = sc2.Frame(sc2.Box(data.shape), psf=sc2.GaussianPSF(0.8))
    with sc2.Scene(frame) as scene:
        for x, y in zip(det["x"], det["y"]):
            center = jnp.array([y, x])
            try:
                spectrum, morph = sc2.init.from_gaussian_moments(obs, center, min_corr=0.99)
            except (ValueError, IndexError, ZeroDivisionError):
                spectrum, morph = sc2.init.pixel_spectrum(obs, center), jnp.full((11, 11), 0.5)
            sc2.Source(center, spectrum, morph)
    with sc2.Parameters(scene):
        for i, src in enumerate(scene.sources):
            sc2.Parameter(src.spectrum, name=f"spectrum:{i}", constraint=constraints.positive, stepsize=sc2.relative_step)
            sc2.Parameter(src.morphology, name=f"morph:{i}", constraint=constraints.unit_interval, stepsize=0.1)
    fitted = scene.fit(obs, max_iter=max_iter, e_rel=1e-4, progress_bar=False)
    flux, stamps = [], []
    for src in fitted.sources:
        model = np.asarray(src())[0]
        flux.append(float(model.sum()))
        # the source alone on the image grid, convolved to the observed PSF (what a shape measurement sees)
        full = np.zeros(image.shape)
        (y0, y1), (x0, x1) = [(max(b, 0), min(b + n, s)) for b, n, s in zip(src.bbox.origin[1:], model.shape, image.shape)]
        oy, ox = y0 - src.bbox.origin[1], x0 - src.bbox.origin[2]
        full[y0:y1, x0:x1] = model[oy:oy + y1 - y0, ox:ox + x1 - x0]
        stamps.append(np.asarray(obs.render(jnp.asarray(full[None], jnp.float32)))[0])
    # every scene compiles new XLA code (its own number and sizes of sources); the compiled code piles up
    # until LLVM cannot map more memory (it stopped a 1,500-blend run after ~500 scenes), so the caches are
    # cleared every 50 scenes (every scene: 8.6 s per blend instead of 1.3 s)
    _CALLS[0] += 1
    if _CALLS[0] % 50 == 0:
        jax.clear_caches()
    return {"x": np.asarray(det["x"]), "y": np.asarray(det["y"]), "flux": np.array(flux)}, np.array(stamps)
