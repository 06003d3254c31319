"""Dense prediction: per-pixel (per-voxel) probabilities or fractions from any image/cube network.

:class:`Segmenter` trains a network returning logits of the input's spatial shape (e.g.
:class:`sim2sky.nn.UNet`) against targets in [0, 1]: binary masks (source finding), soft
targets such as each object's share of a pixel's flux (deblending) or centre heat maps
(detection). The loss is a pixel-weighted binary cross-entropy, plus a soft Dice term for rare
positives (Milletari et al. 2016, arXiv:1606.04797), so a few source voxels in a large empty cube
still drive the training. Saved as a model folder of kind ``segmenter`` (safetensors + JSON).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.config import from_dict, to_dict
from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.modelio import read_model_folder, save_model_folder
from ..nn.encoders import build_encoder
from .loop import LoopConfig, fit_epochs

__all__ = ["SegmenterConfig", "Segmenter"]


@dataclass(frozen=True)
class SegmenterConfig(LoopConfig):
    """Training settings of :class:`Segmenter`: the shared loop's, plus the loss weights.

    ``positive_weight`` multiplies the cross-entropy of positive pixels (target > 0.5);
    ``dice`` weighs the soft Dice loss (0 for soft-target regression such as flux fractions).
    """

    epochs: int = 20
    batch_size: int = 16
    learning_rate: float = 3e-3
    positive_weight: float = 1.0
    dice: float = 0.0


class Segmenter(Estimator):
    """Per-pixel probabilities from a dense network (scikit-learn conventions).

    Parameters
    ----------
    network : nn.Module
        Maps (B, C, *S) to logits (B, 1, *S), e.g. ``UNet(dim=3, in_channels=1)``.
    config : SegmenterConfig

    Attributes
    ----------
    network_ : the trained network (eval mode)
    history_ : dict with the per-epoch ``loss`` and ``wall_time_s``
    """

    def __init__(self, network, config: SegmenterConfig = SegmenterConfig()):
        self.network, self.config = network, config

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        spatial = int(self.network.dim)
        if x.ndim == spatial + 1:
            x = x[:, None]
        if x.ndim != spatial + 2 or x.shape[1] != self.network.in_channels:
            raise InputError(f"x: expected (n, {self.network.in_channels}, {spatial} spatial axes), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise InputError("x contains NaN or inf; replace masked pixels (e.g. by 0 after normalising) first")
        return x

    def fit(self, x, target, weight=None, progress: bool = False) -> "Segmenter":
        """Train on inputs ``x`` (n, C, *S) [or (n, *S)], ``target`` (n, *S) in [0, 1] and optional
        pixel weights ``weight`` (n, *S) >= 0."""
        x = self._check_x(x)
        target = np.asarray(target, np.float32)
        if target.shape != (x.shape[0], *x.shape[2:]):
            raise InputError(f"target: expected shape {(x.shape[0], *x.shape[2:])}, got {target.shape}")
        if target.min() < 0 or target.max() > 1:
            raise InputError("target values must lie in [0, 1]")
        if weight is not None:
            weight = torch.as_tensor(np.asarray(weight, np.float32))
        cfg, net = self.config, self.network
        torch.manual_seed(cfg.seed)
        xt, yt = torch.as_tensor(x), torch.as_tensor(target)[:, None]
        wt = weight[:, None] if weight is not None else None

        def step(idx, _frac):
            logits = net(xt[idx])
            y = yt[idx]
            w = 1.0 + (cfg.positive_weight - 1.0) * (y > 0.5).float()
            if wt is not None:
                w = w * wt[idx]
            loss = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).mean()
            if cfg.dice > 0:
                p = torch.sigmoid(logits)
                inter = (p * y).flatten(1).sum(1)
                dice = 1 - (2 * inter + 1) / (p.flatten(1).sum(1) + y.flatten(1).sum(1) + 1)
                loss = loss + cfg.dice * dice.mean()
            return loss

        t0 = time.perf_counter()
        net.train()
        history = fit_epochs(step, len(x), net.parameters(), cfg, progress, "training segmenter")
        history["wall_time_s"] = time.perf_counter() - t0
        self.network_, self.history_ = net.eval(), history
        return self

    def predict_proba(self, x, batch: int = 8) -> np.ndarray:
        """Probabilities (n, *S) float32 for inputs ``x`` (n, C, *S) [or (n, *S)]."""
        x = self._check_x(x)
        out = np.empty((x.shape[0], *x.shape[2:]), np.float32)
        with torch.no_grad():
            for i in range(0, len(x), batch):
                out[i:i + batch] = torch.sigmoid(self.network_(torch.as_tensor(x[i:i + batch])))[:, 0].numpy()
        return out

    def save(self, out, provenance=None, meta=None):
        config = {"network": self.network_.spec(), "config": to_dict(self.config),
                  "history": dict(self.history_), "meta": meta or {}, "provenance": dict(provenance or {})}
        return save_model_folder(out, "segmenter", self.network_.state_dict(), config)

    @classmethod
    def load(cls, path) -> "Segmenter":
        config, state = read_model_folder(path, "segmenter")
        try:
            net = build_encoder(config["network"])
            net.load_state_dict(state)
            obj = cls(net, from_dict(SegmenterConfig, config["config"], "config"))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: not a valid segmenter model folder ({exc})") from None
        obj.network_, obj.history_, obj.meta_ = net.eval(), config.get("history", {}), config.get("meta", {})
        return obj
