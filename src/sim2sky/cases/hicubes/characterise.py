"""Per-source posteriors of HI properties: NPE with a 3-D CNN on a stamp around each detection.

The engine's NPE (conditional flow + :class:`sim2sky.nn.CNN3d` embedding, trained jointly) is
trained on simulated single-galaxy stamps (:func:`.simulate.source_stamps`) whose centres are
jittered as a detector's centroids are; at run time each detection's stamp is cut from the
noise-normalised cube. Parameters: log10 flux, log10 w20, log10 HI size, cos i and the position
angle as (cos PA, sin PA) (a circle, so no wrap-around at 0/360 deg).
"""

from __future__ import annotations

import numpy as np
import torch

from ...infer import NPE, BoxUniform, NPEConfig, TrainConfig
from .schema import INSTRUMENT, Instrument
from .forward import _STAMP_BIN, STAMP_SHAPE, beam_noise

__all__ = ["PARAMETER_NAMES", "properties_to_theta", "theta_to_properties", "train_characteriser", "cut_stamps",
           "characterise", "PROPERTIES", "N_LOG", "property_samples", "calibrated_properties", "wrap_degrees"]

PARAMETER_NAMES = ("log10_line_flux_integral", "log10_w20", "log10_hi_size", "cos_i", "cos_pa", "sin_pa")
_LOW = (-3.5, 1.3, 0.0, 0.0, -1.0, -1.0)
_HIGH = (0.5, 3.0, 2.0, 1.0, 1.0, 1.0)


def properties_to_theta(props: dict) -> np.ndarray:
    pa = np.radians(props["pa"])
    return np.column_stack([np.log10(props["line_flux_integral"]), np.log10(props["w20"]), np.log10(props["hi_size"]),
                            np.cos(np.radians(props["i"])), np.cos(pa), np.sin(pa)]).astype(np.float32)


def theta_to_properties(samples: np.ndarray) -> dict:
    """Posterior mean and standard deviation of each property from samples (n, s, 6)."""
    flux, w20, size = 10 ** samples[..., 0], 10 ** samples[..., 1], 10 ** samples[..., 2]
    incl = np.degrees(np.arccos(np.clip(samples[..., 3], 0, 1)))
    mean_pa = np.arctan2(samples[..., 5].mean(-1), samples[..., 4].mean(-1))
    dpa = np.angle(np.exp(1j * (np.arctan2(samples[..., 5], samples[..., 4]) - mean_pa[..., None])))
    out = {}
    for name, v in (("line_flux_integral", flux), ("w20", w20), ("hi_size", size), ("i", incl)):
        out[name], out[name + "_err"] = np.median(v, -1), v.std(-1)
    out["pa"], out["pa_err"] = np.degrees(mean_pa) % 360, np.degrees(dpa.std(-1))
    return out


#: the calibrated properties, in the calibration's parameter order
PROPERTIES = ("line_flux_integral", "w20", "hi_size", "i", "pa")
#: the first N_LOG properties are calibrated in log10
N_LOG = 3


def wrap_degrees(deg):
    return (np.asarray(deg) + 180.0) % 360.0 - 180.0


def property_samples(theta: np.ndarray) -> np.ndarray:
    """Characteriser draws (n, S, 6) -> (n, S, 5): log10 flux, log10 w20, log10 size, i [deg],
    PA [deg] unwrapped about each object's circular mean."""
    out = np.empty(theta.shape[:2] + (5,))
    out[..., :3] = theta[..., :3]
    out[..., 3] = np.degrees(np.arccos(np.clip(theta[..., 3], 0, 1)))
    pa = np.degrees(np.arctan2(theta[..., 5], theta[..., 4]))
    mean = np.degrees(np.arctan2(theta[..., 5].mean(1), theta[..., 4].mean(1)))[:, None]
    out[..., 4] = mean + wrap_degrees(pa - mean)
    return out


