"""The HI-cube case under the case contract (:mod:`sim2sky.core.contract`).

``simulate`` gives a mock SKA-like cube with its truth (a :class:`~sim2sky.core.contract.Dataset`);
``train`` fits the 3-D U-Net detector, the NPE characteriser and its width calibration on
simulations (what ``tools/train_hicube_models.py`` ran for the shipped models);
``load(model).predict(cube)`` finds, measures and characterises sources in memory and returns a
catalogue with RA/Dec; ``check`` scores completeness, purity and the posteriors' coverage. Cubes
larger than memory go through ``sim2sky hicubes predict`` (tiled, resumable).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from ...core.atomic import atomic_dir, atomic_file, check_out_dir
from ...core.calibration import data_digest, write_calibrated
from ...core.contract import CasePipeline, Dataset, qtable, sky_positions, train_settings
from ...core.errors import InputError
from ...core.modelio import seal_folder
from ...core.tables import write_table
from ...infer.calibrate import IntervalCalibration
from ...infer.io import save_posterior
from .calibration import detection_samples, labelled_cubes
from .characterise import train_characteriser
from .detector import train_detector, training_cubes
from .forward import simulate_cube, source_stamps
from .io import read_cube, wcs_instrument
from .measure import match_catalogue
from .pipeline import DetectConfig, models_dir, find_sources, load_models, posterior_calibration, width_scale
from .schema import INSTRUMENT, UNITS

__all__ = ["simulate", "train", "load", "HICubesCase", "catalogue_table"]


def simulate(n: int, *, seed: int = 0, shape=(64, 96, 96), noise_jy: float | None = None,
             artefacts: bool = True) -> Dataset:
    """A mock HI cube with ``n`` galaxies.

    Returns
    -------
    Dataset
        ``cube`` (c, y, x) [Jy/beam], ``mask`` (c, y, x) truth source ids, ``truth`` QTable (RA/Dec
        [deg], line flux [Jy km/s], w20 [km/s], size [arcsec], angles [deg]...), ``wcs`` (RA---SIN,
        DEC--SIN, FREQ) and the FITS header in ``meta["header"]``; ``.write(path)`` writes the
        FITS cube (``DATA`` extension) and ``<stem>_truth.csv``.
    """
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}")
    inst = INSTRUMENT if noise_jy is None else replace(INSTRUMENT, noise_jy=float(noise_jy))
    cube, labels, truth, header = simulate_cube(n, tuple(shape), inst, seed, artefacts)
    return Dataset({"cube": cube * u.Jy / u.beam, "mask": labels}, qtable_truth(truth), WCS(header),
                   {"header": header, "noise_jy": inst.noise_jy}, writer=_write)


def qtable_truth(truth: dict):
    """The truth catalogue with a unit on every numeric column (pixel positions in pix)."""
    return qtable({k: np.asarray(v) for k, v in truth.items()},
                  {**{k: v for k, v in UNITS.items() if v != "chan"}, "z": "pix", "x": "pix", "y": "pix"})


def _write(ds: Dataset, path: Path) -> dict:
    if path.suffix.lower() != ".fits":
        raise InputError(f"out: {path.name} must end in .fits")
    header = ds.meta["header"].copy()
    header["EXTNAME"] = "DATA"
    data = np.asarray(getattr(ds["cube"], "value", ds["cube"]), np.float32)
    with atomic_file(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header=header, name="DATA")]).writeto(tmp)
    truth_out = path.with_name(path.stem + "_truth.csv")
    write_table(ds.truth, truth_out)
    return {"cube": str(path), "truth": str(truth_out), "sources": len(ds.truth)}


def train(data_or_config=None, out=None, *, overwrite: bool = False, n_cubes: int = 600, detector_epochs: int = 6,
          n_stamps: int = 8000, characteriser_epochs: int = 25, n_calibration_cubes: int = 6, seed: int = 1) -> Path:
    """Train the detector, the characteriser and the width calibration on simulations; write ``out``.

    The shipped models used the defaults (~40 min on 2 cores). ``n_cubes`` (64x48x48) train the
    U-Net; ``n_stamps`` the NPE; ``n_calibration_cubes`` (128x192x192, 100 sources, seeds 7000+)
    fit the factors that make +-1 sd posterior intervals cover 68% of the detected truths (0 skips).
    ``data_or_config`` may hold the same settings as a dict.
    """
    s = train_settings(data_or_config, {}, "hicubes", ("n_cubes", "detector_epochs", "n_stamps", "characteriser_epochs",
                                                      "n_calibration_cubes", "seed"))
    n_cubes, detector_epochs = s.get("n_cubes", n_cubes), s.get("detector_epochs", detector_epochs)
    n_stamps, characteriser_epochs = s.get("n_stamps", n_stamps), s.get("characteriser_epochs", characteriser_epochs)
    n_calibration_cubes, seed = s.get("n_calibration_cubes", n_calibration_cubes), s.get("seed", seed)
    out = check_out_dir(out, overwrite=overwrite)
    x, y = training_cubes(n_cubes, seed=seed)
    seg = train_detector(x, y, epochs=detector_epochs, seed=seed)
    stamps, props = source_stamps(n_stamps, seed=seed + 1)
    npe = train_characteriser(stamps, props, epochs=characteriser_epochs, seed=seed)
    npe.posterior_.x_names = None       # stamps: 27,648 voxels need no names in the model folder
    prov = {"command": "sim2sky hicubes train", "cubes": n_cubes, "stamps": n_stamps, "seed": seed}
    scale = _width_calibration(seg, npe.posterior_, n_calibration_cubes) if n_calibration_cubes else None
    with atomic_dir(out) as tmp:
        seg.save(tmp / "detector", provenance=prov, meta={"input": "clip(snr, -8, 8) / 4", "shape": list(x.shape[2:])})
        save_posterior(npe.posterior_, tmp / "characteriser", npe.train_config, npe.history_, provenance=prov)
        if scale is not None:
            (tmp / "characteriser_calibration.json").write_text(json.dumps(scale, indent=1))
        seal_folder(tmp)
    return out


def _width_calibration(seg, post, n_cubes: int) -> dict:
    z = {k: [] for k in ("line_flux_integral", "w20", "hi_size", "i", "pa")}
    for s in range(7000, 7000 + n_cubes):
        cube, labels, truth, _ = simulate_cube(100, (128, 192, 192), seed=s)
        found, cat = find_sources(cube, config=DetectConfig(method="unet"), models=(seg, post), widths={})
        d2t, _ = match_catalogue(found, labels)
        m, t = d2t > 0, d2t[d2t > 0] - 1
        for k in z:
            diff = cat[k + "_npe"][m] - truth[k][t]
            diff = (diff + 180) % 360 - 180 if k == "pa" else diff
            z[k].append(np.abs(diff) / np.maximum(cat[k + "_npe_err"][m], 1e-12))
    scale = {k: float(max(1.0, np.quantile(np.concatenate(v), 0.6827))) if sum(map(len, v)) else 1.0
             for k, v in z.items()}
    return {"width_scale": scale, "detections": int(sum(len(v) for v in z["w20"])), "seeds": [7000, 6999 + n_cubes],
            "finder": "unet"}


def load(model=None) -> "HICubesCase":
    """The detector and characteriser of a model folder (the shipped ones when None)."""
    return HICubesCase(model)


def catalogue_table(cat: dict, wcs=None):
    """A source catalogue (dict of (n,) arrays from :func:`~.pipeline.find_sources`) as a QTable with
    ``ra``/``dec`` [deg] from the cube's ``wcs`` (celestial part) and a unit on every column."""
    n = len(cat.get("x", ()))
    cols = {"id": np.arange(1, n + 1)}
    cols["ra"], cols["dec"] = sky_positions(wcs, cat.get("x", ()), cat.get("y", ()))
    cols.update({k: v for k, v in cat.items() if k != "id"})
    units = {"ra": "deg", "dec": "deg", "x": "pix", "y": "pix", "z": "pix"}
    for k, v in UNITS.items():
        if v not in ("pix", "chan"):
            units[k] = v
            for tail in ("", "_err", "_q16", "_q84", "_q025", "_q975"):
                units[f"{k}_npe{tail}"] = v
    return qtable(cols, units)


