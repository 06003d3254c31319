"""Source properties from a cube and a label mask (SoFiA-style moments), and matching to a truth list.

Flux is the masked sum; position and frequency are flux-weighted centroids; w20 is the width
at 20% of the peak of the masked integrated spectrum; the position angle is the direction of the
velocity gradient of the moment-1 map (receding side, east of north); size and inclination come
from the beam-deconvolved second moments of the moment-0 map (these are the classical estimates;
the characterisation network in :mod:`.characterise` replaces them with posteriors).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .schema import C_KMS, FLAG_EDGE, FLAG_NAN, HI_REST_HZ, Instrument

__all__ = ["measure_sources", "match_catalogue", "w20_edges"]


def measure_sources(cube: np.ndarray, labels: np.ndarray, inst: Instrument, freq0_hz: float | None = None,
                    nan_mask: np.ndarray | None = None, offset=(0, 0, 0)) -> dict:
    """Catalogue (dict of (n,) arrays) of the sources in ``labels`` (ids 1..n) measured on ``cube``.

    ``cube`` in Jy/beam; ``offset`` (c, y, x) is added to pixel positions (block processing);
    ``freq0_hz`` is the frequency of channel 0 of the full cube.
    """
    freq0 = inst.freq0_hz if freq0_hz is None else freq0_hz
    n = int(labels.max())
    cols = {k: np.full(n, np.nan) for k in ("x", "y", "z", "central_freq", "line_flux_integral", "w20", "hi_size",
                                             "pa", "i", "n_voxels", "peak_snr")}
    cols["flag"] = np.zeros(n, int)
    s2 = inst.beam_sigma_px ** 2
    data = np.nan_to_num(cube, nan=0.0)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        m = labels[sl] == k
        d = np.where(m, data[sl], 0.0)
        w = np.clip(d, 0, None)
        tot = w.sum()
        if tot <= 0:
            continue
        cc, yy, xx = np.indices(m.shape)
        zc = (w * cc).sum() / tot + sl[0].start
        yc = (w * yy).sum() / tot + sl[1].start
        xc = (w * xx).sum() / tot + sl[2].start
        f_c = freq0 + (zc + offset[0]) * inst.channel_hz
        dv = C_KMS * abs(inst.channel_hz / f_c)
        flux = d.sum() * dv / inst.beam_area_px
        foot = m.any(0)
        spec = np.where(foot[None], data[sl], 0.0).sum((1, 2))
        lo, hi = w20_edges(spec)
        mom0 = d.sum(0)
        w0 = np.clip(mom0, 0, None)
        t0 = w0.sum()
        ym, xm = np.indices(mom0.shape)
        my, mx = (w0 * ym).sum() / t0, (w0 * xm).sum() / t0
        cyy = (w0 * (ym - my) ** 2).sum() / t0 - s2
        cxx = (w0 * (xm - mx) ** 2).sum() / t0 - s2
        cxy = (w0 * (ym - my) * (xm - mx)).sum() / t0
        ev = np.linalg.eigvalsh(np.array([[cxx, cxy], [cxy, cyy]]))
        a, b = np.sqrt(max(ev[1], 0.25)), np.sqrt(max(ev[0], 0.0))
        # velocity-gradient direction from the moment-1 map (weighted plane fit)
        vel = (np.clip(d, 0, None) * cc).sum(0) / np.maximum(w0, 1e-30)
        good = w0 > 0
        pa = np.nan
        if good.sum() >= 3:
            A = np.column_stack([xm[good] - mx, ym[good] - my, np.ones(good.sum())]) * np.sqrt(w0[good])[:, None]
            coef = np.linalg.lstsq(A, vel[good] * np.sqrt(w0[good]), rcond=None)[0]
            # frequency rises as velocity falls: the receding side has the lower channel
            gx, gy = -coef[0], -coef[1]
            pa = np.degrees(np.arctan2(-gx, gy)) % 360
        cols["x"][k - 1], cols["y"][k - 1], cols["z"][k - 1] = xc + offset[2], yc + offset[1], zc + offset[0]
        cols["central_freq"][k - 1] = f_c
        cols["line_flux_integral"][k - 1] = flux
        cols["w20"][k - 1] = (hi - lo) * dv
        # an exponential disc's 90%-flux diameter is 3.9 r_s and its Gaussian-equivalent sigma ~1.7 r_s
        cols["hi_size"][k - 1] = 2 * 2.3 * a * inst.pixel_arcsec
        cols["i"][k - 1] = np.degrees(np.arccos(np.clip(b / a, 0, 1)))
        cols["pa"][k - 1] = pa
        cols["n_voxels"][k - 1] = m.sum()
        cols["peak_snr"][k - 1] = d.max()
        flag = 0
        grown = tuple(slice(max(0, a.start - 1), a.stop + 1) for a in sl)
        if nan_mask is not None and nan_mask[grown].any():      # blanked voxels in or next to the source
            flag |= FLAG_NAN
        if any(s.start == 0 or s.stop == n_ for s, n_ in zip(sl, labels.shape)):
            flag |= FLAG_EDGE
        cols["flag"][k - 1] = flag
    cols["z_hi"] = HI_REST_HZ / cols["central_freq"] - 1
    return cols


def w20_edges(spec: np.ndarray) -> tuple[float, float]:
    """Fractional channels ``(left, right)`` where a spectrum crosses 20% of its peak (linear interpolation).

    The line width W20 is ``(right - left)`` times the channel width; a spectrum with no positive
    channel gives ``(0, 0)``.
    """
    if spec.max() <= 0:
        return 0.0, 0.0
    level = 0.2 * spec.max()
    above = np.nonzero(spec >= level)[0]
    lo, hi = above[0], above[-1]
    left = lo - (spec[lo] - level) / (spec[lo] - spec[lo - 1]) if lo > 0 and spec[lo] != spec[lo - 1] else lo - 0.5
    right = hi + (spec[hi] - level) / (spec[hi] - spec[hi + 1]) if hi < len(spec) - 1 and spec[hi] != spec[hi + 1] else hi + 0.5
    return float(left), float(right)


def match_catalogue(det_labels: np.ndarray, truth_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches by voxel overlap: ``(truth_id_of_detection (n_det,), det_id_of_truth (n_true,))``, 0 = none.

    Each detection is assigned the truth source it overlaps most; a truth source claimed by
    several detections keeps the one with the largest overlap (the others are false positives,
    as fragments are in the SDC2 score).
    """
    n_det, n_true = int(det_labels.max()), int(truth_labels.max())
    both = (det_labels > 0) & (truth_labels > 0)
    pairs, counts = np.unique(np.stack([det_labels[both], truth_labels[both]]), axis=1, return_counts=True)
    det_to_true = np.zeros(n_det + 1, int)
    true_to_det = np.zeros(n_true + 1, int)
    best = np.zeros(n_true + 1)
    order = np.argsort(-counts)
    for j in order:
        d, t = pairs[:, j]
        if det_to_true[d] or true_to_det[t]:
            continue
        det_to_true[d], true_to_det[t], best[t] = t, d, counts[j]
    return det_to_true[1:], true_to_det[1:]
