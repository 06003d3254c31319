"""Radio-source morphology as a declarative, vectorised model: parameters with units and priors
declared once, and a pure function from parameters to a sky model.

A source is a core plus two arms. Each arm follows a path from the core whose direction turns
from perpendicular to the trailing direction towards it (a straight path when it does not turn),
and carries brightness along it as a cloud of weighted particles with a lateral width:

* **FRI** (Fanaroff & Riley 1974): edge-darkened. Brightness falls along the jet,
  ``exp(-t / tau)``, and the jet flares into plumes. The inner jets are Doppler-boosted by
  ``((1 + beta cos i) / (1 - beta cos i))^(2 + alpha)`` (jet/counter-jet asymmetry; Laing &
  Bridle 2014, arXiv:1311.1015), an effect that fades outwards as the jets decelerate.
* **FRII**: edge-brightened. Lobes brighten outwards and end in compact hotspots carrying
  15-60% of the arm's flux (Mullin, Riley & Hardcastle 2008, arXiv:0803.1246), with a weak core
  (core prominence 0.2-5%).
* **Bent** tails: FRI-like arms bent by ram pressure along curved paths (O'Dea & Owen 1985,
  AJ 90, 927). Wide-angle tails keep a straight inner jet and end with a half-opening angle of
  15-55 deg; narrow-angle / head-tail sources bend from the core and end almost parallel
  (0-20 deg; Missaglia et al. 2019, arXiv:1909.06335).
* **Compact** sources (FR0-like; Baldi, Capetti & Giovannini 2015, arXiv:1502.00427): a core of
  0.2-6" intrinsic size, a third with a short one-sided jet.
* **Hybrid** (HyMoRS; Gopal-Krishna & Wiita 2000, arXiv:astro-ph/0001024): one FRI arm and one
  FRII arm. Drawn only to test the classifier's "unknown" outcome.

Angular sizes are log-uniform over 10-180" (resolved at FIRST's 5.4" beam, and mostly inside the
115" the classifier sees; the MiraBest sources are 6-269", median 43"), orientations isotropic with inclinations above 20 deg,
arm-length ratios 1-1.5 (the asymmetry of FRII lobes; Mullin et al. 2008).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .schema import SIM_CLASSES

__all__ = ["Param", "PARAMETERS", "CLASS_PARAMETERS", "draw_parameters", "source_particles", "ALPHA"]

#: Spectral index of the jets (S ~ nu^-alpha), for the Doppler boosting exponent 2 + alpha.
ALPHA = 0.7


@dataclass(frozen=True)
class Param:
    """One model parameter: unit, prior range, prior shape (``uniform`` or ``loguniform``)."""

    unit: str
    low: float
    high: float
    prior: str = "uniform"
    doc: str = ""

    def draw(self, rng, n: int) -> np.ndarray:
        if self.prior == "loguniform":
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), n))
        return rng.uniform(self.low, self.high, n)


#: Parameters every class draws.
PARAMETERS = {
    "las": Param("arcsec", 10.0, 180.0, "loguniform", "largest angular size (projected, core to both arm ends)"),
    "pa": Param("deg", 0.0, 360.0, "uniform", "position angle of the source axis"),
    "cos_i": Param("", 0.0, 0.94, "uniform", "cosine of the jet inclination to the line of sight (isotropic, i > 20 deg)"),
    "arm_ratio": Param("", 1.0, 1.5, "loguniform", "ratio of the longer to the shorter arm"),
    "peak_snr": Param("", 8.0, 600.0, "loguniform", "peak brightness over the image rms at the survey beam"),
    "offset": Param("arcsec", 0.0, 4.0, "uniform", "offset of the core from the cutout centre"),
}

#: Per-class parameters (and overrides of the common ones).
CLASS_PARAMETERS = {
    "FRI": {"f_core": Param("", 0.01, 0.15, "loguniform", "core fraction of the total flux"),
            "tau": Param("", 0.3, 0.9, "uniform", "e-folding length of the jet brightness, in arm lengths"),
            "flare": Param("", 0.1, 0.4, "uniform", "plume width at the arm's end, in arm lengths"),
            "beta": Param("", 0.2, 0.7, "uniform", "jet speed (v/c) on kpc scales"),
            "wiggle": Param("deg", 0.0, 30.0, "uniform", "rms turn of each jet's direction (jets are rarely straight)"),
            "las": Param("arcsec", 15.0, 180.0, "loguniform", "largest angular size")},
    "FRII": {"f_core": Param("", 0.002, 0.05, "loguniform", "core fraction of the total flux"),
             "las": Param("arcsec", 10.0, 150.0, "loguniform", "largest angular size (hotspot to hotspot)"),
             "f_hotspot": Param("", 0.15, 0.6, "uniform", "hotspot fraction of the arm's flux"),
             "lobe_width": Param("", 0.1, 0.35, "uniform", "lobe width over lobe length (axial ratio 3-10)"),
             "beta": Param("", 0.05, 0.3, "uniform", "hotspot advance speed (v/c)")},
    "Bent": {"f_core": Param("", 0.02, 0.3, "loguniform", "core fraction of the total flux"),
             "tau": Param("", 0.25, 0.6, "uniform", "e-folding length of the tail brightness, in arm lengths"),
             "flare": Param("", 0.06, 0.2, "uniform", "tail width at its end, in arm lengths"),
             "beta": Param("", 0.1, 0.5, "uniform", "jet speed (v/c)"),
             "narrow": Param("", 0.0, 1.0, "uniform", "< 0.3: narrow-angle / head-tail; else wide-angle tail"),
             "las": Param("arcsec", 15.0, 180.0, "loguniform", "largest angular size")},
    "Compact": {"size": Param("arcsec", 0.2, 6.0, "loguniform", "intrinsic FWHM of the core"),
                "jet": Param("", 0.0, 1.0, "uniform", "< 0.35: with a short one-sided jet"),
                "las": Param("arcsec", 3.0, 15.0, "loguniform", "length of the one-sided jet, when present")},
    "Hybrid": {"f_core": Param("", 0.01, 0.1, "loguniform", "core fraction of the total flux"),
               "tau": Param("", 0.3, 0.9, "uniform", "FRI arm: brightness e-folding length"),
               "flare": Param("", 0.08, 0.3, "uniform", "FRI arm: plume width"),
               "f_hotspot": Param("", 0.15, 0.6, "uniform", "FRII arm: hotspot fraction"),
               "lobe_width": Param("", 0.1, 0.35, "uniform", "FRII arm: lobe width"),
               "beta": Param("", 0.05, 0.4, "uniform", "jet speed (v/c)")},
}


def draw_parameters(cls: str, n: int, rng) -> dict:
    """``n`` draws of class ``cls``'s parameters from their priors: dict of (n,) arrays."""
    if cls not in SIM_CLASSES:
        raise ValueError(f"unknown class {cls!r}; choose from {SIM_CLASSES}")
    spec = {**PARAMETERS, **CLASS_PARAMETERS[cls]}
    return {name: p.draw(rng, n) for name, p in spec.items()}


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _arm(rng, t, length, start, end, t_bend, width):
    """Particle positions (n, m) [arcsec] along arms of ``length`` (n,): the direction turns from
    ``start`` to ``end`` [rad] (n,) after ``t_bend`` (n,); ``t`` (n, m) in [0, 1] along the arm,
    lateral offsets of rms ``width`` (n, m) [arcsec]."""
    steps = np.linspace(0, 1, 65)
    theta = start[:, None] + (end - start)[:, None] * _smoothstep((steps - t_bend[:, None]) /
                                                                   np.maximum(1 - t_bend[:, None], 1e-3))
    dt = length[:, None] / 64
    mid = 0.5 * (theta[:, 1:] + theta[:, :-1])
    px = np.concatenate([np.zeros((len(t), 1)), np.cumsum(dt * np.cos(mid), 1)], 1)
    py = np.concatenate([np.zeros((len(t), 1)), np.cumsum(dt * np.sin(mid), 1)], 1)
    k = np.minimum((t * 64).astype(int), 63)
    f = t * 64 - k
    rows = np.arange(len(t))[:, None]
    x = px[rows, k] * (1 - f) + px[rows, k + 1] * f
    y = py[rows, k] * (1 - f) + py[rows, k + 1] * f
    ang = theta[rows, k]
    lateral = rng.normal(size=t.shape) * width
    return x - np.sin(ang) * lateral, y + np.cos(ang) * lateral


