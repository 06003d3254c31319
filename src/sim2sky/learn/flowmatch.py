"""Flow-matching emulators of fields: a conditional U-Net velocity field, sampled by an ODE.

``p(field | theta)`` is the end point of the straight path ``x_t = (1 - t) z + t x`` from white
noise z to a simulated field x; a network ``v(x_t, t, theta)`` (:class:`sim2sky.nn.ConditionalUNet`)
learns the velocity ``x - z`` by least squares (conditional flow matching / rectified flow), and a
field is drawn by integrating ``dx/dt = v`` from noise at t = 0 to t = 1 (Heun's method). This is
the generative family of the diffusion emulators of 21-cm and HI maps (LODI, arXiv:2506.08086),
trained with a simpler loss and sampled in tens of network evaluations.

References
----------
Lipman et al. 2023, arXiv:2210.02747 (flow matching); Liu et al. 2023, arXiv:2209.03003 (rectified
flow); Karras et al. 2022, arXiv:2206.00364 (Heun sampler, weight averaging).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from ..core.config import from_dict, to_dict
from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.modelio import read_model_folder, save_model_folder
from ..core.runtime import check_device
from ..core.threads import limit_threads
from ..nn.device import torch_device
from ..nn.velocity import ConditionalUNet
from .emulate import check_fields, log_floor
from .loop import LoopConfig, fit_epochs

__all__ = ["FlowMatchingConfig", "FlowMatchingEmulator"]


@dataclass(frozen=True)
class FlowMatchingConfig(LoopConfig):
    """Training and sampling settings of :class:`FlowMatchingEmulator`.

    Attributes
    ----------
    transform : {"auto", "log", "none"}
        As :class:`~sim2sky.learn.EmulatorConfig`: ``log(x - floor)`` for right-skewed fields.
    epochs, batch_size, learning_rate : training length, fields per step, peak AdamW rate
        (one-cycle schedule).
    ema : float
        Decay of the exponential moving average of the weights that is validated, kept and
        sampled from (diffusion models sample far better from averaged weights); during the first
        steps the decay is ``(1 + step) / (10 + step)`` when that is smaller, so short runs are not
        held at their random initialisation.
    steps : int
        Heun steps of the sampling ODE (2 network evaluations each).
    validation_fraction : float
    seed : int
    num_threads : int or None
        Torch threads while training and sampling (None: leave torch's setting).
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"`` (a GPU when torch sees one). The weights
        are saved and loaded on the CPU whatever trained them.
    """

    transform: str = "auto"
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    ema: float = 0.999
    steps: int = 24
    validation_fraction: float = 0.05
    seed: int = 0
    num_threads: int | None = None
    device: str = "cpu"

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2 or self.steps < 1 or not 0.0 <= self.ema < 1.0:
            raise InputError("flow matching needs epochs >= 1, batch_size >= 2, steps >= 1 and 0 <= ema < 1")
        check_device(self.device, "device")

    def torch_device(self) -> torch.device:
        return torch_device(self.device)


class FlowMatchingEmulator(Estimator):
    """Learn ``p(field | theta)`` by conditional flow matching; sample by integrating the learned ODE.

    Parameters
    ----------
    network : ConditionalUNet
        Velocity network, e.g. ``ConditionalUNet(dim=2, theta_dim=2)``.
    config : FlowMatchingConfig
    theta_names : list of str, optional

    Attributes
    ----------
    network_ : the trained network (averaged weights, eval mode)
    shape_ : tuple, grid of one field
    history_ : dict with per-epoch ``train_loss``, ``val_loss`` (velocity MSE per pixel in
        standardised units), ``best_epoch``, ``wall_time_s``

    Unlike :class:`~sim2sky.learn.FieldEmulator` it has no exact likelihood.
    """

    def __init__(self, network: ConditionalUNet, config: FlowMatchingConfig = FlowMatchingConfig(), theta_names=None):
        self.network, self.config = network, config
        self.theta_names = theta_names

    def _check(self, theta, fields=None):
        shape = fields.shape[1:] if fields is not None and not hasattr(self, "shape_") else self.shape_
        return check_fields(shape, self.network.theta_dim, theta, fields)

    # standardised model space <-> field units
    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        if self.floor_ is not None:
            x = (x - self.floor_).clamp_min(1e-30).log()
        return (x - self.x_loc_) / self.x_scale_

    def _from_model(self, y: torch.Tensor) -> torch.Tensor:
        y = y * self.x_scale_ + self.x_loc_
        return y if self.floor_ is None else y.exp() + self.floor_

    def _theta(self, theta: np.ndarray) -> torch.Tensor:
        return (torch.as_tensor(theta) - torch.as_tensor(self.theta_loc_)) / torch.as_tensor(self.theta_scale_)

    def fit(self, theta, fields, progress: bool = False) -> "FlowMatchingEmulator":
        """Train on ``theta`` (n, d) and ``fields`` (n, *grid)."""
        theta, fields = self._check(theta, fields)
        if fields.ndim - 1 != self.network.dim:
            raise InputError(f"fields of shape {fields.shape[1:]} but the network is {self.network.dim}-D")
        if any(n % self.network.multiple for n in fields.shape[1:]):
            raise InputError(f"fields of shape {fields.shape[1:]}: every side must be divisible by "
                             f"{self.network.multiple} for a U-Net of {len(self.network.channels)} levels; use fewer levels")
        if len(theta) < 10:
            raise InputError("need at least 10 simulations to train an emulator")
        with limit_threads(self.config.num_threads, blas=1):
            return self._fit(theta, fields, progress)

    def _fit(self, theta, fields, progress):
        cfg, net = self.config, self.network
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        perm = rng.permutation(len(theta))
        n_val = max(2, int(cfg.validation_fraction * len(theta)))
        val, train = perm[:n_val], perm[n_val:]
        self.shape_ = tuple(fields.shape[1:])
        self.floor_ = log_floor(fields[train], cfg.transform)
        self.x_loc_, self.x_scale_ = 0.0, 1.0
        sub = self._to_model(torch.as_tensor(fields[train[:2048]]))
        self.x_loc_, self.x_scale_ = float(sub.mean()), float(sub.std().clamp_min(1e-12))
        self.theta_loc_, self.theta_scale_ = theta[train].mean(0).tolist(), theta[train].std(0).clip(1e-8).tolist()
        dev = cfg.torch_device()
        net.to(dev)
        x_all, t_all = self._to_model(torch.as_tensor(fields)).to(dev), self._theta(theta).to(dev)
        g = torch.Generator().manual_seed(cfg.seed + 1)     # fixed noise and times for the validation loss
        val_z = torch.randn((n_val, *self.shape_), generator=g).to(dev)
        val_t = torch.rand(n_val, generator=g).to(dev)
        # EMA of the weights with a warm-up (short runs average less): decay = min(ema, (1 + k) / (10 + k)) at step k
        averaged = AveragedModel(net, avg_fn=lambda avg, new, k: avg.lerp(new, 1.0 - min(cfg.ema, (2.0 + float(k)) /
                                                                                      (11.0 + float(k)))))
        rows = torch.as_tensor(train, device=dev)

        def step(idx, _):
            net.train()
            x1, c = x_all[rows[idx.to(dev)]], t_all[rows[idx.to(dev)]]
            z, t = torch.randn_like(x1), torch.rand(len(idx), device=dev)
            tt = t.reshape(-1, *([1] * len(self.shape_)))
            return ((net((1 - tt) * z + tt * x1, t, c) - (x1 - z)) ** 2).mean()

        def validate():
            return self._velocity_loss(averaged.module, x_all[val], t_all[val], val_z, val_t)

        t0 = time.perf_counter()
        loop = replace(cfg.loop(), batch_size=min(cfg.batch_size, len(train)))
        history = fit_epochs(step, len(train), net.parameters(), loop, progress, "training flow-matching emulator",
                             clip_grad_norm=1.0, average=averaged, model=net, validate=validate, keep=averaged.module,
                             pct_start=0.1, drop_last=True)
        net.load_state_dict(averaged.module.state_dict())       # the best averaged weights
        history["train_loss"] = history.pop("loss")
        history["wall_time_s"] = time.perf_counter() - t0
        history["device"] = str(dev)
        self.network_, self.history_ = net.eval(), history
        return self

    @staticmethod
    @torch.no_grad()
    def _velocity_loss(net, x1, c, z, t, batch: int = 64) -> float:
        total = 0.0
        for i in range(0, len(x1), batch):
            tt = t[i:i + batch].reshape(-1, *([1] * (x1.ndim - 1)))
            xt = (1 - tt) * z[i:i + batch] + tt * x1[i:i + batch]
            total += float(((net(xt, t[i:i + batch], c[i:i + batch]) - (x1[i:i + batch] - z[i:i + batch])) ** 2).sum())
        return total / x1.numel()

    @torch.no_grad()
    def sample(self, theta, seed: int = 0, batch: int = 64, steps: int | None = None) -> np.ndarray:
        """One emulated field per row of ``theta``: float32 (n, *grid); reproducible with ``seed``.

        ``steps``: Heun steps (default ``config.steps``); cost ``2 * steps`` network evaluations.
        """
        theta = self._check(theta)
        steps = int(steps or self.config.steps)
        g = torch.Generator().manual_seed(int(seed))
        out = np.empty((len(theta), *self.shape_), np.float32)
        dev = self.config.torch_device()
        net = self.network_.to(dev)
        grid = torch.linspace(0.0, 1.0, steps + 1).tolist()
        with limit_threads(self.config.num_threads, blas=1):
            for i in range(0, len(theta), batch):
                c = self._theta(theta[i:i + batch]).to(dev)
                x = torch.randn((len(c), *self.shape_), generator=g).to(dev)      # CPU noise: same fields on any device
                for a, b in zip(grid[:-1], grid[1:]):
                    ta, tb = torch.full((len(c),), a, device=dev), torch.full((len(c),), b, device=dev)
                    va = net(x, ta, c)
                    x = x + 0.5 * (b - a) * (va + net(x + (b - a) * va, tb, c))
                out[i:i + batch] = self._from_model(x.cpu()).numpy()
        return out

    def save(self, out, provenance=None, metrics=None, meta=None):
        config = {"network": self.network_.spec(), "config": to_dict(self.config), "theta_names": None if self.theta_names is None else list(self.theta_names),
                  "shape": list(self.shape_), "floor": self.floor_, "x_loc": self.x_loc_, "x_scale": self.x_scale_,
                  "theta_loc": self.theta_loc_, "theta_scale": self.theta_scale_,
                  "history": dict(self.history_), "metrics": metrics or {}, "meta": meta or {},
                  "provenance": dict(provenance or {})}
        return save_model_folder(out, "flow-matching-emulator", self.network_.state_dict(), config)   # saved on CPU

    @classmethod
    def load(cls, path) -> "FlowMatchingEmulator":
        config, state = read_model_folder(path, "flow-matching-emulator")
        try:
            net = ConditionalUNet(**config["network"])
            net.load_state_dict(state)
            cfg = from_dict(FlowMatchingConfig, config["config"], "config")
            # trained on a GPU: sample on one where there is one, else on the CPU
            obj = cls(net, cfg if cfg.device == "cpu" else replace(cfg, device="auto"), config.get("theta_names"))
            obj.shape_, obj.floor_ = tuple(config["shape"]), config["floor"]
            obj.x_loc_, obj.x_scale_ = float(config["x_loc"]), float(config["x_scale"])
            obj.theta_loc_, obj.theta_scale_ = list(config["theta_loc"]), list(config["theta_scale"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: not a valid flow-matching emulator folder ({exc})") from None
        obj.network_, obj.history_ = net.eval(), config.get("history", {})
        obj.meta_, obj.metrics_ = config.get("meta", {}), config.get("metrics", {})
        return obj