def calibrated_properties(cal, samples: np.ndarray) -> dict:
    """``<p>``, ``<p>_err`` (half the 68% interval) and ``<p>_q16/_q84/_q025/_q975`` in the
    catalogue's units (Jy km/s, km/s, arcsec, deg) from property-space draws (n, S, 5) and ``cal``, an
    :class:`~sim2sky.infer.calibrate.IntervalCalibration` fitted in that space."""
    iv = cal.intervals(samples)
    out = {}
    for j, name in enumerate(PROPERTIES):
        conv = (lambda v: 10 ** v) if j < N_LOG else (lambda v: v % 360.0 if name == "pa" else v)
        lo68, hi68 = conv(iv["lo68"][:, j]), conv(iv["hi68"][:, j])
        out[name] = conv(iv["median"][:, j])
        out[name + "_err"] = (iv["hi68"][:, j] - iv["lo68"][:, j]) / 2 if j >= N_LOG else (hi68 - lo68) / 2
        out[name + "_q16"], out[name + "_q84"] = lo68, hi68     # PA: ends kept in 0-360 (may wrap)
        out[name + "_q025"], out[name + "_q975"] = conv(iv["lo95"][:, j]), conv(iv["hi95"][:, j])
    return out


def train_characteriser(stamps: np.ndarray, props: dict, epochs: int = 30, seed: int = 0, progress: bool = False,
                        channels=(8, 16, 32)) -> NPE:
    """NPE of the six parameters given stamps (n, *STAMP_SHAPE) in noise units."""
    theta = properties_to_theta(props)
    inside = np.all((theta > np.array(_LOW)) & (theta < np.array(_HIGH)), axis=1)
    config = NPEConfig(flow="maf", ensemble=1, embedding="cnn3d", embedding_dim=48,
                       embedding_options={"channels": list(channels)}, transforms=5)
    train = TrainConfig(max_epochs=epochs, patience=max(5, epochs // 4), batch_size=128, learning_rate=1e-3, seed=seed)
    npe = NPE(prior=BoxUniform(_LOW, _HIGH), config=config, train_config=train, progress=progress)
    return npe.fit(theta[inside], stamps[inside], theta_names=list(PARAMETER_NAMES))


def cut_stamps(snr: np.ndarray, centres: np.ndarray, inst: Instrument = INSTRUMENT, seed: int = 0) -> np.ndarray:
    """Stamps (n, *STAMP_SHAPE) around centres (n, 3) = (c, y, x) of a noise-normalised cube.

    Where a stamp reaches beyond the cube it is filled with beam-correlated unit noise, not zeros:
    the network was trained on stamps that are noise everywhere, and a cube shorter than the
    stamp's 192 channels would otherwise look like a different instrument.
    """
    c_raw = STAMP_SHAPE[0] * _STAMP_BIN
    half = np.array([c_raw // 2, STAMP_SHAPE[1] // 2, STAMP_SHAPE[2] // 2])
    out = beam_noise((len(centres), c_raw, *STAMP_SHAPE[1:]), inst, np.random.default_rng(seed))
    for k, centre in enumerate(np.rint(centres).astype(int)):
        lo = centre - half
        src = tuple(slice(max(0, o), min(n, o + s)) for o, s, n in zip(lo, out.shape[1:], snr.shape))
        dst = tuple(slice(a.start - o, a.stop - o) for a, o in zip(src, lo))
        out[(k, *dst)] = snr[src]
    return out.reshape(len(centres), STAMP_SHAPE[0], _STAMP_BIN, *STAMP_SHAPE[1:]).mean(2)


def characterise(posterior, snr: np.ndarray, centres: np.ndarray, num_samples: int = 200, seed: int = 0,
                 width_scale: dict | None = None, calibration=None) -> dict:
    """Posterior medians and standard deviations of the HI properties of sources at ``centres``.

    ``calibration`` (an :class:`~sim2sky.infer.calibrate.IntervalCalibration` from ``hicubes
    calibrate``, :mod:`.calibration`): calibrated medians, ``_err`` = half the calibrated 68%
    interval and the 68%/95% interval ends ``_q16/_q84/_q025/_q975``. Otherwise ``width_scale``
    ({property: factor}, the older calibration) multiplies the standard deviations.
    """
    if len(centres) == 0:
        return {k: np.zeros(0) for k in ("line_flux_integral", "w20", "hi_size", "i", "pa")}
    # a private generator, not torch's global seed: tiles characterised in concurrent threads
    # would otherwise draw from one shared stream in whatever order they run
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    samples = posterior.sample_batched(cut_stamps(snr, centres), num_samples, generator=gen)   # (n, s, 6)
    if calibration is not None:
        return calibrated_properties(calibration, property_samples(np.asarray(samples, float)))
    out = theta_to_properties(samples)
    for name, factor in (width_scale or {}).items():
        out[name + "_err"] = out[name + "_err"] * float(factor)
    return out
