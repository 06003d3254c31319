"""Conditional emulators of fields: ``p(field | theta)`` learned from simulations, sampled in milliseconds.

:class:`FieldEmulator` trains any network with ``log_prob(x, theta)`` and ``sample(theta)``
(by default :class:`sim2sky.nn.FieldFlow`, an exact-likelihood Fourier flow) by maximum
likelihood, keeps the weights with the best held-out likelihood, and saves/loads as a model
folder (kind ``emulator``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.config import from_dict, to_dict
from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.modelio import read_model_folder, save_model_folder
from ..nn.fieldflow import FieldFlow
from .loop import LoopConfig, fit_epochs

__all__ = ["EmulatorConfig", "FieldEmulator", "check_fields", "log_floor"]


def check_fields(shape: tuple, theta_dim: int, theta, fields=None):
    """Validate emulator inputs: theta (n, d) finite, fields (n, *shape) finite and paired with theta.

    Returns theta as float32 (n, d), or ``(theta, fields)`` when fields are given.
    """
    theta = np.atleast_2d(np.asarray(theta, np.float32))
    if theta.shape[1] != theta_dim:
        raise InputError(f"theta: expected {theta_dim} parameters per row, got shape {theta.shape}")
    if not np.isfinite(theta).all():
        raise InputError("theta contains NaN or inf")
    if fields is None:
        return theta
    fields = np.asarray(fields, np.float32)
    if fields.shape[1:] != tuple(shape):
        raise InputError(f"fields: expected shape (n, {', '.join(map(str, shape))}), got {fields.shape}")
    if len(fields) != len(theta):
        raise InputError(f"fields ({len(fields)}) and theta ({len(theta)}) have different lengths")
    bad = ~np.isfinite(fields.reshape(len(fields), -1)).all(1)
    if bad.any():
        raise InputError(f"fields: {int(bad.sum())} fields contain NaN or inf (first: index "
                         f"{int(np.flatnonzero(bad)[0])}); drop or repair them")
    return theta, fields


def log_floor(fields: np.ndarray, transform: str = "auto") -> float | None:
    """The floor of the ``log(x - floor)`` transform of fields (None: model x itself).

    ``"log"`` always takes it (floor just below the minimum), ``"none"`` never, ``"auto"`` for
    right-skewed fields (pixel skewness > 1) bounded below, as densities and brightness
    temperatures are.
    """
    if transform not in ("auto", "log", "none"):
        raise InputError(f"transform must be auto, log or none, got {transform!r}")
    if transform == "none":
        return None
    f = fields[:2048].astype(np.float64).ravel()
    skew = float(((f - f.mean()) ** 3).mean() / max(f.std(), 1e-30) ** 3)
    if transform == "auto" and skew <= 1.0:
        return None
    return float(fields.min() - 0.01 * f.std())


@dataclass(frozen=True)
class EmulatorConfig(LoopConfig):
    """Training settings of :class:`FieldEmulator`.

    ``transform``: ``"log"`` models ``log(x - floor)`` (floor just below the training minimum),
    ``"none"`` models x, ``"auto"`` (default) takes log for fields bounded below with a long right
    tail (pixel skewness > 1), as densities and brightness temperatures are.
    """

    transform: str = "auto"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    validation_fraction: float = 0.1
    seed: int = 0


class FieldEmulator(Estimator):
    """Learn ``p(field | theta)`` from simulated (theta, field) pairs.

    Parameters
    ----------
    network : FieldFlow
        E.g. ``FieldFlow((64, 64), theta_dim=2)``; its grid must match the fields.
    config : EmulatorConfig
    theta_names : list of str, optional

    Attributes
    ----------
    network_ : the trained network (eval mode)
    shape_ : tuple, grid of one field
    history_ : dict with per-epoch ``train_loss`` / ``val_loss`` in nats per pixel, ``best_epoch``,
        ``wall_time_s``
    """

    def __init__(self, network: FieldFlow, config: EmulatorConfig = EmulatorConfig(), theta_names=None):
        self.network, self.config = network, config
        self.theta_names = theta_names

    def _check(self, theta, fields=None):
        return check_fields(self.network.shape, self.network.theta_dim, theta, fields)

    def fit(self, theta, fields, progress: bool = False) -> "FieldEmulator":
        """Train on ``theta`` (n, d) and ``fields`` (n, *grid)."""
        theta, fields = self._check(theta, fields)
        cfg, net = self.config, self.network
        if len(theta) < 10:
            raise InputError("need at least 10 simulations to train an emulator")
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        perm = rng.permutation(len(theta))
        n_val = max(1, int(cfg.validation_fraction * len(theta)))
        val, train = perm[:n_val], perm[n_val:]
        t_all, x_all = torch.as_tensor(theta), torch.as_tensor(fields)
        net.floor = log_floor(fields[train], cfg.transform)
        sub = x_all[train[:2048]]
        if net.floor is not None:
            sub = (sub - net.floor).clamp_min(1e-30).log()
        with torch.no_grad():
            net.x_loc.fill_(float(sub.mean()))
            net.x_scale.fill_(float(sub.std().clamp_min(1e-12)))
            net.theta_loc.copy_(t_all[train].mean(0))
            net.theta_scale.copy_(t_all[train].std(0).clamp_min(1e-8))
            z = ((sub - net.x_loc) / net.x_scale).abs().flatten()
            net.bound = float(max(5.0, 1.2 * torch.quantile(z[:1_000_000], 0.99999)))
        npix = float(np.prod(net.shape))
        rows = torch.as_tensor(train)

        def step(idx, _):
            net.train()
            return -net.log_prob(x_all[rows[idx]], t_all[rows[idx]]).mean() / npix

        def validate():
            return self._mean_nll(x_all[val], t_all[val]) / npix

        t0 = time.perf_counter()
        loop = cfg.loop()
        history = fit_epochs(step, len(train), net.parameters(), loop, progress, "training emulator",
                             clip_grad_norm=5.0, validate=validate, keep=net)
        history["train_loss"] = history.pop("loss")
        history["wall_time_s"] = time.perf_counter() - t0
        self.network_, self.history_, self.shape_ = net.eval(), history, tuple(net.shape)
        return self

    @torch.no_grad()
    def _mean_nll(self, x, theta, batch: int = 256) -> float:
        self.network.eval()
        parts = [-self.network.log_prob(x[i:i + batch], theta[i:i + batch]) for i in range(0, len(x), batch)]
        return float(torch.cat(parts).mean())

    def log_prob(self, fields, theta) -> np.ndarray:
        """Exact log-density [nats] of each field given its parameters: (n,)."""
        theta, fields = self._check(theta, fields)
        with torch.no_grad():
            return np.concatenate([self.network_.log_prob(torch.as_tensor(fields[i:i + 256]),
                                                          torch.as_tensor(theta[i:i + 256])).numpy()
                                   for i in range(0, len(theta), 256)])

    def sample(self, theta, seed: int = 0, batch: int = 256) -> np.ndarray:
        """One emulated field per row of ``theta``: float32 (n, *grid); reproducible with ``seed``."""
        theta = self._check(theta)
        g = torch.Generator().manual_seed(int(seed))
        out = np.empty((len(theta), *self.network_.shape), np.float32)
        for i in range(0, len(theta), batch):
            out[i:i + batch] = self.network_.sample(torch.as_tensor(theta[i:i + batch]), generator=g).numpy()
        return out

    def save(self, out, provenance=None, metrics=None, meta=None):
        config = {"network": self.network_.spec(), "config": to_dict(self.config), "theta_names": None if self.theta_names is None else list(self.theta_names),
                  "history": {k: v for k, v in self.history_.items()}, "metrics": metrics or {},
                  "meta": meta or {}, "provenance": dict(provenance or {})}
        return save_model_folder(out, "emulator", self.network_.state_dict(), config)

    @classmethod
    def load(cls, path) -> "FieldEmulator":
        config, state = read_model_folder(path, "emulator")
        try:
            net = FieldFlow(**config["network"])
            net.load_state_dict(state)
            obj = cls(net, from_dict(EmulatorConfig, config["config"], "config"), config.get("theta_names"))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: not a valid emulator model folder ({exc})") from None
        obj.network_, obj.history_, obj.shape_ = net.eval(), config.get("history", {}), tuple(net.shape)
        obj.meta_, obj.metrics_ = config.get("meta", {}), config.get("metrics", {})
        return obj
