"""The one epoch loop of the ``learn`` estimators: classifier, DANN, segmenter, autoencoder,
latent density, and both field emulators.

AdamW with a one-cycle learning-rate schedule over a fixed number of epochs, shuffled
mini-batches from a seeded generator, an optional progress bar. The caller supplies
``step(idx, progress) -> loss`` (a scalar tensor, or ``(loss, {name: value})``) for a batch of
row indices; the loop does the rest: optional gradient clipping, an optional exponential moving
average of the weights (``torch.optim.swa_utils.AveragedModel``), and an optional validation at
each epoch's end whose best state is kept. (The NPE trainer, :mod:`sim2sky.infer.train`, adds
early stopping, plateau schedules and memory-mapped streaming on top of the same ingredients.)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..core.progress import progress as progress_bar

__all__ = ["LoopConfig", "fit_epochs"]


@dataclass(frozen=True)
class LoopConfig:
    """The settings every learner shares (their configs subclass it, with their own defaults):
    epochs, mini-batch size, the one-cycle peak AdamW learning rate, weight decay, seed."""

    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def loop(self) -> "LoopConfig":
        """Just the shared settings (what :func:`fit_epochs` reads)."""
        return LoopConfig(self.epochs, self.batch_size, self.learning_rate, self.weight_decay, self.seed)


def fit_epochs(step, n: int, params, config: LoopConfig, progress: bool = False, label: str = "training", *,
               clip_grad_norm: float | None = None, average=None, model=None, validate=None, keep=None,
               pct_start: float = 0.3, drop_last: bool = False) -> dict:
    """Run ``config.epochs`` epochs of ``step`` over ``n`` rows; return per-epoch mean losses.

    ``step(idx, frac)`` gets a ``LongTensor`` of row indices and the training progress
    ``frac`` in [0, 1] (for schedules such as DANN's gradient-reversal weight).
    ``clip_grad_norm`` clips the gradients' global norm. ``average``
    (``torch.optim.swa_utils.AveragedModel``) is updated from ``model`` after every step. ``validate()`` is
    called at each epoch's end and returns a loss (``history["val_loss"]``); the state of
    ``keep`` (an ``nn.Module``, e.g. ``average.module``) at the lowest one is restored at the end
    (``history["best_epoch"]``, ``history["best_val_loss"]``). ``drop_last`` skips a final
    incomplete batch.
    """
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = n // config.batch_size if drop_last else int(np.ceil(n / config.batch_size))
    total = max(config.epochs * steps_per_epoch, 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.learning_rate, total_steps=total,
                                                pct_start=pct_start)
    rng = np.random.default_rng(config.seed)
    history: dict = {"loss": []}
    best, best_state, k = np.inf, None, 0
    with progress_bar(config.epochs, label, progress) as bar:
        for epoch in range(config.epochs):
            perm = torch.as_tensor(rng.permutation(n))
            sums: dict[str, float] = {}
            for i in range(0, steps_per_epoch * config.batch_size, config.batch_size):
                idx = perm[i:i + config.batch_size]
                out = step(idx, k / max(total - 1, 1))
                loss, extra = out if isinstance(out, tuple) else (out, {})
                opt.zero_grad()
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                opt.step()
                sched.step()
                if average is not None:
                    average.update_parameters(model)
                k += 1
                for name, value in {"loss": loss.item(), **extra}.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(idx)
            seen = min(steps_per_epoch * config.batch_size, n) if drop_last else n
            for name, value in sums.items():
                history.setdefault(name, []).append(value / max(seen, 1))
            if validate is not None:
                val = float(validate())
                history.setdefault("val_loss", []).append(val)
                if val < best:
                    best, history["best_epoch"] = val, epoch
                    best_state = copy.deepcopy(keep.state_dict()) if keep is not None else None
            bar.advance()
    if best_state is not None:
        keep.load_state_dict(best_state)
    if validate is not None:
        history["best_val_loss"] = float(best)
    return history
