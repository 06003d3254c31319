"""Classical deblenders run as peers in the benchmark: photutils and SEP (Source Extractor's algorithm).

Both detect on a PSF-matched filtered image above 1.5 sigma and split blends by multi-threshold
deblending (32 levels); fluxes are the deblended segments' (isophotal) fluxes, as in their
default catalogues. Imported lazily: ``pip install photutils sep`` (the ``bench`` extra).
scarlet (Melchior et al. 2018) did not build on this machine (no wheel; its build failed), so it
is not among the peers.
"""

from __future__ import annotations

import numpy as np
from astropy.convolution import convolve

from .schema import SURVEY, Survey

__all__ = ["photutils_deblend", "sep_deblend"]


def photutils_deblend(image: np.ndarray, noise: float, survey: Survey = SURVEY, n_sigma: float = 1.5) -> dict:
    """photutils ``detect_sources`` + ``deblend_sources``: ``x, y, flux, segmentation``."""
    from photutils.segmentation import SourceCatalog, deblend_sources, detect_sources, make_2dgaussian_kernel  # peers: test/bench extras

    fwhm_px = survey.psf_fwhm_arcsec / survey.pixel_arcsec
    kernel = make_2dgaussian_kernel(fwhm_px, size=int(2 * round(1.5 * fwhm_px) + 1))
    conv = convolve(image, kernel)
    segm = detect_sources(conv, n_sigma * noise, n_pixels=5)      # as SExtractor: in units of the unfiltered rms
    if segm is None:
        return {"x": np.zeros(0), "y": np.zeros(0), "flux": np.zeros(0), "segmentation": np.zeros(image.shape, int)}
    segm = deblend_sources(conv, segm, n_pixels=5, n_levels=32, contrast=0.001, progress_bar=False)
    cat = SourceCatalog(image, segm, convolved_data=conv)
    x = cat.x_centroid if hasattr(cat, "x_centroid") else cat.xcentroid     # renamed in photutils 3.0
    y = cat.y_centroid if hasattr(cat, "y_centroid") else cat.ycentroid
    return {"x": np.asarray(x), "y": np.asarray(y), "flux": np.asarray(cat.segment_flux),
            "segmentation": segm.data}


def sep_deblend(image: np.ndarray, noise: float, n_sigma: float = 1.5) -> dict:
    """SEP ``extract`` with its default matched filter and deblending: ``x, y, flux, segmentation``."""
    import sep  # a peer: test/bench extra

    data = np.ascontiguousarray(image, np.float64)
    objects, segmap = sep.extract(data, n_sigma, err=noise, minarea=5, deblend_nthresh=32, deblend_cont=0.005,
                                  segmentation_map=True)
    return {"x": np.asarray(objects["x"]), "y": np.asarray(objects["y"]), "flux": np.asarray(objects["flux"]),
            "segmentation": segmap}
