"""The one training loop of the ``learn`` estimators (classifier, DANN, autoencoders...).

AdamW with a one-cycle learning-rate schedule over a fixed number of epochs, shuffled
mini-batches from a seeded generator, an optional progress bar. The caller supplies
``step(idx, progress) -> loss`` (a scalar tensor, or ``(loss, {name: value})``) for a batch of
row indices; the loop does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.progress import progress as progress_bar

__all__ = ["LoopConfig", "fit_epochs"]


@dataclass(frozen=True)
class LoopConfig:
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def fit_epochs(step, n: int, params, config: LoopConfig, progress: bool = False, label: str = "training") -> dict:
    """Run ``config.epochs`` epochs of ``step`` over ``n`` rows; return per-epoch mean losses.

    ``step(idx, frac)`` gets a ``LongTensor`` of row indices and the training progress
    ``frac`` in [0, 1] (for schedules such as DANN's gradient-reversal weight).
    """
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = int(np.ceil(n / config.batch_size))
    total = max(config.epochs * steps_per_epoch, 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.learning_rate, total_steps=total)
    rng = np.random.default_rng(config.seed)
    history: dict[str, list] = {"loss": []}
    k = 0
    with progress_bar(config.epochs, label, progress) as bar:
        for _ in range(config.epochs):
            perm = torch.as_tensor(rng.permutation(n))
            sums: dict[str, float] = {}
            for i in range(0, n, config.batch_size):
                idx = perm[i:i + config.batch_size]
                out = step(idx, k / max(total - 1, 1))
                loss, extra = out if isinstance(out, tuple) else (out, {})
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                k += 1
                for name, value in {"loss": loss.item(), **extra}.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(idx)
            for name, value in sums.items():
                history.setdefault(name, []).append(value / n)
            bar.advance()
    return history
