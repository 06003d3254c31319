"""A conditional U-Net for periodic fields: the velocity (or noise) network of flow matching and diffusion.

``net(x_t, t, theta)`` maps a field at time ``t`` of a generative path, conditioned on physical
parameters ``theta``, to a field of the same shape. Convolutions wrap around (periodic
boundaries, as the simulated boxes are), so the network is translation equivariant; time and
parameters enter every residual block as a feature-wise scale and shift (FiLM; Perez et al.
2017, arXiv:1709.07871), as in the U-Nets of DDPM (Ho et al. 2020, arXiv:2006.11239). One class
serves maps (2-D) and cubes (3-D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import InputError

__all__ = ["ConditionalUNet"]


def _time_features(t: Tensor, n: int) -> Tensor:
    """Sinusoidal features (B, 2n) of times t (B,) in [0, 1]."""
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), n, dtype=t.dtype, device=t.device))
    angles = t[:, None] * freqs[None] * math.pi
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _ResBlock(nn.Module):
    """GroupNorm -> FiLM(t, theta) -> SiLU -> periodic conv, twice, with a residual connection."""

    def __init__(self, dim: int, cin: int, cout: int, cond: int):
        super().__init__()
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        self.norm1, self.norm2 = nn.GroupNorm(math.gcd(8, cin), cin), nn.GroupNorm(math.gcd(8, cout), cout)
        self.conv1 = conv(cin, cout, 3, padding=1, padding_mode="circular")
        self.conv2 = conv(cout, cout, 3, padding=1, padding_mode="circular")
        self.film = nn.Linear(cond, 2 * cout)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.skip = conv(cin, cout, 1) if cin != cout else nn.Identity()
        self.view = (-1, cout) + (1,) * dim

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(c).chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale.reshape(self.view)) + shift.reshape(self.view)
        return self.skip(x) + self.conv2(F.silu(h))


class ConditionalUNet(nn.Module):
    """U-Net ``(x (B, *S), t (B,), theta (B, d)) -> (B, *S)`` for fields on a periodic grid S.

    Parameters
    ----------
    dim : {2, 3}
        Maps or cubes.
    theta_dim : int
        Number of conditioning parameters (standardised by the learner).
    channels : sequence of int
        Widths per resolution level; ``len(channels) - 1`` halvings of the grid, so every side
        must be divisible by ``2 ** (len(channels) - 1)``.
    cond_features : int
        Width of the time + parameter embedding that modulates every block.
    """

    def __init__(self, dim: int = 2, theta_dim: int = 2, channels=(32, 64, 128), cond_features: int = 128):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self.dim, self.theta_dim = int(dim), int(theta_dim)
        self.channels, self.cond_features = tuple(int(c) for c in channels), int(cond_features)
        self.multiple = 2 ** (len(self.channels) - 1)
        self.cond = nn.Sequential(nn.Linear(32 + theta_dim, cond_features), nn.SiLU(),
                                  nn.Linear(cond_features, cond_features), nn.SiLU())
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        self.stem = conv(1, self.channels[0], 3, padding=1, padding_mode="circular")
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        cin = self.channels[0]
        for c in self.channels:
            self.down.append(_ResBlock(dim, cin, c, cond_features))
            cin = c
        self.middle = _ResBlock(dim, cin, cin, cond_features)
        for c in reversed(self.channels[:-1]):
            self.up.append(_ResBlock(dim, cin + c, c, cond_features))
            cin = c
        self.head = conv(cin, 1, 3, padding=1, padding_mode="circular")
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.pool = nn.AvgPool2d(2) if dim == 2 else nn.AvgPool3d(2)

    def forward(self, x: Tensor, t: Tensor, theta: Tensor) -> Tensor:
        if any(n % self.multiple for n in x.shape[-self.dim:]):
            raise InputError(f"grid {tuple(x.shape[-self.dim:])} is not divisible by {self.multiple}; use fewer levels")
        c = self.cond(torch.cat([_time_features(t, 16), theta], dim=1))
        h, skips = self.stem(x.unsqueeze(1)), []
        for i, block in enumerate(self.down):
            h = block(h, c)
            if i < len(self.down) - 1:
                skips.append(h)
                h = self.pool(h)
        h = self.middle(h, c)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), c)
        return self.head(h).squeeze(1)

    def spec(self) -> dict:
        return {"dim": self.dim, "theta_dim": self.theta_dim, "channels": list(self.channels),
                "cond_features": self.cond_features}
