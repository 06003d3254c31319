"""The deblending case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives a survey field of GalSim galaxies (half in close pairs) with its truth (a
:class:`~sim2sky.core.contract.Dataset`); ``train`` fits the centre detector and the
flux-fraction network on simulated blend stamps (what ``tools/train_blend_models.py`` ran for
the shipped models); ``load(model).predict(image)`` deblends an image and returns a catalogue
with RA/Dec; ``check`` scores completeness and flux bias against the truth.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from ...core.atomic import atomic_dir, atomic_file, check_out_dir
from ...core.contract import CasePipeline, Dataset, qtable, train_settings
from ...core.errors import InputError
from ...core.modelio import seal_folder
from ...core.tables import write_table
from .api import catalogue_table, deblend, load_models, read_image
from .deblender import train_blend_detector, train_fraction_network
from .forward import simulate_blends, simulate_field
from .measure import match_positions

__all__ = ["simulate", "train", "load", "BlendsCase"]


def simulate(n: int, *, seed: int = 0, size: int = 512, pair_fraction: float = 0.5) -> Dataset:
    """A ``size`` x ``size`` survey field with ``n`` galaxies, ``pair_fraction`` of them in close pairs.

    Returns
    -------
    Dataset
        ``image`` (size, size) [count], ``truth`` QTable (``ra``/``dec`` [deg], ``x``/``y`` [pix],
        ``flux`` [count], ``mag`` [mag], ``re`` [arcsec], ``sersic_n``, ``g1``, ``g2``, ``nearest``
        [arcsec]), ``wcs`` (TAN) and the header in ``meta["header"]``; ``.write(path)`` writes
        the FITS image and ``<stem>_truth.csv``.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    image, truth, header = simulate_field(n, (size, size), seed, pair_fraction=pair_fraction)
    wcs = WCS(header)
    cols = {k: np.asarray(v) for k, v in truth.items()}
    cols["ra"], cols["dec"] = wcs.wcs_pix2world(cols["x"], cols["y"], 0)
    table = qtable(cols, {"x": "pix", "y": "pix", "flux": "count", "mag": "mag", "re": "arcsec", "nearest": "arcsec",
                          "ra": "deg", "dec": "deg"})
    return Dataset({"image": image * u.count}, table, wcs, {"header": header}, writer=_write)


def _write(ds: Dataset, path: Path) -> dict:
    if path.suffix.lower() != ".fits":
        raise InputError(f"out: {path.name} must end in .fits")
    with atomic_file(path) as tmp:
        fits.PrimaryHDU(np.asarray(ds["image"].value, np.float32), header=ds.meta["header"]).writeto(tmp)
    truth_out = path.with_name(path.stem + "_truth.csv")
    write_table(ds.truth, truth_out)
    return {"image": str(path), "truth": str(truth_out), "galaxies": len(ds.truth)}


def train(data_or_config=None, out=None, *, overwrite: bool = False, n_stamps: int = 8000, epochs: int = 8,
          seed: int = 1) -> Path:
    """Train the centre detector and the flux-fraction U-Net on ``n_stamps`` simulated blends
    (one to three galaxies each); write ``out`` with ``detector/`` and ``fractions/``.
    ``data_or_config`` may hold the same settings as a dict."""
    s = train_settings(data_or_config, {}, "blends", ("n_stamps", "epochs", "seed"))
    n_stamps, epochs, seed = s.get("n_stamps", n_stamps), s.get("epochs", epochs), s.get("seed", seed)
    out = check_out_dir(out, overwrite=overwrite)
    images, isolated, truth = simulate_blends(n_stamps, seed=seed)
    det = train_blend_detector(images, truth, epochs=epochs, seed=seed)
    frac = train_fraction_network(images, isolated, truth, epochs=epochs, seed=seed)
    prov = {"command": "sim2sky blends train", "stamps": n_stamps, "seed": seed}
    with atomic_dir(out) as tmp:
        det.save(tmp / "detector", provenance=prov,
                 meta={"input": "asinh(image / (2 noise))", "target": "centre heat map, sigma 1.5 px"})
        frac.save(tmp / "fractions", provenance=prov,
                  meta={"input": "[asinh image, this centre, other centres]", "target": "I_k / sum_j I_j"})
        seal_folder(tmp)
    return out