def _boost(beta, cos_i, side):
    return ((1 + side * beta * cos_i) / (1 - side * beta * cos_i)) ** (2 + ALPHA)


def _fri_arm(rng, p, side, length, m):
    n = len(length)
    t = rng.uniform(0, 1, (n, m))
    w = np.exp(-t / p["tau"][:, None])
    # knots: three brightenings along each jet (Laing & Bridle 2014 see flaring points and knots)
    at, amp = rng.uniform(0.05, 0.9, (n, 1, 3)), rng.uniform(0, 2.5, (n, 1, 3))
    w *= 1 + (amp * np.exp(-0.5 * ((t[..., None] - at) / 0.04) ** 2)).sum(-1)
    w *= _boost(p["beta"], p["cos_i"], side)[:, None] ** np.exp(-t / 0.3)   # decelerating jets
    width = length[:, None] * (0.02 + (p["flare"][:, None] - 0.02) * t)
    return t, w, width


def _frii_arm(rng, p, side, length, m):
    n = len(length)
    n_hot = m // 4
    t_lobe = rng.uniform(0, 1, (n, m - n_hot)) ** (1 / 3)               # density rising outwards
    t_hot = rng.uniform(0.94, 1.0, (n, n_hot))
    f_hot = p["f_hotspot"][:, None]
    w = np.concatenate([np.broadcast_to((1 - f_hot) / (m - n_hot), t_lobe.shape),
                        np.broadcast_to(f_hot / n_hot, t_hot.shape)], 1)
    w = w * _boost(p["beta"], p["cos_i"], side)[:, None]
    width = np.concatenate([length[:, None] * p["lobe_width"][:, None] * (0.3 + 0.7 * t_lobe),
                            np.broadcast_to(0.015 * length[:, None] + 0.8, t_hot.shape)], 1)
    return np.concatenate([t_lobe, t_hot], 1), w, width


