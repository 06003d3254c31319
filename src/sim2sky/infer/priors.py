"""Priors that serialise to JSON and know how to map themselves to unbounded space.

A bounded prior (box-uniform) is handled by a bijection to R^d
(:class:`sim2sky.nn.flows.BoxLogitTransform`), a log-normal one by the log: the flow lives in
unbounded space and every sample maps back inside the prior's support,
so no posterior mass leaks outside the prior and sampling needs no rejection (sbi's NPE
rejects samples that fall outside the prior, which stalls when the leakage is large).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..core.errors import InputError

__all__ = ["BoxUniform", "Gaussian", "LogNormal", "prior_from_dict", "as_prior"]


class BoxUniform:
    """Independent uniform prior on ``[low, high]`` per parameter.

    Parameters
    ----------
    low, high : sequence of float, shape (d,)
        Bounds in the parameters' own units; ``high > low`` elementwise.
    """

    kind = "box_uniform"

    def __init__(self, low, high):
        low = torch.as_tensor(low, dtype=torch.float64).flatten()
        high = torch.as_tensor(high, dtype=torch.float64).flatten()
        if low.shape != high.shape:
            raise InputError(
                f"prior bounds: 'low' has {low.numel()} values but 'high' has {high.numel()}; "
                "give one pair per parameter"
            )
        if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
            raise InputError("prior bounds must be finite numbers")
        if not (high > low).all():
            bad = int(torch.nonzero(high <= low)[0])
            raise InputError(
                f"prior bounds: high must exceed low, but for parameter {bad} "
                f"low={low[bad].item()} and high={high[bad].item()}"
            )
        self.low, self.high = low.float(), high.float()

    @property
    def dim(self) -> int:
        return self.low.numel()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        u = torch.rand((n, self.dim), generator=generator)
        return self.low + u * (self.high - self.low)

    def log_prob(self, theta: Tensor) -> Tensor:
        inside = ((theta >= self.low) & (theta <= self.high)).all(-1)
        logp = -torch.log(self.high - self.low).sum()
        return torch.where(inside, logp, torch.tensor(-math.inf))

    def contains(self, theta: Tensor) -> Tensor:
        return ((theta >= self.low) & (theta <= self.high)).all(-1)


    def to_dict(self) -> dict:
        return {"kind": self.kind, "low": self.low.tolist(), "high": self.high.tolist()}


class Gaussian:
    """Normal prior: independent with mean ``loc`` and standard deviation ``scale``, or correlated
    with a full ``covariance`` (d, d) (then ``scale`` is the square root of its diagonal)."""

    kind = "gaussian"

    def __init__(self, loc, scale=None, covariance=None):
        self.loc = torch.as_tensor(loc, dtype=torch.float32).flatten()
        self.covariance, self._tril = None, None
        if covariance is not None:
            cov = torch.as_tensor(covariance, dtype=torch.float64)
            if cov.shape != (self.loc.numel(), self.loc.numel()) or not torch.allclose(cov, cov.T):
                raise InputError(f"Gaussian prior: 'covariance' must be a symmetric {self.loc.numel()}x"
                                 f"{self.loc.numel()} matrix, got shape {tuple(cov.shape)}")
            tril, info = torch.linalg.cholesky_ex(cov)
            if info != 0:
                raise InputError("Gaussian prior: 'covariance' is not positive definite")
            self.covariance, self._tril = cov.float(), tril.float()
            scale = cov.diagonal().sqrt()
        if scale is None:
            raise InputError("Gaussian prior needs 'scale' (independent) or 'covariance' (correlated)")
        self.scale = torch.as_tensor(scale, dtype=torch.float32).flatten()
        if self.loc.shape != self.scale.shape or not (self.scale > 0).all():
            raise InputError("Gaussian prior needs 'loc' and positive 'scale' of equal length")

    @property
    def dim(self) -> int:
        return self.loc.numel()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn((n, self.dim), generator=generator)
        return self.loc + (self.scale * z if self._tril is None else z @ self._tril.T)

    def log_prob(self, theta: Tensor) -> Tensor:
        if self._tril is not None:
            return torch.distributions.MultivariateNormal(self.loc, scale_tril=self._tril).log_prob(theta)
        return torch.distributions.Normal(self.loc, self.scale).log_prob(theta).sum(-1)

    def contains(self, theta: Tensor) -> Tensor:
        return torch.ones(theta.shape[:-1], dtype=torch.bool)

    def to_dict(self) -> dict:
        if self.covariance is not None:
            return {"kind": self.kind, "loc": self.loc.tolist(), "covariance": self.covariance.tolist()}
        return {"kind": self.kind, "loc": self.loc.tolist(), "scale": self.scale.tolist()}


class LogNormal:
    """Independent log-normal prior: ``log theta ~ N(loc, scale)`` per parameter (rates, masses).

    Parameters
    ----------
    loc, scale : sequence of float, shape (d,)
        Mean and standard deviation of ``log theta`` (natural log; theta in its own units).
    """

    kind = "lognormal"

    def __init__(self, loc, scale):
        self.loc = torch.as_tensor(loc, dtype=torch.float32).flatten()
        self.scale = torch.as_tensor(scale, dtype=torch.float32).flatten()
        if self.loc.shape != self.scale.shape or not (self.scale > 0).all() or not torch.isfinite(self.loc).all():
            raise InputError("log-normal prior needs finite 'loc' and positive 'scale' (of log theta) of equal length")

    @property
    def dim(self) -> int:
        return self.loc.numel()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.exp(self.loc + self.scale * torch.randn((n, self.dim), generator=generator))

    def log_prob(self, theta: Tensor) -> Tensor:
        inside = self.contains(theta)
        log_theta = torch.log(torch.where(theta > 0, theta, torch.ones_like(theta)))
        lp = (torch.distributions.Normal(self.loc, self.scale).log_prob(log_theta) - log_theta).sum(-1)
        return torch.where(inside, lp, torch.tensor(-math.inf, dtype=lp.dtype))

    def contains(self, theta: Tensor) -> Tensor:
        return (theta > 0).all(-1)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "loc": self.loc.tolist(), "scale": self.scale.tolist()}


def as_prior(prior):
    """One of this module's priors from what a user passes: ours, their JSON dict, or a
    ``torch.distributions`` prior — ``Uniform`` (also inside ``Independent``, as sbi's and zuko's
    ``BoxUniform`` are), ``Normal``, ``MultivariateNormal`` or ``LogNormal`` (zuko's ``DiagNormal``
    is an ``Independent(Normal)``). Anything else is refused with one line: the flow needs the
    support map that only these have."""
    if prior is None or isinstance(prior, (BoxUniform, Gaussian, LogNormal)):
        return prior
    if isinstance(prior, dict):
        return prior_from_dict(prior)
    dist = torch.distributions
    base = prior
    while isinstance(base, dist.Independent):
        base = base.base_dist
    if isinstance(base, dist.Uniform):
        return BoxUniform(base.low.detach().flatten(), base.high.detach().flatten())
    if isinstance(base, dist.Normal):
        return Gaussian(base.loc.detach().flatten(), base.scale.detach().flatten())
    if isinstance(base, dist.MultivariateNormal):
        return Gaussian(base.loc.detach().flatten(), covariance=base.covariance_matrix.detach())
    if isinstance(base, dist.LogNormal):
        return LogNormal(base.loc.detach().flatten(), base.scale.detach().flatten())
    raise InputError(f"prior: {type(prior).__name__} is not supported; pass BoxUniform, Gaussian or LogNormal "
                     "(sim2sky.infer), their JSON, or a torch Uniform, Normal, MultivariateNormal or LogNormal "
                     "(sbi's and zuko's BoxUniform work)")


def prior_from_dict(spec: dict | None):
    """Build a prior from its JSON form; ``{"low": [...], "high": [...]}`` means box-uniform."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise InputError("a prior must be a JSON object such as {\"low\": [...], \"high\": [...]}")
    kind = spec.get("kind", "box_uniform" if "low" in spec else None)
    if kind == "box_uniform":
        missing = [k for k in ("low", "high") if k not in spec]
        if missing:
            raise InputError(f"box prior is missing {missing}; expected {{\"low\": [...], \"high\": [...]}}")
        return BoxUniform(spec["low"], spec["high"])
    if kind == "gaussian":
        if "loc" not in spec or not ("scale" in spec or "covariance" in spec):
            raise InputError("Gaussian prior needs 'loc' and 'scale' (or 'covariance'), e.g. "
                             "{\"kind\": \"gaussian\", \"loc\": [0], \"scale\": [1]}")
        return Gaussian(spec["loc"], spec.get("scale"), spec.get("covariance"))
    if kind == "lognormal":
        if "loc" not in spec or "scale" not in spec:
            raise InputError("log-normal prior needs 'loc' and 'scale' of log theta, e.g. "
                             "{\"kind\": \"lognormal\", \"loc\": [-0.9], \"scale\": [0.5]}")
        return LogNormal(spec["loc"], spec["scale"])
    raise InputError(f"unknown prior kind {kind!r}; expected 'box_uniform', 'gaussian' or 'lognormal'")
