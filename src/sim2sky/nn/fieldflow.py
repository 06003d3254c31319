"""A conditional normalizing flow for periodic fields (maps and cubes) with an exact likelihood.

Each layer is a pointwise monotone spline followed by an isotropic Fourier filter, both
functions of the parameters theta: translation- and rotation-equivariant by construction, as
in TRENF (Dai & Seljak 2022, arXiv:2202.05282). From data x to white noise z::

    y_l = s_l(y_{l-1}; theta)                          # rational-quadratic spline, same at every pixel
    y_l <- IFFT( FFT(y_l) * P_l(|k|; theta)^(-1/2) )   # isotropic whitening filter

so ``log p(x | theta) = log N(z; 0, I) + sum_l [sum_pixels log s_l' - 1/2 sum_modes log P_l]``,
cheap to evaluate (FFTs) and to sample (the inverse). A single layer is exact for log-normal
fields; more layers approximate more non-Gaussian ones. On CPU it trains in minutes on 64^2
maps, where the flow-matching U-Net of :mod:`sim2sky.learn.flowmatch` costs 6 s per step of 64
maps on 2 cores (15 min an epoch; 117 epochs took 7 min on an H200: benchmarks/emulators.py).

Why written here: no maintained library ships a conditional Fourier-space flow for fields.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from zuko.transforms import MonotonicRQSTransform

from .fourier import wavenumber_grid

__all__ = ["FieldFlow"]


class FieldFlow(nn.Module):
    """``p(field | theta)`` for fields of a fixed grid ``shape``.

    Parameters
    ----------
    shape : tuple of int
        Grid of one field, (H, W) or (D, H, W); periodic boundaries are assumed.
    theta_dim : int
        Number of conditioning parameters.
    layers : int
        Spline + filter layers.
    knots : int
        Knots in log |k| of each filter's log P(k) (linear interpolation between them).
    bins : int
        Spline bins.
    hidden : tuple of int
        Widths of the MLP mapping standardised theta to all spline and filter parameters.
    bound : float
        Spline interval [-bound, bound] in standardised field units (identity outside).
    floor : float or None
        Fields bounded below (densities, brightness temperatures) are modelled as
        ``log(x - floor)``: a flow's spline cannot learn a long right tail from the few pixels in
        it, and sampling then throws rare huge values (measured: 1 in 100 log-normal maps); in
        log space the tail is short. ``None``: model x itself.

    ``log_prob(x, theta)`` with x (B, *shape), theta (B, d) gives (B,) in nats;
    ``sample(theta, generator=)`` draws one field per row of theta.
    """

    def __init__(self, shape, theta_dim: int, layers: int = 3, knots: int = 16, bins: int = 16,
                 hidden=(128, 128), bound: float = 8.0, floor: float | None = None):
        super().__init__()
        self.floor = None if floor is None else float(floor)
        self.shape, self.theta_dim = tuple(int(s) for s in shape), int(theta_dim)
        self.layers, self.knots, self.bins, self.bound = int(layers), int(knots), int(bins), float(bound)
        self.hidden = tuple(int(h) for h in hidden)
        self.dim = len(self.shape)
        for name, value in (("x_loc", 0.0), ("x_scale", 1.0)):
            self.register_buffer(name, torch.tensor(value))
        self.register_buffer("theta_loc", torch.zeros(theta_dim))
        self.register_buffer("theta_scale", torch.ones(theta_dim))
        self._setup_filter_basis()
        self.per_layer = (3 * self.bins - 1) + (self.knots + 1)
        mlp, width = [], theta_dim
        for h in self.hidden:
            mlp += [nn.Linear(width, h), nn.SiLU()]
            width = h
        last = nn.Linear(width, self.layers * self.per_layer)
        nn.init.zeros_(last.weight)     # start at the identity spline and a white (flat) filter
        nn.init.zeros_(last.bias)
        self.conditioner = nn.Sequential(*mlp, last)

    def _setup_filter_basis(self):
        """Linear-interpolation weights of every rfft mode on the knots (k = 0 is its own knot)."""
        rshape = (*self.shape[:-1], self.shape[-1] // 2 + 1)
        k_full = wavenumber_grid(self.shape)
        k_r = k_full[..., : rshape[-1]]
        kmax = float(k_full.max())
        log_knots = torch.linspace(0.0, math.log(kmax), self.knots, dtype=torch.float64)

        def weights(k):
            logk = k.clamp_min(1.0).log()
            pos = ((logk - log_knots[0]) / (log_knots[1] - log_knots[0])).clamp(0, self.knots - 1 - 1e-9)
            i0 = pos.floor().long()
            w1 = pos - i0
            basis = torch.zeros(*k.shape, self.knots + 1, dtype=torch.float64)
            basis.scatter_(-1, (i0 + 1)[..., None], (1 - w1)[..., None])
            basis.scatter_add_(-1, (i0 + 2)[..., None], w1[..., None])
            zero = k < 0.5
            basis[zero] = 0.0
            basis[..., 0][zero] = 1.0
            return basis

        self.register_buffer("basis_r", weights(k_r).reshape(-1, self.knots + 1).float())      # (M, knots+1)
        self.register_buffer("mode_counts", weights(k_full).reshape(-1, self.knots + 1).sum(0).float())

    def _params(self, theta: Tensor):
        h = self.conditioner((theta - self.theta_loc) / self.theta_scale)
        return h.reshape(-1, self.layers, self.per_layer)

    def _spline(self, p: Tensor) -> MonotonicRQSTransform:
        b = self.bins
        view = (-1, *([1] * self.dim), b)
        w, hgt, d = p[:, :b], p[:, b:2 * b], p[:, 2 * b:3 * b - 1]
        return MonotonicRQSTransform(w.reshape(view), hgt.reshape(view), d.reshape(*view[:-1], b - 1), bound=self.bound)

    def _filter(self, y: Tensor, log_power: Tensor, sign: float) -> Tensor:
        """Multiply every Fourier mode by P(|k|)^(sign/2); log_power (B, knots+1)."""
        axes = tuple(range(-self.dim, 0))
        gain = torch.exp(0.5 * sign * log_power @ self.basis_r.T)               # (B, M)
        f = torch.fft.rfftn(y, dim=axes)
        f = f * gain.reshape(-1, *f.shape[1:])
        return torch.fft.irfftn(f, s=self.shape, dim=axes)

    def to_noise(self, x: Tensor, theta: Tensor) -> tuple[Tensor, Tensor]:
        """The flow from fields x (B, *shape) to white noise z, and log |det dz/dx| (B,)."""
        params = self._params(theta)
        logdet = torch.zeros(len(x), dtype=x.dtype, device=x.device) - math.prod(self.shape) * self.x_scale.log()
        if self.floor is not None:
            shifted = (x - self.floor).clamp_min(1e-30)
            logdet = logdet - shifted.log().flatten(1).sum(1)
            x = shifted.log()
        y = (x - self.x_loc) / self.x_scale
        b = 3 * self.bins - 1
        for layer in range(self.layers):
            p = params[:, layer]
            y, ladj = self._spline(p[:, :b]).call_and_ladj(y)
            logdet = logdet + ladj.flatten(1).sum(1)
            log_power = p[:, b:]
            y = self._filter(y, log_power, -1.0)
            logdet = logdet - 0.5 * (log_power @ self.mode_counts)
        return y, logdet

    def log_prob(self, x: Tensor, theta: Tensor) -> Tensor:
        """Exact log p(x | theta) [nats] of fields x (B, *shape) given theta (B, d): (B,)."""
        z, logdet = self.to_noise(x, theta)
        n = math.prod(self.shape)
        return -0.5 * (z.flatten(1) ** 2).sum(1) - 0.5 * n * math.log(2 * math.pi) + logdet

    @torch.no_grad()
    def sample(self, theta: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One field per row of theta: tensor (B, *shape)."""
        params = self._params(theta)
        y = torch.randn((len(theta), *self.shape), generator=generator, dtype=self.x_loc.dtype)
        b = 3 * self.bins - 1
        for layer in reversed(range(self.layers)):
            p = params[:, layer]
            y = self._filter(y, p[:, b:], +1.0)
            y = self._spline(p[:, :b]).inv(y)
        y = y * self.x_scale + self.x_loc
        return y if self.floor is None else y.exp() + self.floor

    def spec(self) -> dict:
        return {"shape": list(self.shape), "theta_dim": self.theta_dim, "layers": self.layers, "knots": self.knots,
                "bins": self.bins, "hidden": list(self.hidden), "bound": self.bound, "floor": self.floor}