def source_particles(cls: str, p: dict, rng, m: int = 1024):
    """The sky model of ``n`` sources of class ``cls`` with parameters ``p`` (dict of (n,) arrays)
    as weighted particles: ``x``, ``y`` (n, m) [arcsec] from the cutout centre (x east-positive
    as a sky image's pixel x), ``w`` (n, m) summing to 1 per source."""
    n = len(p["pa"])
    core_m, arm_m = m // 16, (m - m // 16) // 2
    if cls == "Compact":
        sig = p["size"][:, None] / 2.3548
        xs, ys = rng.normal(size=(n, m)) * sig, rng.normal(size=(n, m)) * sig
        w = np.full((n, m), 1.0 / m)
        jet = p["jet"] < 0.35
        if jet.any():           # a short one-sided jet takes 5-30% of the flux
            frac = rng.uniform(0.05, 0.3, n)
            tj = rng.uniform(0, 1, (n, arm_m))
            xj, yj = tj * p["las"][:, None], rng.normal(size=(n, arm_m)) * 0.5
            w_core = np.broadcast_to(np.where(jet[:, None], (1 - frac[:, None]) / m, 1.0 / m), (n, m))
            w_jet = np.where(jet[:, None], frac[:, None] / arm_m * np.exp(-tj), 0.0)
            w_jet = w_jet / np.maximum(w_jet.sum(1, keepdims=True), 1e-30) * np.where(jet, frac, 0)[:, None]
            xs, ys = np.concatenate([xs, xj], 1), np.concatenate([ys, yj], 1)
            w = np.concatenate([w_core, w_jet], 1)
        return _place(xs, ys, w, p, rng)
    long_arm = p["las"] * p["arm_ratio"] / (1 + p["arm_ratio"])
    lengths = {+1: long_arm, -1: p["las"] - long_arm}
    psi = np.zeros(n)                         # trailing direction; arms start at psi +- 90 deg
    half_open = np.full(n, np.pi / 2)
    t_bend = np.ones(n)
    wig = np.radians(p["wiggle"]) if "wiggle" in p else np.zeros(n)
    if cls == "FRI":                      # gently curved jets: a random turn of each arm
        t_bend = rng.uniform(0.0, 0.5, n)
    if cls == "Bent":
        narrow = p["narrow"] < 0.3
        half_open = np.radians(np.where(narrow, rng.uniform(0, 20, n), rng.uniform(15, 55, n)))
        t_bend = np.where(narrow, rng.uniform(0, 0.1, n), rng.uniform(0.05, 0.3, n))
        # a bent arm is longer than its projected reach: stretch it so the LAS stays the drawn one
        lengths = {s: v * np.where(narrow, 1.0, 1.25) for s, v in lengths.items()}
    xs, ys, ws = [rng.normal(size=(n, core_m)) * 0.5], [rng.normal(size=(n, core_m)) * 0.5], []
    arm_w = []
    for side in (+1, -1):
        kind = {"FRI": "FRI", "Bent": "FRI", "FRII": "FRII", "Hybrid": "FRI" if side > 0 else "FRII"}[cls]
        t, w, width = (_fri_arm if kind == "FRI" else _frii_arm)(rng, p, side, lengths[side], arm_m)
        start = psi + side * np.pi / 2
        end = psi + side * half_open + rng.normal(size=n) * wig
        x, y = _arm(rng, t, lengths[side], start, end, t_bend, width)
        xs.append(x)
        ys.append(y)
        arm_w.append(w)       # unnormalised: the boosted arm keeps its larger share
    arms = np.concatenate(arm_w, 1)
    arms = arms / arms.sum(1, keepdims=True) * (1 - p["f_core"])[:, None]
    w = np.concatenate([np.broadcast_to(p["f_core"][:, None] / core_m, (n, core_m)), arms], 1)
    return _place(np.concatenate(xs, 1), np.concatenate(ys, 1), w, p, rng)


def _place(x, y, w, p, rng):
    """Rotate by the position angle and offset the core from the centre in a random direction."""
    pa = np.radians(p["pa"])[:, None]
    phi = rng.uniform(0, 2 * np.pi, x.shape[0])[:, None]
    ox, oy = p["offset"][:, None] * np.cos(phi), p["offset"][:, None] * np.sin(phi)
    xr = x * np.cos(pa) - y * np.sin(pa) + ox
    yr = x * np.sin(pa) + y * np.cos(pa) + oy
    return xr, yr, w / w.sum(1, keepdims=True)
