"""Embedding networks that compress observations into a context vector for the flow.

``MLPEmbedding`` suits tabular features (line fluxes, summary statistics); ``CNN1dEmbedding``
suits spectra (a 1D signal on a regular wavelength grid). Both take standardised inputs of
shape (..., k) and return (..., out_features).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MLPEmbedding", "CNN1dEmbedding", "build_embedding"]


class MLPEmbedding(nn.Module):
    """Fully connected embedding ``k -> hidden... -> out_features`` with ELU activations."""

    def __init__(self, in_features: int, out_features: int = 32, hidden=(64, 64)):
        super().__init__()
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ELU()]
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CNN1dEmbedding(nn.Module):
    """1D convolutional embedding for spectra of ``in_features`` channels.

    Conv blocks (kernel 5, stride-2 pooling) extract line shapes at several scales; an
    adaptive average pool fixes the length so any spectrum length works; a linear head gives
    ``out_features`` numbers.
    """

    def __init__(self, in_features: int, out_features: int = 32, channels=(8, 16, 32), pooled: int = 16):
        super().__init__()
        blocks, cin = [], 1
        for c in channels:
            blocks += [nn.Conv1d(cin, c, kernel_size=5, padding=2), nn.ELU(), nn.MaxPool1d(2)]
            cin = c
        self.conv = nn.Sequential(*blocks, nn.AdaptiveAvgPool1d(pooled))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * pooled, 64), nn.ELU(), nn.Linear(64, out_features))
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[:-1]
        y = self.head(self.conv(x.reshape(-1, 1, x.shape[-1])))
        return y.reshape(*batch, -1)


def build_embedding(kind: str, in_features: int, out_features: int) -> tuple[nn.Module, int]:
    """Return ``(module, context_size)`` for an embedding name: none, mlp or cnn1d."""
    if kind == "none":
        return nn.Identity(), in_features
    if kind == "mlp":
        return MLPEmbedding(in_features, out_features), out_features
    if kind == "cnn1d":
        return CNN1dEmbedding(in_features, out_features), out_features
    raise ValueError(f"unknown embedding {kind!r}")
