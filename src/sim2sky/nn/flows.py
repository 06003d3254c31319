"""Conditional normalizing flows (zuko) with fixed pre-transforms for bounds and scaling.

The flow models ``p(theta | context)``. Two fixed (non-learned) transforms sit in front of the
learned ones: a map of the prior's support to R^d (logit-like for a box, log for positive
parameters) and an affine standardisation, both lazy
zuko transforms, so ``flow(c).log_prob(theta)`` and ``flow(c).sample((n,))`` work in the
parameters' own units and all sampled mass lies inside the prior box.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import zuko
from torch import Tensor
from torch.distributions import Transform, constraints

from .spline import FastRQSTransform, broadcast, rqs_parameters

__all__ = ["BOX_TAILS", "BoxLogitTransform", "FastRQSTransform", "LazyBoxLogit", "LazyLog", "LazyStandardize", "build_flow", "FLOWS"]

FLOWS = ("nsf", "maf")
BOX_TAILS = ("exp", "gauss")
_EPS = 1e-6


class BoxLogitTransform(Transform):
    """Bijection from the box ``[low, high]`` to R^d that is linear in the box's core.

    With ``s = 2 (theta - low) / (high - low) - 1`` in (-1, 1), the map is ``u = s`` for
    ``|s| <= core`` and stretches the rest of the box onto R, continuous with a continuous
    derivative and monotone. Two tails:

    ``"exp"``
        ``u = sign(s) (core - (1 - core) log((1 - |s|) / (1 - core)))``: a density that stays
        finite at the box edge becomes an exponential tail of rate ``1 / (1 - core)`` in u.
    ``"gauss"``
        ``|s| = 1 - 2 (1 - core) Phi(-(|u| - core) / tau)`` with ``tau = 2 (1 - core) / sqrt(2 pi)``
        (so the slope is 1 at the core's edge): the same density becomes a *Gaussian* tail in u.
        ``core=0`` is the probit map (a scaled inverse normal CDF of the prior's CDF).

    Why two: a plain logit curves the whole box, which bends narrow posteriors (two moons'
    crescents) and cost 0.06-0.1 nats of validation loss in our runs, so the core is left
    untouched. But posteriors *truncated* by the prior (gaussian_linear_uniform: a Gaussian of
    sd 0.32 in a box of half-width 1, most observations near an edge) then become sharp
    exponential tails that an affine flow cannot represent: with 3 MAFs the C2ST to sbibm's
    reference was 0.591 with ``("exp", 0.9)`` and 0.555 with ``("gauss", 0.5)`` (probit
    ``("gauss", 0)``: 0.597; sbi 0.547; ``benchmarks/box_map.py``). Spline flows on 2-D
    crescents prefer the exponential tail (two_moons NSF: 0.566 ``exp`` 0.9 vs 0.579 ``gauss``
    0.5).
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, low: Tensor, high: Tensor, core: float = 0.9, tail: str = "exp"):
        super().__init__()
        if tail not in BOX_TAILS or not 0.0 <= core < 1.0:
            raise ValueError(f"tail must be one of {BOX_TAILS} and 0 <= core < 1, got {tail!r}, {core}")
        self.low, self.width, self.core, self.tail = low, high - low, core, tail
        self.tau = 2.0 * (1.0 - core) / math.sqrt(2.0 * math.pi)

    def _s(self, x: Tensor) -> Tensor:
        return (2.0 * (x - self.low) / self.width - 1.0).clamp(-1.0 + _EPS, 1.0 - _EPS)

    def call_and_ladj(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self._s(x)
        a, c = s.abs(), self.core
        tail = a > c
        if self.tail == "exp":
            log_gap = torch.log1p(-a) - math.log1p(-c)  # log((1 - |s|) / (1 - c)), <= 0 in the tails
            excess, log_slope = -(1.0 - c) * log_gap, -log_gap
        else:
            z = -torch.special.ndtri(((1.0 - a) / (2.0 * (1.0 - c))).clamp(max=0.5))
            excess, log_slope = self.tau * z, 0.5 * z * z
        u = torch.where(tail, torch.sign(s) * (c + excess), s)
        ladj = torch.where(tail, log_slope, torch.zeros_like(s)) + torch.log(2.0 / self.width)
        return u, ladj

    def _call(self, x: Tensor) -> Tensor:
        return self.call_and_ladj(x)[0]

    def _inverse(self, u: Tensor) -> Tensor:
        a, c = u.abs(), self.core
        if self.tail == "exp":
            gap = (1.0 - c) * torch.exp(-(a - c) / (1.0 - c))
        else:
            gap = 2.0 * (1.0 - c) * torch.special.ndtr(-(a - c) / self.tau)
        s = torch.where(a > c, torch.sign(u) * (1.0 - gap), u)
        return self.low + (s + 1.0) * 0.5 * self.width

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.call_and_ladj(x)[1]


class LazyBoxLogit(zuko.lazy.LazyTransform):
    """Lazy wrapper holding the prior box as buffers (so it moves and saves with the model)."""

    def __init__(self, low: Tensor, high: Tensor, core: float = 0.9, tail: str = "exp"):
        super().__init__()
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32).clone())
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32).clone())
        self.core, self.tail = float(core), tail
        BoxLogitTransform(self.low, self.high, self.core, tail)   # validates core and tail

    def forward(self, c: Tensor | None = None) -> Transform:
        return zuko.transforms.DependentTransform(BoxLogitTransform(self.low, self.high, self.core, self.tail), 1)


