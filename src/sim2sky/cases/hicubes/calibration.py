"""``sim2sky hicubes calibrate``: the per-source HI posteriors calibrated on labelled detections.

The characteriser's NPE is trained on isolated stamps; on a finder's detections (centroid
offsets, neighbours, artefacts) its intervals are too narrow and its flux is biased. Before,
one hand-fitted factor per property widened every standard deviation (the 68.27% quantile of
|z| on simulated detections; ``characteriser_calibration.json``). Now the engine's
:class:`~sim2sky.infer.calibrate.IntervalCalibration` is fitted on matched detections of
labelled cubes: a shift (the flux bias) and a conformal width per property at 68% and 95%. It works in the space of ``log10`` line flux, ``log10`` w20, ``log10``
size, inclination [deg] and position angle [deg] unwrapped about each posterior's circular mean.

Labelled cubes: simulated ones (``hicubes simulate``, or :func:`~.case.simulate` Datasets with
their truth mask), or any FITS cube with a ``<stem>_truth.csv`` catalogue (``x``, ``y``, ``z`` in
pixels and the five properties): a detection is matched to the brightest catalogued source whose
centre voxel lies in its segment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...core.contract import Dataset
from ...core.errors import InputError
from ...core.tables import read_table
from .characterise import N_LOG, PROPERTIES, cut_stamps, property_samples, wrap_degrees
from .finder import normalise_cube
from .io import read_cube
from .measure import match_catalogue
from .pipeline import DetectConfig, find_sources

__all__ = ["property_truth", "labelled_cubes", "detection_samples"]


def property_truth(truth: dict, samples: np.ndarray) -> np.ndarray:
    """True properties (n, 5) in the calibration space; the PA taken within 180 deg of each
    object's posterior median (``samples`` from :func:`property_samples`)."""
    t = np.column_stack([np.log10(np.asarray(truth[k], float)) for k in PROPERTIES[:N_LOG]]
                        + [np.asarray(truth["i"], float), np.asarray(truth["pa"], float)])
    med = np.median(samples[..., 4], 1)
    t[:, 4] = med + wrap_degrees(t[:, 4] - med)
    return t


def labelled_cubes(data) -> list:
    """``[(cube (c, y, x) Jy/beam, truth mask or None, truth dict)]`` from a simulated Dataset, a
    FITS cube with ``<stem>_truth.csv``, a folder of such cubes, or a list of any of these."""
    if isinstance(data, (list, tuple)):
        return [c for d in data for c in labelled_cubes(d)]
    if isinstance(data, Dataset):
        if data.truth is None or not len(data.truth):
            raise InputError("data: the Dataset has no truth catalogue")
        cube = read_cube(data)[0]
        mask = np.asarray(data["mask"]) if "mask" in data.arrays else None
        return [(cube, mask, {k: np.asarray(data.truth[k].value if hasattr(data.truth[k], "value")
                                            else data.truth[k]) for k in data.truth.colnames})]
    path = Path(data)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.fits") if p.with_name(p.stem + "_truth.csv").is_file())
        if not files:
            raise InputError(f"data: {path} holds no FITS cube with a <stem>_truth.csv beside it")
        return [c for f in files for c in labelled_cubes(f)]
    truth_path = path.with_name(path.stem + "_truth.csv")
    if not truth_path.is_file():
        raise InputError(f"data: {path.name} needs its truth catalogue {truth_path.name} beside it "
                         "(as 'sim2sky hicubes simulate' writes)")
    truth = read_table(truth_path)
    missing = [k for k in ("x", "y", "z", *PROPERTIES) if k not in truth.colnames]
    if missing:
        raise InputError(f"{truth_path.name}: no column {', '.join(missing)}")
    return [(read_cube(path)[0], None, {k: np.asarray(truth[k], float) for k in ("x", "y", "z", *PROPERTIES)})]


def _match_by_centre(labels: np.ndarray, truth: dict) -> np.ndarray:
    """(n_det,) 1-based truth index matched to each detection (0 = none): the brightest catalogued
    source whose centre voxel lies in the detection's segment."""
    n_det = int(labels.max())
    out, best = np.zeros(n_det, int), np.zeros(n_det)
    idx = np.rint(np.column_stack([truth["z"], truth["y"], truth["x"]])).astype(int)
    inside = np.all((idx >= 0) & (idx < np.array(labels.shape)), 1)
    for t in np.flatnonzero(inside):
        d = labels[tuple(idx[t])]
        if d and truth["line_flux_integral"][t] > best[d - 1]:
            out[d - 1], best[d - 1] = t + 1, truth["line_flux_integral"][t]
    return out


def detection_samples(cubes, models, num_samples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Property-space posterior draws (n, S, 5) and truths (n, 5) of the matched detections of
    :func:`labelled_cubes` (U-Net finder, the given ``models`` = (detector, characteriser))."""
    draws, truths = [], []
    gen = torch.Generator().manual_seed(seed)
    for cube, mask, truth in cubes:
        labels, cat = find_sources(cube, config=DetectConfig(method="unet", characterise=False), models=models)
        d2t = match_catalogue(labels, mask)[0] if mask is not None else _match_by_centre(labels, truth)
        m = d2t > 0
        if not m.any():
            continue
        centres = np.nan_to_num(np.column_stack([cat["z"], cat["y"], cat["x"]])[m])
        theta = models[1].sample_batched(cut_stamps(normalise_cube(cube)[0], centres), num_samples, generator=gen)
        s = property_samples(np.asarray(theta, float))
        draws.append(s)
        truths.append(property_truth({k: np.asarray(truth[k])[d2t[m] - 1] for k in PROPERTIES}, s))
    if not draws:
        raise InputError("data: no detection matched a catalogued source; nothing to calibrate on")
    return np.concatenate(draws), np.concatenate(truths)
