"""The NPE network: an ``nn.Module`` whose call returns the posterior ``q(theta | x)`` (as in zuko).

``x`` may be a feature vector (..., k), a spectrum (..., L), a map (..., H, W) or a cube
(..., D, H, W): an *embedding network* (any encoder of :mod:`sim2sky.nn`, or your own module
with ``out_features``) compresses it into the context of a conditional normalizing flow, and
both are trained jointly.

References
----------
Papamakarios & Murray 2016, arXiv:1605.06376; Greenberg et al. 2019, arXiv:1905.07488;
Durkan et al. 2019 (neural spline flows), arXiv:1906.04032.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor, nn

from ..core.config import from_dict, to_dict
from ..core.errors import InputError
from ..nn.encoders import ENCODERS, Concat, build_encoder
from ..nn.flows import BOX_TAILS, FLOWS, build_flow
from .priors import BoxUniform, LogNormal

__all__ = ["NPEConfig", "NPEEstimator", "EMBEDDINGS", "build_embedding", "log_features"]

#: ``flow="auto"`` considers a spline flow up to this many parameters, only three MAFs above
NSF_MAX_PARAMETERS = 5

EMBEDDINGS = ("none", "mlp", "cnn1d", "resnet1d", "cnn2d", "cnn3d", "powerspectrum", "cnn2d+powerspectrum",
              "cnn3d+powerspectrum")


@dataclass(frozen=True)
class NPEConfig:
    """Architecture of an NPE estimator.

    Attributes
    ----------
    flow : {"auto", "nsf", "maf"}
        Neural spline flow, masked affine autoregressive flow, or ``auto`` (default): NSF for
        one or two parameters, an ensemble of three MAFs above five; from three to five both are
        trained and the one with the lower validation loss is kept (:meth:`candidates`). Measured with
        ``benchmarks/npe_vs_sbi.py`` and the held-out KL on Gaussian tasks: with 10^4
        simulations in 10-D the spline coupling flow overfits (KL 0.31 nats to the exact
        posterior) where an affine MAF reaches 0.13 and three of them 0.07; on the 2-D tasks
        (crescents, mixtures) and on SLCP (5-D, four modes: C2ST 0.893 vs 0.952 for three
        MAFs, 10 observations) splines are needed; on Lotka-Volterra (4-D) both give 0.89.
    transforms : int
        Number of learned transforms.
    hidden_features : tuple of int
        Hidden layer widths of each transform's conditioner.
    bins : int
        Spline bins (NSF only).
    passes : int or None
        2 (default) makes each transform a coupling layer, so sampling costs 2 network
        evaluations per transform whatever the number of parameters; ``None`` is fully
        autoregressive (d passes; amortised sampling of 10-D posteriors was 5x slower).
    embedding : {"none", "mlp", "cnn1d", "resnet1d", "cnn2d", "cnn3d", "powerspectrum"}
        Network compressing x before it conditions the flow (``powerspectrum``: the binned log
        P(k) of a periodic map or cube, then an MLP; ``cnnNd+powerspectrum``: both, concatenated) (ignored when a module is passed
        to :class:`NPEEstimator`); extra constructor arguments in ``embedding_options``.
    embedding_dim : int
        Output size of the embedding network.
    mixing : {"none", "lu"}
        ``lu`` adds a learned linear map between coupling layers (d > 2).
    bound : float
        Spline interval [-bound, bound] in standardised units.
    affine : bool or None
        A conditional shift-and-scale layer before the learned transforms; None (default): on for
        spline flows. Posteriors much narrower than the prior whose location moves with x (SIR:
        C2ST 0.612 -> 0.595, sbi 0.600) need it; on two_moons and gaussian_mixture it changed
        little (0.556 -> 0.551, 0.574 -> 0.573; 10 observations each).
    ensemble : int
        Independently trained flows whose equal-weight mixture is the posterior (deep
        ensemble; Lakshminarayanan et al. 2017, arXiv:1612.01474); 0 (default) follows
        ``flow="auto"``. Sampling costs the same as one flow; training ``ensemble`` times more.
    bounds : {"bijection", "rejection"}
        How a box prior is respected: a fixed map to unbounded space (default; no sample ever
        leaves the box, nothing is rejected) or truncation by rejection (as sbi).
    box_tail : {"auto", "exp", "gauss"}
        Tails of that map (:class:`sim2sky.nn.flows.BoxLogitTransform`): ``auto`` is ``exp``
        for spline flows and ``gauss`` for MAFs, which cannot bend a sharp exponential tail
        (gaussian_linear_uniform, 3 MAFs: C2ST 0.591 -> 0.555; ``benchmarks/box_map.py``).
    box_core : float
        Fraction of the box mapped linearly; negative (default): 0.97 for ``exp``, 0.5 for ``gauss``.
        gaussian_mixture's posteriors near the box edge (4 of its 10 reference observations) fit
        better with a narrower stretched rim: C2ST 0.574 -> 0.564 from core 0.9 to 0.97 (2 seeds;
        0.99: 0.564), held-out validation loss 1.102 -> 1.068 nats.
    x_log : {"auto", "none"}
        ``auto``: a feature vector without embedding network has its strictly positive,
        right-skewed features (skewness > 1 that the log reduces) modelled as log x, decided
        once from the training set and stored with the model. Populations, fluxes and rates
        spread over decades otherwise get squashed by the standardisation: on Lotka-Volterra
        (log-normal observations) the C2ST went from 0.979 to 0.890 (sbi: 0.963).
    """

    flow: str = "auto"
    transforms: int = 5
    hidden_features: tuple[int, ...] = (64, 64)
    bins: int = 8
    passes: int | None = 2
    embedding: str = "none"
    embedding_dim: int = 32
    embedding_options: dict = field(default_factory=dict)
    mixing: str = "none"
    bound: float = 5.0
    affine: bool | None = None
    ensemble: int = 0
    bounds: str = "bijection"
    box_tail: str = "auto"
    box_core: float = -1.0
    x_log: str = "auto"

    def __post_init__(self):
        if self.flow not in (*FLOWS, "auto"):
            raise ValueError(f"flow must be one of auto, {', '.join(FLOWS)}, got {self.flow!r}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}, got {self.embedding!r}")
        if self.transforms < 1 or self.bins < 2:
            raise ValueError("transforms must be >= 1 and bins >= 2")
        if self.ensemble < 0:
            raise ValueError("ensemble must be >= 1 (or 0 for automatic)")
        if self.bounds not in ("bijection", "rejection"):
            raise ValueError("bounds must be 'bijection' or 'rejection'")
        if self.box_tail not in ("auto", *BOX_TAILS) or self.box_core >= 1.0:
            raise ValueError(f"box_tail must be auto or one of {BOX_TAILS}, and box_core < 1")
        if self.x_log not in ("auto", "none"):
            raise ValueError(f"x_log must be 'auto' or 'none', got {self.x_log!r}")

    def resolved(self, theta_dim: int) -> "NPEConfig":
        """The concrete architecture for ``theta_dim`` parameters (``auto`` and 0 filled in)."""
        flow = self.flow if self.flow != "auto" else ("nsf" if theta_dim <= 2 else "maf")
        ensemble = self.ensemble or (1 if self.flow != "auto" or theta_dim <= 2 else 3)
        tail = self.box_tail if self.box_tail != "auto" else ("gauss" if flow == "maf" else "exp")
        core = self.box_core if self.box_core >= 0 else (0.5 if tail == "gauss" else 0.97)
        affine = self.affine if self.affine is not None else flow == "nsf"
        return replace(self, flow=flow, ensemble=ensemble, box_tail=tail, box_core=core, affine=affine)

    def candidates(self, theta_dim: int) -> list["NPEConfig"]:
        """The architectures :class:`~.npe.NPE` trains and chooses from by validation loss: with
        ``flow="auto"`` (and ``ensemble=0``) and 3 to :data:`NSF_MAX_PARAMETERS` parameters, one
        spline flow and three MAFs; otherwise just :meth:`resolved`."""
        if self.flow == "auto" and self.ensemble == 0 and 2 < theta_dim <= NSF_MAX_PARAMETERS:
            return [replace(self, flow="nsf", ensemble=1).resolved(theta_dim),
                    replace(self, flow="maf", ensemble=3).resolved(theta_dim)]
        return [self.resolved(theta_dim)]


def build_embedding(kind: str, x_shape: tuple, out_features: int, options: dict | None = None) -> nn.Module | None:
    """The embedding module for a kind name (None for ``"none"``)."""
    options = dict(options or {})
    if kind == "none":
        return None
    if kind.endswith("+powerspectrum"):           # hybrid: the CNN learns what P(k) misses
        cnn = build_embedding(kind.split("+")[0], x_shape, out_features, options)
        spectrum = build_embedding("powerspectrum", x_shape, out_features, {})
        return Concat([cnn, spectrum])
    if kind == "mlp":
        options.setdefault("hidden", (64, 64))
        options.setdefault("activation", "elu")
        return ENCODERS["mlp"](int(np.prod(x_shape)), out_features=out_features, **options)
    if kind == "powerspectrum":
        if len(x_shape) not in (2, 3):
            raise InputError(f"embedding 'powerspectrum' expects maps (H, W) or cubes (D, H, W), got one observation "
                             f"of shape {tuple(x_shape)}")
        options.setdefault("dim", len(x_shape))
    spatial = {"cnn1d": 1, "resnet1d": 1, "cnn2d": 2, "cnn3d": 3}.get(kind)
    if spatial is not None:
        x_shape = tuple(int(v) for v in x_shape)
        if len(x_shape) == spatial + 1:               # a leading channel axis: (C, *S)
            options.setdefault("in_channels", x_shape[0])
        elif len(x_shape) != spatial:
            raise InputError(f"embedding {kind!r} expects observations of shape {'(C, ) ' if spatial else ''}"
                             f"with {spatial} spatial axes (optionally a leading channel axis), got one observation "
                             f"of shape {x_shape}; reshape x or choose another embedding")
    module = ENCODERS[kind](int(x_shape[-1]), out_features, **options)
    try:                                # a dry run turns shape errors deep in torch into one clear message
        with torch.no_grad():
            module(torch.zeros(2, *x_shape))
    except RuntimeError as exc:
        raise InputError(f"embedding {kind!r} cannot take observations of shape {tuple(x_shape)}: {exc}; use larger "
                         f"inputs, fewer pooling stages (embedding_options) or another embedding") from None
    return module


def _skewness(x: Tensor) -> Tensor:
    z = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    return (z ** 3).mean(0)


def log_features(x: Tensor) -> Tensor:
    """Which features (k,) of x (n, k) are better modelled as log x: strictly positive, skewness
    above 1, and less skewed after the log (observation noise that multiplies, quantities
    spread over decades)."""
    positive = (x > 0).all(0)
    skew = _skewness(x.double())
    log_skew = _skewness(torch.log(torch.where(positive, x, torch.ones_like(x)).double()))
    return positive & (skew > 1.0) & (log_skew.abs() < skew)


class NPEEstimator(nn.Module):
    """Conditional density estimator ``x -> q(theta | x)``.

    Parameters
    ----------
    theta_dim : int
        Number of parameters d.
    x_shape : int or tuple
        Shape of one observation (k,), (L,), (H, W) or (D, H, W).
    config : NPEConfig
    prior : BoxUniform, LogNormal or Gaussian, optional
        A box prior keeps all posterior mass inside it (see ``NPEConfig.bounds``); with a
        log-normal prior the flow models log theta, so every sample is positive.
    embedding : nn.Module, optional
        Your embedding network (inputs x standardised per element, output ``out_features``);
        overrides ``config.embedding``. Encoders of :mod:`sim2sky.nn` save and load with the model.

    Calling the module with x of shape (..., *x_shape) returns a distribution with batch shape
    (...) and event shape (d,).
    """

    def __init__(self, theta_dim: int, x_shape, config: NPEConfig = NPEConfig(), prior=None,
                 embedding: nn.Module | None = None):
        super().__init__()
        config = replace(config.resolved(theta_dim), ensemble=1)
        self.x_shape = tuple(int(s) for s in np.atleast_1d(x_shape))
        self.theta_dim, self.config = theta_dim, config
        self.register_buffer("x_loc", torch.zeros(self.x_shape))
        self.register_buffer("x_scale", torch.ones(self.x_shape))
        self.register_buffer("x_log", torch.zeros(self.x_shape, dtype=torch.bool))
        if embedding is None:
            embedding = build_embedding(config.embedding, self.x_shape, config.embedding_dim, config.embedding_options)
        if embedding is None and len(self.x_shape) > 1:
            raise ValueError(f"observations of shape {self.x_shape} need an embedding network (e.g. cnn2d)")
        self.embedding = embedding if embedding is not None else nn.Identity()
        context = embedding.out_features if embedding is not None else self.x_shape[0]
        box = (prior.low, prior.high) if isinstance(prior, BoxUniform) else None
        # a box prior either maps the flow to unbounded space (bijection) or truncates it (rejection)
        self.rejection_box = box is not None and config.bounds == "rejection"
        if self.rejection_box:
            self.register_buffer("box_low", torch.as_tensor(box[0], dtype=torch.float32).clone())
            self.register_buffer("box_high", torch.as_tensor(box[1], dtype=torch.float32).clone())
            box = None
        self.flow, _ = build_flow(
            config.flow, theta_dim, context, config.transforms, config.hidden_features, config.bins, box, config.passes,
            config.mixing, config.bound, config.affine, (config.box_core, config.box_tail),
            positive=isinstance(prior, LogNormal))
        self._has_support_map = box is not None or isinstance(prior, LogNormal)

    @property
    def x_dim(self) -> int:
        return int(np.prod(self.x_shape))

    @property
    def support_transform(self):
        """The fixed map of the prior's support to R^d: box logit or log (None for a Gaussian or
        without a prior, and for a box handled by rejection)."""
        return self.flow.transform.transforms[0] if self._has_support_map else None

    @property
    def standardize_transform(self):
        return self.flow.transform.transforms[1 if self._has_support_map else 0]

    def _logged(self, x: Tensor) -> Tensor:
        """x with the features chosen by ``x_log`` replaced by their log."""
        if not self.x_log.any():
            return x
        return torch.where(self.x_log, torch.log(x.clamp_min(torch.finfo(x.dtype).tiny)), x)

    def _standardized(self, x: Tensor) -> Tensor:
        """x as the embedding sees it: logged where ``x_log`` says so, then standardised."""
        return (self._logged(x) - self.x_loc) / self.x_scale

    def embed(self, x: Tensor) -> Tensor:
        """The flow's context for observations x: the embedding of the standardised inputs."""
        e = self.embedding(self._standardized(x))
        # an encoder without a channel axis sees a leading singleton channel (1, *S) as a batch axis
        return e.reshape(*x.shape[:x.ndim - len(self.x_shape)], -1)

    def forward(self, x: Tensor) -> torch.distributions.Distribution:
        return self.flow(self.embed(x))

    def sample(self, x: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples for each observation in x (batch, *x_shape): tensor (n, batch, d).

        With a ``generator`` the base noise comes from that private RNG (thread-safe and
        reproducible), otherwise from torch's global RNG.
        """
        q = self(x)

        def draw(m):
            if generator is None:
                return q.sample((m,))
            base = q.base.base_dist if hasattr(q.base, "base_dist") else q.base
            # noise from the (CPU) generator, then moved: the same draws on any device
            z = torch.randn((m, *base.loc.shape), generator=generator, dtype=base.loc.dtype).to(base.loc.device)
            return q.transform.inv(base.loc + base.scale * z)

        if not self.rejection_box:
            return draw(n)
        out = draw(n)
        bad = ((out < self.box_low) | (out > self.box_high)).any(-1)          # (n, batch)
        for _ in range(100):          # redraw, per observation, until n samples lie inside
            if not bad.any():
                break
            more = draw(n)
            ok = ~((more < self.box_low) | (more > self.box_high)).any(-1)
            for j in torch.nonzero(bad.any(0)).flatten().tolist():
                need = torch.nonzero(bad[:, j]).flatten()
                have = more[ok[:, j], j][: len(need)]
                out[need[: len(have)], j] = have
                bad[need[: len(have)], j] = False
        if bad.any():    # almost all mass outside the prior: clamp what is left rather than loop forever
            out = torch.minimum(torch.maximum(out, self.box_low), self.box_high)
        return out

    def at_base(self, x: Tensor, z: Tensor) -> Tensor:
        """theta at base-space points ``z`` (k, d), or (k,) for one parameter, for observations x
        (batch, *x_shape): tensor (k, batch, d). No rejection box (its redraws are not points).

        One parameter: every transform of a one-dimensional flow is increasing (the support map,
        the standardisation, the monotone splines), so at ``z = ndtri(q)`` this is the exact
        q-quantile of the posterior, without sampling noise and with k inverse passes instead of
        one per draw. Several: the points are any design of the base Gaussian (e.g. the
        quasi-Monte Carlo points of :meth:`Posterior.moments`).
        """
        if self.rejection_box:
            raise ValueError("at_base: a posterior with a rejection box is drawn, not evaluated at base points")
        q = self(x)
        base = q.base.base_dist if hasattr(q.base, "base_dist") else q.base
        z = z.to(base.loc.dtype).reshape(len(z), *([1] * (base.loc.ndim - 1)), self.theta_dim)
        return q.transform.inv(base.loc + base.scale * z)

    @torch.no_grad()
    def set_standardization(self, theta: Tensor, x: Tensor) -> None:
        """Fix input and parameter scaling from (a subset of) the training set."""
        if self.config.x_log == "auto" and isinstance(self.embedding, nn.Identity) and len(self.x_shape) == 1:
            self.x_log.copy_(log_features(x))
        logged = self._logged(x)
        self.x_loc.copy_(logged.mean(0))
        self.x_scale.copy_(logged.std(0).clamp_min(1e-8))
        self.standardize_embedding(x)
        u = theta if self.support_transform is None else self.support_transform()(theta)
        self.standardize_transform.loc.copy_(u.mean(0))
        self.standardize_transform.scale.copy_(u.std(0).clamp_min(1e-8))

    @torch.no_grad()
    def standardize_embedding(self, x: Tensor, rows: int = 4096) -> None:
        """Let an embedding that fixes statistics of its own (``set_standardization``, e.g. the
        binned log P(k)) take them from (at most ``rows`` of) the training inputs, as it will see them."""
        hook = getattr(self.embedding, "set_standardization", None)
        if hook is not None:
            hook(self._standardized(x[:rows]))

    def architecture(self) -> dict:
        spec = self.embedding.spec() if hasattr(self.embedding, "spec") else None
        return {"theta_dim": self.theta_dim, "x_shape": list(self.x_shape), **to_dict(self.config),
                "embedding_spec": spec}

    @classmethod
    def from_architecture(cls, arch: dict, prior=None) -> "NPEEstimator":
        arch = dict(arch)
        theta_dim = int(arch.pop("theta_dim"))
        x_shape = arch.pop("x_shape", None) or [int(arch.pop("x_dim"))]
        arch.pop("x_dim", None)
        spec = arch.pop("embedding_spec", None)
        arch.setdefault("box_tail", "exp")     # models saved before box_tail existed
        arch.setdefault("box_core", 0.9)
        arch.setdefault("affine", False)     # models saved before the automatic affine layer
        config = from_dict(NPEConfig, arch, "architecture")
        return cls(theta_dim, x_shape, config, prior, embedding=build_encoder(spec) if spec else None)

