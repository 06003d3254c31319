"""Small layers shared by the learners: gradient reversal (domain-adversarial training)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["GradientReversal", "DomainDiscriminator", "reversal_weight"]


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``-lam`` backward (Ganin et al. 2016, arXiv:1505.07818)."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


class DomainDiscriminator(nn.Module):
    """Features (n, h) -> logit of "target domain", behind a gradient-reversal layer."""

    def __init__(self, in_features: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, features, lam: float):
        return self.net(GradientReversal.apply(features, lam)).squeeze(-1)


def reversal_weight(weight: float, progress: float) -> float:
    """Ganin et al.'s schedule: 0 at the start of training, ``weight`` at the end."""
    return weight * (2 / (1 + np.exp(-10 * progress)) - 1)
