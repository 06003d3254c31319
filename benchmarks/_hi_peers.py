"""The real third-party source finders the HI benchmark compares with (benchmark-only dependencies).

* ``astrodendro`` (Robitaille et al.; Rosolowsky et al. 2008, arXiv:0802.2944) on the cube: dendrogram
  of the noise-normalised cube after a matched spatial (beam) and 3-channel spectral smoothing,
  renormalised to unit noise; each trunk (a structure with no parent) is one source.
* ``bdsf`` (PyBDSF, Mohan & Rafferty 2015, ascl:1502.007) on the moment-0 map: the continuum finder's
  islands on the sum over channels (noise-normalised by sqrt(channels)); each island becomes a source
  over the channels where its footprint's spectrum, smoothed over 5 channels, exceeds 2 sigma around the
  spectral peak. This is how a 2-D continuum finder is used on a line cube; it dilutes faint narrow lines
  by summing over all channels, which the completeness shows.

    pip install astrodendro bdsf
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy import ndimage

from sim2sky.cases.hicubes import INSTRUMENT, cube_header
from sim2sky.cases.hicubes.finder import noise_level

__all__ = ["dendro_find", "pybdsf_find", "versions"]


def versions() -> dict:
    import astrodendro
    import bdsf
    return {"astrodendro": getattr(astrodendro, "__version__", "0.3.1"), "bdsf": bdsf.__version__}


def dendro_find(snr: np.ndarray, min_value: float, min_delta: float = 1.0, min_npix: int = 20,
                beam_sigma_px: float = INSTRUMENT.beam_sigma_px) -> np.ndarray:
    """Label cube (int32) of the dendrogram trunks of the smoothed, renormalised cube above ``min_value`` sigma."""
    from astrodendro import Dendrogram

    sm = ndimage.uniform_filter1d(ndimage.gaussian_filter(snr, (0, beam_sigma_px, beam_sigma_px)), 3, axis=0)
    sm /= noise_level(sm)
    d = Dendrogram.compute(sm.astype(np.float64), min_value=min_value, min_delta=min_delta, min_npix=min_npix)
    labels = np.zeros(snr.shape, np.int32)
    for k, trunk in enumerate(d.trunk, start=1):
        labels[trunk.get_mask()] = k
    return labels


def pybdsf_find(snr: np.ndarray, thresh_isl: float, thresh_pix: float | None = None, spectral_sigma: float = 2.0,
                tmp: str | None = None) -> np.ndarray:
    """Label cube (int32) of PyBDSF's islands on the moment-0 map, each over its detected channel range."""
    import bdsf

    c = snr.shape[0]
    mom0 = (snr.sum(0) / np.sqrt(c)).astype(np.float32)        # unit noise per pixel before the beam
    # the map keeps a one-channel FREQ axis (PyBDSF reads the frequency from it)
    header = cube_header((1,) + snr.shape[1:])
    for key in ("SPECSYS", "RESTFRQ"):
        del header[key]
    header["FREQ"] = INSTRUMENT.freq0_hz
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        path = Path(folder) / "mom0.fits"
        fits.PrimaryHDU(mom0[None], header=header).writeto(path)
        cwd = os.getcwd()
        os.chdir(folder)                      # PyBDSF writes its log beside the input
        try:
            img = bdsf.process_image(str(path), thresh_isl=thresh_isl, thresh_pix=thresh_pix or thresh_isl + 1.5,
                                     rms_box=(60, 20), quiet=True, frequency=INSTRUMENT.freq0_hz, ncores=1)
        finally:
            os.chdir(cwd)
        if not getattr(img, "nisl", 0):
            return np.zeros(snr.shape, np.int32)
        islands = np.asarray(img.pyrank)          # island id per pixel, -1 outside islands
    labels = np.zeros(snr.shape, np.int32)
    n = 0
    for k in np.unique(islands):
        if k < 0:
            continue
        foot = islands == k
        spec = ndimage.uniform_filter1d(snr[:, foot].sum(1) / np.sqrt(foot.sum()), 5)
        spec /= max(noise_level(spec), 1e-9)
        peak = int(np.argmax(spec))
        if spec[peak] < spectral_sigma:
            continue
        lo = peak
        while lo > 0 and spec[lo - 1] > spectral_sigma:
            lo -= 1
        hi = peak
        while hi < c - 1 and spec[hi + 1] > spectral_sigma:
            hi += 1
        n += 1
        labels[lo:hi + 1][:, foot] = n
    return labels

