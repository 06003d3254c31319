"""Self-supervised pretraining of a classifier's backbone: SimCLR on unlabelled inputs.

Two random augmentations of each input are embedded by the backbone and a projection MLP; the
normalised-temperature cross-entropy (NT-Xent) pulls the two views of an object together and
pushes the other objects of the batch away (Chen et al. 2020, arXiv:2002.05709). The pretrained
backbone is then fine-tuned on the few labels there are (``CalibratedClassifier.fit`` trains a
copy of the network it is given). For radio galaxies, Slijepcevic et al. 2024 (arXiv:2204.08816)
pretrain on unlabelled Radio Galaxy Zoo images the same way (with BYOL).

Ours: ``lightly`` 1.6 has the same loss but would add 14 packages (torchvision, pytorch-lightning,
hydra...) for 15 lines.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from ..core.threads import limit_threads
from .classifier import ClassifierNet, set_standardization
from .loop import LoopConfig, fit_epochs

__all__ = ["ContrastiveConfig", "nt_xent", "pretrain_contrastive"]


@dataclass(frozen=True)
class ContrastiveConfig(LoopConfig):
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    projection: int = 64
    seed: int = 0
    num_threads: int = 2


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent loss of two batches of projections (b, d): view k of one is the positive of view k
    of the other; the other 2b - 2 projections are negatives."""
    z = nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(-torch.inf)
    b = len(z1)
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return nn.functional.cross_entropy(sim, target)


def pretrain_contrastive(network: ClassifierNet, x, augment, config: ContrastiveConfig = ContrastiveConfig(),
                         progress: bool = False) -> ClassifierNet:
    """A copy of ``network`` whose backbone is pretrained with SimCLR on unlabelled ``x`` (n, ...).

    ``augment(batch) -> batch`` draws one random view of each input (tensors). The input
    standardisation is set from ``x``; the classification head is left untrained.
    """
    x = np.asarray(x, np.float32)
    if len(x) < 2 * 16 or not np.isfinite(x).all():
        raise InputError(f"unlabelled inputs: expected at least 32 finite rows, got {len(x)}")
    torch.manual_seed(config.seed)
    with limit_threads(config.num_threads, blas=1):
        net = copy.deepcopy(network)
        xt = torch.as_tensor(x)
        set_standardization(net, xt)
        width = net.backbone.out_features
        proj = nn.Sequential(nn.Linear(width, 128), nn.GELU(), nn.Linear(128, config.projection))
        net.train()

        def step(idx, frac):
            xb = xt[idx]
            return nt_xent(proj(net.embed(augment(xb))), proj(net.embed(augment(xb))), config.temperature)

        net.pretrain_history_ = fit_epochs(step, len(x), list(net.backbone.parameters()) + list(proj.parameters()),
                                           config.loop(), progress, "contrastive pretraining", drop_last=True)
        net.eval()
    return net
