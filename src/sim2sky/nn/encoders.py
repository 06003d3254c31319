"""Encoders: networks that turn an observation into a feature vector.

Used as classifier backbones (:mod:`sim2sky.learn`) and as NPE embedding networks
(:mod:`sim2sky.infer`). Every encoder is a plain ``nn.Module`` with

* ``forward(x) -> (..., out_features)`` on standardised inputs,
* ``out_features`` (int),
* ``spec() -> dict``: the JSON-able recipe ``{"kind": ..., **kwargs}`` that
  :func:`build_encoder` turns back into the same architecture (model folders store it).

Inputs: ``MLP`` takes (..., k) features; ``CNN1d``/``ResNet1d`` take spectra (..., L) (or
(..., C, L) with ``in_channels=C``); ``CNN2d`` maps (..., H, W) (``D4Invariant`` makes any of them invariant to 90-degree rotations and flips, or to rotations only); ``CNN3d`` cubes (..., D, H, W);
``PowerSpectrum`` maps or cubes, reduced to their binned log P(k) (the classical summary).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .fourier import PowerSpectrum
from .unet import UNet

__all__ = ["MLP", "CNN1d", "ResNet1d", "CNN2d", "D4Invariant", "CNN3d", "PowerSpectrum", "Concat", "Branches", "ENCODERS", "build_encoder"]

_ACT = {"elu": nn.ELU, "silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    """Fully connected ``k -> hidden... [-> out_features]``.

    Without ``out_features`` the output is the last hidden layer after its activation (the
    usual classifier backbone); with it, a final linear layer (the usual embedding).
    """

    def __init__(self, in_features: int, hidden=(64, 64), out_features: int | None = None, activation: str = "elu"):
        super().__init__()
        self._spec = {"kind": "mlp", "in_features": int(in_features), "hidden": [int(h) for h in hidden],
                      "out_features": out_features, "activation": activation}
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), _ACT[activation]()]
            width = h
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def spec(self) -> dict:
        return dict(self._spec)


def _as_channels(x: Tensor, in_channels: int, spatial: int) -> tuple[Tensor, tuple]:
    """(..., [C,] *S) -> (B, C, *S) and the batch shape."""
    if in_channels == 1:
        batch = x.shape[:-spatial]
        return x.reshape(-1, 1, *x.shape[-spatial:]), batch
    batch = x.shape[:-(spatial + 1)]
    return x.reshape(-1, in_channels, *x.shape[-spatial:]), batch


class CNN1d(nn.Module):
    """1-D convolutional encoder for spectra.

    Conv blocks (kernel ``kernel``, max-pool 2) extract line shapes at several scales; an
    adaptive average pool to ``pooled`` positions makes any length work; a small head gives
    ``out_features`` numbers.
    """

    def __init__(self, in_features: int, out_features: int = 32, channels=(8, 16, 32), kernel: int = 5,
                 pooled: int = 16, in_channels: int = 1):
        super().__init__()
        self._spec = {"kind": "cnn1d", "in_features": int(in_features), "out_features": int(out_features),
                      "channels": [int(c) for c in channels], "kernel": kernel, "pooled": pooled,
                      "in_channels": in_channels}
        blocks, cin = [], in_channels
        for c in channels:
            blocks += [nn.Conv1d(cin, c, kernel_size=kernel, padding=kernel // 2), nn.ELU(), nn.MaxPool1d(2)]
            cin = c
        self.conv = nn.Sequential(*blocks, nn.AdaptiveAvgPool1d(pooled))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * pooled, 64), nn.ELU(), nn.Linear(64, out_features))
        self.in_channels, self.out_features = in_channels, out_features

    def forward(self, x: Tensor) -> Tensor:
        z, batch = _as_channels(x, self.in_channels, 1)
        return self.head(self.conv(z)).reshape(*batch, -1)

    def spec(self) -> dict:
        return dict(self._spec)


class _ResBlock1d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.skip = (nn.Sequential(nn.Conv1d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm1d(cout))
                     if (cin != cout or stride != 1) else nn.Identity())
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(y)) + self.skip(x))


class ResNet1d(nn.Module):
    """1-D residual network for survey spectra (GaSNet-style classifier backbone).

    A strided stem, then one residual block (two convolutions + skip) per entry of
    ``channels``, each halving the length; global average + max pooling give
    ``2 * channels[-1]`` features, projected to ``out_features``.

    References: He et al. 2016 (arXiv:1512.03385); for spectra, Zhong et al. 2024 GaSNet-II
    (arXiv:2311.04146).
    """

    def __init__(self, in_features: int, out_features: int = 64, channels=(16, 32, 64, 64), kernel: int = 7,
                 stem_stride: int = 2, in_channels: int = 1):
        super().__init__()
        self._spec = {"kind": "resnet1d", "in_features": int(in_features), "out_features": int(out_features),
                      "channels": [int(c) for c in channels], "kernel": kernel, "stem_stride": stem_stride,
                      "in_channels": in_channels}
        c0 = channels[0]
        self.stem = nn.Sequential(nn.Conv1d(in_channels, c0, kernel, stride=stem_stride, padding=kernel // 2,
                                            bias=False), nn.BatchNorm1d(c0), nn.SiLU())
        blocks, cin = [], c0
        for c in channels:
            blocks.append(_ResBlock1d(cin, c, kernel if cin == c0 else max(3, kernel - 2), 2))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(2 * cin, out_features), nn.SiLU())
        self.in_channels, self.out_features = in_channels, out_features

    def forward(self, x: Tensor) -> Tensor:
        z, batch = _as_channels(x, self.in_channels, 1)
        h = self.blocks(self.stem(z))
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=1)
        return self.head(pooled).reshape(*batch, -1)

    def spec(self) -> dict:
        return dict(self._spec)


class CNN2d(nn.Module):
    """2-D convolutional encoder for maps (..., H, W): conv-conv-pool blocks, global pooling, head.

    Periodic padding (``circular=True``) suits simulated periodic fields.
    """

    def __init__(self, in_features: int, out_features: int = 32, channels=(16, 32, 64), in_channels: int = 1,
                 circular: bool = False, stem: bool = False, convs: int = 2):
        super().__init__()
        self._spec = {"kind": "cnn2d", "in_features": int(in_features), "out_features": int(out_features),
                      "channels": [int(c) for c in channels], "in_channels": in_channels, "circular": circular,
                      "stem": bool(stem), "convs": int(convs)}
        pad = "circular" if circular else "zeros"
        blocks, cin = [], in_channels
        if stem:        # a 5x5 stride-2 convolution first: 4x fewer pixels for every later layer
            blocks += [nn.Conv2d(cin, channels[0], 5, stride=2, padding=2, padding_mode=pad), nn.GELU()]
            cin = channels[0]
        for c in channels:
            for k in range(convs):
                blocks += [nn.Conv2d(cin if k == 0 else c, c, 3, padding=1, padding_mode=pad), nn.GELU()]
            blocks.append(nn.AvgPool2d(2))
            cin = c
        self.conv = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(2 * cin, 64), nn.GELU(), nn.Linear(64, out_features))
        self.in_channels, self.out_features = in_channels, out_features

    def forward(self, x: Tensor) -> Tensor:
        z, batch = _as_channels(x, self.in_channels, 2)
        h = self.conv(z)
        pooled = torch.cat([h.mean((-2, -1)), h.amax((-2, -1))], dim=1)
        return self.head(pooled).reshape(*batch, -1)

    def spec(self) -> dict:
        return dict(self._spec)


class D4Invariant(nn.Module):
    """Features of ``inner`` averaged over the views of the input's last two axes that ``group``
    names: exactly invariant to them (orbit pooling, Laptev et al. 2016, arXiv:1604.06318).

    ``group``: ``"d4"`` the 8 rotations by 90 deg and reflections (8x the cost of ``inner``),
    ``"c4"`` the 4 rotations (4x), ``"c2"`` 0 and 180 deg (2x). With a linear head after it,
    this is the average of the logits over the views: test-time augmentation over the group,
    which can wrap a network trained without it. Written here because escnn's equivariant
    layers cannot be installed on this machine (py3nj needs a Fortran compiler; lie_learn's
    wheel is for numpy 1)."""

    #: group -> (reflections, quarter turns) whose combinations are the views
    GROUPS = {"d4": ((False, True), (0, 1, 2, 3)), "c4": ((False,), (0, 1, 2, 3)), "c2": ((False,), (0, 2))}

    def __init__(self, inner: dict, group: str = "d4"):
        super().__init__()
        if group not in self.GROUPS:
            raise ValueError(f"group: expected one of {sorted(self.GROUPS)}, got {group!r}")
        self.inner = build_encoder(inner)
        self.out_features = self.inner.out_features
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        flips, turns = self.GROUPS[self.group]
        views = [torch.rot90(x.flip(-1) if flip else x, k, (-2, -1)) for flip in flips for k in turns]
        feats = self.inner(torch.stack(views))
        return feats.mean(0)

    def spec(self) -> dict:
        return {"kind": "d4", "inner": self.inner.spec(), **({} if self.group == "d4" else {"group": self.group})}


class CNN3d(nn.Module):
    """3-D convolutional encoder for cubes (..., D, H, W) (tomography, IFU cubes)."""

    def __init__(self, in_features: int, out_features: int = 32, channels=(8, 16, 32), in_channels: int = 1,
                 circular: bool = False):
        super().__init__()
        self._spec = {"kind": "cnn3d", "in_features": int(in_features), "out_features": int(out_features),
                      "channels": [int(c) for c in channels], "in_channels": in_channels, "circular": circular}
        pad = "circular" if circular else "zeros"
        blocks, cin = [], in_channels
        for c in channels:
            blocks += [nn.Conv3d(cin, c, 3, padding=1, padding_mode=pad), nn.GELU(), nn.AvgPool3d(2)]
            cin = c
        self.conv = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(2 * cin, 64), nn.GELU(), nn.Linear(64, out_features))
        self.in_channels, self.out_features = in_channels, out_features

    def forward(self, x: Tensor) -> Tensor:
        z, batch = _as_channels(x, self.in_channels, 3)
        h = self.conv(z)
        pooled = torch.cat([h.mean((-3, -2, -1)), h.amax((-3, -2, -1))], dim=1)
        return self.head(pooled).reshape(*batch, -1)

    def spec(self) -> dict:
        return dict(self._spec)


class Concat(nn.Module):
    """Several encoders side by side on the same input; their features concatenated.

    ``Concat([CNN2d(...), PowerSpectrum(...)])`` is the hybrid field embedding: the binned P(k)
    hands the flow the two-point information at once, so the CNN only has to learn what P(k)
    misses (measured on 21-cm cubes: see the case guide's fields section, docs/guide.md).
    """

    def __init__(self, parts):
        super().__init__()
        self.parts = nn.ModuleList([build_encoder(p) if isinstance(p, dict) else p for p in parts])
        self.out_features = sum(int(p.out_features) for p in self.parts)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([p(x) for p in self.parts], dim=-1)

    @torch.no_grad()
    def set_standardization(self, x: Tensor) -> None:
        """Pass the training inputs to the parts that fix statistics from them (PowerSpectrum)."""
        for part in self.parts:
            if hasattr(part, "set_standardization"):
                part.set_standardization(x)

    def spec(self) -> dict:
        return {"kind": "concat", "parts": [p.spec() for p in self.parts]}


class Branches(nn.Module):
    """Different encoders on different parts of one flat input, merged by a small MLP.

    ``parts`` is a list of ``{"start": i, "stop": j, "shape": [C, L] or [L] or [k], "encoder": spec}``:
    columns ``i:j`` of the input are reshaped to ``shape`` and encoded; the encodings are
    concatenated and passed through ``hidden`` fully connected layers. This is the two-view
    network of transit vetting (global + local folded views, Shallue & Vanderburg 2018,
    arXiv:1712.05044) and of light curves (scalar features + folded curve), on the engine's
    flat-feature classifier.
    """

    def __init__(self, parts, hidden=(128,), activation: str = "silu"):
        super().__init__()
        self.encoders = nn.ModuleList([build_encoder(p["encoder"]) if isinstance(p["encoder"], dict) else p["encoder"]
                                       for p in parts])
        self.parts = [{"start": int(p["start"]), "stop": int(p["stop"]), "shape": [int(s) for s in p["shape"]],
                       "encoder": enc.spec()} for p, enc in zip(parts, self.encoders)]
        for p in self.parts:
            if math.prod(p["shape"]) != p["stop"] - p["start"]:
                raise ValueError(f"branch {p['start']}:{p['stop']} cannot be reshaped to {p['shape']}")
        self.merge = MLP(sum(int(e.out_features) for e in self.encoders), hidden=hidden, activation=activation)
        self.hidden, self.activation = [int(h) for h in hidden], activation
        self.out_features = self.merge.out_features

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[:-1]
        feats = [enc(x[..., p["start"]:p["stop"]].reshape(-1, *p["shape"])) for p, enc in zip(self.parts, self.encoders)]
        return self.merge(torch.cat(feats, dim=-1)).reshape(*batch, -1)

    def spec(self) -> dict:
        return {"kind": "branches", "parts": self.parts, "hidden": self.hidden, "activation": self.activation}


ENCODERS = {"branches": Branches, "concat": Concat, "mlp": MLP, "cnn1d": CNN1d, "resnet1d": ResNet1d, "cnn2d": CNN2d,
            "d4": D4Invariant, "cnn3d": CNN3d,
            "powerspectrum": PowerSpectrum, "unet": UNet}


def build_encoder(spec: dict) -> nn.Module:
    """Rebuild an encoder from its :meth:`spec` dict (``{"kind": ..., **kwargs}``)."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder kind {kind!r}; choose from {sorted(ENCODERS)}")
    return ENCODERS[kind](**spec)