class LazyLog(zuko.lazy.LazyTransform):
    """``theta -> log theta``: the map of positive parameters (log-normal priors) to R^d."""

    def forward(self, c: Tensor | None = None) -> Transform:
        return zuko.transforms.DependentTransform(torch.distributions.ExpTransform().inv, 1)


class LazyStandardize(zuko.lazy.LazyTransform):
    """``u -> (u - loc) / scale`` with statistics fixed from the training set."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))

    def forward(self, c: Tensor | None = None) -> Transform:
        affine = torch.distributions.AffineTransform(-self.loc / self.scale, 1.0 / self.scale)
        return zuko.transforms.DependentTransform(affine, 1)


class _Coupling(zuko.flows.GeneralCouplingTransform):
    """zuko's coupling layer (same modules and weights) with our :func:`~.spline.broadcast`:
    zuko's imports sympy through ``torch.broadcast_shapes``, 0.5 s of a cold 10-row
    ``nebulae predict`` (measured with cProfile)."""

    def meta(self, c: Tensor, x: Tensor):
        if c is not None:
            x = torch.cat(broadcast(x, c, ignore=1), dim=-1)
        phi = self.hyper(x).unflatten(-1, (-1, self.total))
        return zuko.transforms.DependentTransform(self.univariate(*zuko.utils.unpack(phi, self.shapes)), 1)


def build_flow(
    kind: str,
    features: int,
    context: int,
    transforms: int = 5,
    hidden_features=(64, 64),
    bins: int = 8,
    box: tuple[Tensor, Tensor] | None = None,
    passes: int | None = 2,
    mixing: str = "none",
    bound: float = 5.0,
    affine: bool = False,
    box_map: tuple[float, str] = (0.9, "exp"),
    positive: bool = False,
) -> tuple[zuko.flows.Flow, LazyStandardize]:
    """Build ``Flow([support map?, standardize, learned...], base)``.

    ``mixing="lu"`` puts a learned linear map (LU-parametrised, identity at start) after each
    coupling layer, so that every layer can act on any direction of parameter space, not only
    on the fixed halves (sbi's NSF does the same with nflows' ``LULinear``). ``bound`` is the
    spline interval [-bound, bound] in standardised units (linear tails outside). ``box_map``:
    ``(core, tail)`` of the :class:`BoxLogitTransform` used with a ``box``. ``positive``: the
    parameters are positive (log-normal prior) and the flow models their log.

    Returns the flow and its standardisation module (to fill from training data).
    """
    if mixing not in ("none", "lu"):
        raise ValueError(f"mixing must be 'none' or 'lu', got {mixing!r}")
    # one packed parameter vector per feature (K widths, K heights, K - 1 slopes: zuko's layout,
    # so folders saved with zuko's spline load unchanged) for the fused spline of .spline
    univariate = partial(FastRQSTransform, slope=1e-3, bound=bound)
    shapes = [(rqs_parameters(bins),)]
    if kind == "nsf" and passes == 2 and features > 2:
        # true coupling layers (one network evaluation to invert) with alternating halves:
        # zuko's MAF with passes=2 needs two evaluations per layer, each predicting spline
        # parameters for all features; this needs one, for half of them (4x less work when
        # sampling 10-D posteriors)
        learned = []
        for i in range(transforms):
            learned.append(_Coupling(
                features, context, mask=torch.arange(features) % 2 == (i % 2),
                univariate=univariate, shapes=shapes, hidden_features=hidden_features))
            if mixing == "lu" and i < transforms - 1:
                learned.append(zuko.flows.UnconditionalTransform(zuko.transforms.LULinearTransform,
                                                                 torch.eye(features)))
        base = zuko.flows.UnconditionalDistribution(
            zuko.distributions.DiagNormal, torch.zeros(features), torch.ones(features), buffer=True)
    elif kind == "nsf":
        maf = zuko.flows.MAF(features, context, transforms=transforms, hidden_features=hidden_features,
                             passes=passes, univariate=univariate, shapes=shapes)
        learned, base = list(maf.transform.transforms), maf.base
    elif kind == "maf":
        maf = zuko.flows.MAF(features, context, transforms=transforms, hidden_features=hidden_features, passes=passes)
        learned, base = list(maf.transform.transforms), maf.base
    else:
        raise ValueError(f"unknown flow {kind!r}; choose from {FLOWS}")
    if affine:
        # a conditional shift and scale per parameter first: posteriors are often close to a
        # Gaussian whose location moves with x, which splines alone learn slowly
        learned.insert(0, zuko.flows.ElementWiseTransform(features, context, hidden_features=hidden_features))
    standardize = LazyStandardize(features)
    if box is not None and positive:
        raise ValueError("give a box or positive=True, not both")
    pre = [LazyBoxLogit(*box, *box_map)] if box is not None else [LazyLog()] if positive else []
    flow = zuko.flows.Flow([*pre, standardize, *learned], base)
    return flow, standardize