class HICubesCase(CasePipeline):
    """3-D U-Net (or SoFiA-like) source finding with per-source NPE posteriors in HI cubes."""

    case = "hicubes"

    def __init__(self, model=None):
        self.model = model
        if model is None:
            self.models_, self.widths_ = None, None
        else:
            root = Path(model)
            self.models_ = load_models(str(root / "detector"), str(root / "characteriser"))
            self.widths_ = posterior_calibration(str(root)) or width_scale(str(root))
        self.model_dir = Path(model) if model is not None else models_dir()

    def predict(self, data, *, method: str = "unet", characterise: bool = True, **options):
        """The catalogue of a cube in Jy/beam with a FREQ axis: a :class:`Dataset` from
        :func:`simulate`, an ``NDData``/``CCDData`` or ``(array, WCS)`` pair, or a FITS path
        (read whole; use the CLI for cubes larger than memory). ``options`` are
        :class:`~.pipeline.DetectConfig` fields."""
        cube, wcs, header = read_cube(data)
        inst = wcs_instrument(wcs, header)
        config = DetectConfig(method=method, characterise=characterise, **options)
        _, cat = find_sources(cube, inst, config, freq0_hz=inst.freq0_hz, models=self.models_, widths=self.widths_)
        return catalogue_table(cat, wcs)

    def calibrate(self, data, out, *, method: str = "scale", floor: bool = False, samples: int = 200, seed: int = 0,
                  overwrite: bool = False) -> dict:
        """Calibrate the per-source posteriors on labelled cubes and write the model folder ``out``.

        ``data``: simulated Datasets (with their truth mask), FITS cubes with ``<stem>_truth.csv``
        (``hicubes simulate`` writes both), a folder of those, or a list
        (:func:`~.calibration.labelled_cubes`). The U-Net finder's detections are matched to the
        truth; an :class:`~sim2sky.infer.calibrate.IntervalCalibration` (``method`` scale: shift and
        conformal widths at 68% and 95%; or cqr) is fitted on their posterior draws and
        cross-validated. ``floor`` adds the model-error floor first: it is off here because the
        labelled cubes are simulations (no theory-vs-sky error to floor), and with it the 68%
        intervals over-covered fresh cubes (0.69-0.77 vs 0.70-0.73 without, 95% alike at
        0.94-0.96; 6 calibration cubes, 378 test detections). Returns the record."""
        cubes = labelled_cubes(data)
        models = self.models_ or load_models()
        draws, truth = detection_samples(cubes, models, samples, seed)
        if len(draws) < 30:
            raise InputError(f"data: {len(draws)} matched detections; the calibration needs >= 30 (give more cubes)")
        cal = IntervalCalibration((0.68, 0.95), method=method, floor=floor).fit(draws, truth)
        digest = data if isinstance(data, (str, Path)) and Path(data).is_file() else truth.tobytes()
        record = {"case": "hicubes", "model": "characteriser",
                  "parameters": ["log10 line_flux_integral", "log10 w20", "log10 hi_size", "i [deg]", "pa [deg]"],
                  "dataset": data_digest(digest, len(draws)), "cubes": len(cubes),
                  "fitted": {"intervals": cal.to_dict()},
                  "cross_validated": cal.cross_validate(draws, truth, seed=seed),
                  "settings": {"method": method, "floor": floor, "samples": samples, "seed": seed}}
        write_calibrated(self.model_dir, out, record, overwrite=overwrite)
        return record

    def check(self, data=None, *, n: int = 40, seed: int = 9000, method: str = "unet") -> dict:
        """Completeness, purity, median log10 line-flux error and the 68% (and, calibrated, 95%)
        coverage of the line-flux posterior, against a simulated :class:`Dataset` (fresh when ``data`` is None)."""
        data = simulate(n, seed=seed) if data is None else data
        if not isinstance(data, Dataset) or "mask" not in data.arrays:
            raise InputError("data: check needs a simulated Dataset with its truth mask (from simulate())")
        cube, wcs, header = read_cube(data)
        inst = wcs_instrument(wcs, header)
        found, cat = find_sources(cube, inst, DetectConfig(method=method), freq0_hz=inst.freq0_hz,
                                  models=self.models_, widths=self.widths_)
        d2t, t2d = match_catalogue(found, np.asarray(data["mask"]))
        m, t = d2t > 0, d2t[d2t > 0] - 1
        true_flux = np.asarray(data.truth["line_flux_integral"].value)[t]
        out = {"n_true": int(len(t2d)), "n_detected": int(len(d2t)),
               "completeness": float((t2d > 0).mean()) if len(t2d) else float("nan"),
               "purity": float(m.mean()) if len(d2t) else float("nan"),
               "flux_log_error_median": float(np.median(np.log10(np.maximum(cat["line_flux_integral"][m], 1e-9)
                                                                 / true_flux))) if m.any() else float("nan")}
        if "line_flux_integral_npe_q16" in cat and m.any():           # a calibrated folder: its intervals
            for c, lo, hi in ((68, "q16", "q84"), (95, "q025", "q975")):
                out[f"flux_coverage_{c}"] = float(np.mean((cat[f"line_flux_integral_npe_{lo}"][m] <= true_flux)
                                                          & (true_flux <= cat[f"line_flux_integral_npe_{hi}"][m])))
        elif "line_flux_integral_npe" in cat and m.any():
            zscore = np.abs(cat["line_flux_integral_npe"][m] - true_flux) / np.maximum(
                cat["line_flux_integral_npe_err"][m], 1e-12)
            out["flux_coverage_68"] = float((zscore <= 1).mean())
        return out
