"""A small U-Net for dense (per-pixel / per-voxel) prediction on images and cubes.

One class for 2-D and 3-D: conv-conv blocks, average-pool down, transposed-conv up with skip
connections (Ronneberger et al. 2015, arXiv:1505.04597; the 3-D form of Cicek et al. 2016,
arXiv:1606.06650). Outputs raw logits; the learner (:class:`sim2sky.learn.Segmenter`) adds the
loss. Inputs whose sizes are not multiples of ``2**len(channels)`` are padded and cropped back,
so a cube block of any shape can be passed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["UNet"]


class _Block(nn.Module):
    def __init__(self, conv, norm, cin: int, cout: int):
        super().__init__()
        self.net = nn.Sequential(conv(cin, cout, 3, padding=1), norm(cout), nn.GELU(),
                                 conv(cout, cout, 3, padding=1), norm(cout), nn.GELU())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class UNet(nn.Module):
    """U-Net mapping (B, in_channels, *S) to logits (B, out_channels, *S), S of 2 or 3 axes.

    Parameters
    ----------
    dim : {2, 3}
        Number of spatial axes (images or cubes).
    in_channels, out_channels : int
    channels : sequence of int
        Feature widths per level; ``len(channels) - 1`` poolings by 2.
    """

    def __init__(self, dim: int = 2, in_channels: int = 1, out_channels: int = 1, channels=(8, 16, 32)):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self._spec = {"kind": "unet", "dim": int(dim), "in_channels": int(in_channels),
                      "out_channels": int(out_channels), "channels": [int(c) for c in channels]}
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        up = nn.ConvTranspose2d if dim == 2 else nn.ConvTranspose3d
        # group norm with one group per 4 channels: independent of the batch size (cube blocks
        # are predicted one at a time)
        norm = lambda c: nn.GroupNorm(max(1, c // 4), c)  # noqa: E731
        self.dim, self.in_channels, self.out_channels = dim, in_channels, out_channels
        self.down = nn.ModuleList()
        cin = in_channels
        for c in channels:
            self.down.append(_Block(conv, norm, cin, c))
            cin = c
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        for c in reversed(channels[:-1]):
            self.up.append(up(cin, c, 2, stride=2))
            self.merge.append(_Block(conv, norm, 2 * c, c))
            cin = c
        self.head = conv(cin, out_channels, 1)
        self.pool = nn.AvgPool2d(2) if dim == 2 else nn.AvgPool3d(2)
        self.multiple = 2 ** (len(channels) - 1)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-self.dim:]
        pad = []
        for n in reversed(size):                  # F.pad wants the last axis first
            pad += [0, (-n) % self.multiple]
        h = F.pad(x, pad, mode="replicate") if any(pad) else x
        skips = []
        for i, block in enumerate(self.down):
            h = block(h)
            if i < len(self.down) - 1:
                skips.append(h)
                h = self.pool(h)
        for up, merge in zip(self.up, self.merge):
            h = merge(torch.cat([up(h), skips.pop()], dim=1))
        out = self.head(h)
        return out[(...,) + tuple(slice(0, n) for n in size)]

    def spec(self) -> dict:
        return dict(self._spec)