def load(model=None) -> "BlendsCase":
    """The detector and flux-fraction networks of a model folder (the shipped ones when None)."""
    return BlendsCase(model)


class BlendsCase(CasePipeline):
    """Detection and deblending of galaxy images: fluxes with errors, shapes, a segmentation map."""

    case = "blends"

    def __init__(self, model=None):
        self.model = model
        self.models_ = load_models() if model is None else load_models(str(Path(model) / "detector"),
                                                                       str(Path(model) / "fractions"))

    def predict(self, data, *, noise: float | None = None, threshold: float = 0.8):
        """The catalogue of an image in counts: a :class:`Dataset` from :func:`simulate`, an
        ``NDData``/``CCDData`` or ``(array, WCS)`` pair, or a FITS path. ``ra``/``dec`` come from
        the image's WCS (NaN without one)."""
        if not 0 < threshold < 1:
            raise InputError(f"threshold must lie in (0, 1), got {threshold}")
        image, wcs, header = _image(data)
        zp = header.get("MAGZP", header.get("ZEROPT")) if hasattr(header, "get") else None
        res = deblend(image, noise, self.models_, threshold, float(zp) if zp is not None else None)
        return catalogue_table(res["catalogue"], wcs if wcs is not None and wcs.has_celestial else None)

    def check(self, data=None, *, n: int = 100, seed: int = 9100, max_distance: float = 3.0) -> dict:
        """Completeness and purity (matches within ``max_distance`` pixels), completeness of the
        galaxies in close pairs (nearest < 1.5 arcsec), and the median and scatter of the
        fractional flux error of matches, against a simulated field (fresh when ``data`` is None)."""
        data = simulate(n, seed=seed) if data is None else data
        if not isinstance(data, Dataset):
            raise InputError("data: check needs a simulated Dataset with its truth (from simulate())")
        cat = self.predict(data)
        t = data.truth
        det_of_true, true_of_det = match_positions(t["x"].value, t["y"].value, cat["x"].value, cat["y"].value,
                                                   max_distance)
        hit = det_of_true >= 0
        rel = cat["flux"].value[det_of_true[hit]] / t["flux"].value[hit] - 1
        close = t["nearest"].value < 1.5
        return {"n_true": len(t), "n_detected": len(cat), "completeness": float(hit.mean()),
                "purity": float((true_of_det >= 0).mean()) if len(cat) else float("nan"),
                "completeness_close_pairs": float(hit[close].mean()) if close.any() else float("nan"),
                "flux_bias_median": float(np.median(rel)) if hit.any() else float("nan"),
                "flux_scatter_mad": float(1.4826 * np.median(np.abs(rel - np.median(rel)))) if hit.any() else float("nan")}


def _image(data):
    """``(image (y, x) float32, WCS or None, header)`` from what predict accepts."""
    if isinstance(data, Dataset):
        return np.asarray(data["image"].to_value(u.count), np.float32), data.wcs, data.meta.get("header", {})
    if isinstance(data, (str, Path)):
        image, header = read_image(data)
        return image, WCS(header), header
    if isinstance(data, tuple) and len(data) == 2:
        array, wcs = data
        return np.asarray(getattr(array, "value", array), np.float32), wcs, {}
    if hasattr(data, "data") and hasattr(data, "wcs"):         # NDData, CCDData
        return np.asarray(data.data, np.float32), data.wcs, dict(getattr(data, "meta", {}) or {})
    raise InputError(f"data: expected a Dataset, NDData, (array, WCS) or a FITS path; got {type(data).__name__}")
