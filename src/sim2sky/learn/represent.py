"""Representation learning: a (variational) autoencoder for any 1-D input (feature vectors, spectra).

The network is passed in (:func:`autoencoder_network` builds the usual ones from the engine's
encoders: an MLP for feature tables, a 1-D CNN or ResNet for spectra); :class:`Representation`
is the estimator that standardises the inputs, trains it, and embeds new data.

VAE (Kingma & Welling 2013, arXiv:1312.6114) with a beta weight on the KL term (Higgins et al.
2017); ``beta=0`` gives a deterministic autoencoder (the latent mean, no sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.config import from_dict, to_dict
from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.modelio import read_model_folder, save_model_folder
from ..nn.encoders import MLP, build_encoder
from .loop import LoopConfig, fit_epochs

__all__ = ["AutoencoderNet", "autoencoder_network", "RepresentationConfig", "Representation"]


class AutoencoderNet(nn.Module):
    """``encoder: x (b, k) -> h``, heads ``h -> (mu, log_var)`` of a d-dim latent, ``decoder: z -> x``.

    Inputs are standardised inside (buffers filled by :class:`Representation`), so the module
    can be applied to raw features.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, in_features: int):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim, self.in_features = int(latent_dim), int(in_features)
        self.mu = nn.Linear(encoder.out_features, latent_dim)
        self.log_var = nn.Linear(encoder.out_features, latent_dim)
        self.register_buffer("x_mean", torch.zeros(in_features))
        self.register_buffer("x_scale", torch.ones(in_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder((x - self.x_mean) / self.x_scale)
        return self.mu(h), self.log_var(h).clamp(-12.0, 8.0)

    def forward(self, x: torch.Tensor, sample: bool = True):
        """Reconstruction in standardised units, latent mean and log-variance."""
        mu, log_var = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if sample else mu
        return self.decoder(z), mu, log_var

    def spec(self) -> dict:
        return {"encoder": self.encoder.spec(), "decoder": self.decoder.spec(),
                "latent_dim": self.latent_dim, "in_features": self.in_features}

    @classmethod
    def from_spec(cls, spec: dict) -> "AutoencoderNet":
        return cls(build_encoder(spec["encoder"]), build_encoder(spec["decoder"]), spec["latent_dim"],
                   spec["in_features"])


def autoencoder_network(in_features: int, latent_dim: int = 8, kind: str = "mlp", hidden=(128, 64),
                        seed: int = 0) -> AutoencoderNet:
    """An autoencoder whose encoder is the engine encoder ``kind`` (mlp, cnn1d, resnet1d) and
    whose decoder is the mirrored MLP."""
    torch.manual_seed(seed)
    if kind == "mlp":
        encoder = MLP(in_features, hidden=hidden)
    else:
        encoder = build_encoder({"kind": kind, "in_features": in_features, "out_features": hidden[-1]})
    decoder = MLP(latent_dim, hidden=tuple(reversed(hidden)), out_features=in_features)
    return AutoencoderNet(encoder, decoder, latent_dim, in_features)


@dataclass(frozen=True)
class RepresentationConfig(LoopConfig):
    beta: float = 1.0          # KL weight; 0 = deterministic autoencoder
    epochs: int = 60
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0



class Representation(Estimator):
    """Learn a low-dimensional representation of feature vectors or spectra (no labels).

    Parameters
    ----------
    network : AutoencoderNet
        E.g. ``autoencoder_network(k, latent_dim=8)``.
    config : RepresentationConfig
    feature_names : list of str, optional
        Column names of the inputs (kept in the model folder so that tables can be re-read).

    Attributes
    ----------
    network_ : AutoencoderNet
        The trained network.
    history_ : dict
        Per-epoch losses (``loss``, ``recon``, ``kl``).
    """

    def __init__(self, network: AutoencoderNet, config: RepresentationConfig = RepresentationConfig(),
                 feature_names=None):
        self.network = network
        self.config = config
        self.feature_names = feature_names

    def _check(self, x, name: str = "x") -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.network.in_features:
            raise InputError(f"{name}: expected shape (n, {self.network.in_features}), got {x.shape}")
        if not np.isfinite(x).all():
            bad = int((~np.isfinite(x).all(1)).sum())
            raise InputError(f"{name}: {bad} rows contain NaN or inf; impute or drop them first")
        return x

    def fit(self, x, progress: bool = False) -> "Representation":
        """Train on x (n, k) (rows are objects)."""
        x = self._check(x)
        if len(x) < 2:
            raise InputError("x: need at least 2 rows to learn a representation")
        cfg = self.config
        torch.manual_seed(cfg.seed)
        net = self.network
        xt = torch.as_tensor(x)
        sd = xt.std(0)
        net.x_mean.copy_(xt.mean(0))
        net.x_scale.copy_(torch.where(sd > 0, sd, torch.ones_like(sd)))
        target = (xt - net.x_mean) / net.x_scale
        net.train()

        def step(idx, frac):
            recon, mu, log_var = net(xt[idx], sample=cfg.beta > 0)
            rec = ((recon - target[idx]) ** 2).sum(1).mean()
            kl = (0.5 * (mu ** 2 + log_var.exp() - 1.0 - log_var)).sum(1).mean()
            loss = rec + cfg.beta * kl if cfg.beta > 0 else rec
            return loss, {"recon": rec.item(), "kl": kl.item()}

        self.history_ = fit_epochs(step, len(x), net.parameters(), cfg.loop(), progress, "autoencoder")
        self.network_ = net.eval()
        return self

    def transform(self, x, batch: int = 65536) -> np.ndarray:
        """Latent means (n, latent_dim)."""
        x = self._check(x)
        out = [np.zeros((0, self.network_.latent_dim), np.float32)]
        with torch.no_grad():
            out += [self.network_.encode(torch.as_tensor(x[i:i + batch]))[0].numpy() for i in range(0, len(x), batch)]
        return np.concatenate(out)

    def reconstruction_error(self, x, batch: int = 65536) -> np.ndarray:
        """Mean squared reconstruction error per object, in standardised units (n,)."""
        x = self._check(x)
        net = self.network_
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                xb = torch.as_tensor(x[i:i + batch])
                recon = net(xb, sample=False)[0]
                out.append((((recon - (xb - net.x_mean) / net.x_scale) ** 2).mean(1)).numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def save(self, out, provenance=None, metrics=None):
        spec = self.network_.spec()
        config = {"network": spec, "config": to_dict(self.config), "features": list(self.feature_names or []),
                  "metrics": metrics or {}, "provenance": dict(provenance or {})}
        return save_model_folder(out, "representation", self.network_.state_dict(), config)

    @classmethod
    def load(cls, path) -> "Representation":
        config, state = read_model_folder(path, "representation")
        try:
            net = AutoencoderNet.from_spec(config["network"])
            net.load_state_dict(state)
            obj = cls(net, from_dict(RepresentationConfig, config["config"], "config"), config.get("features") or None)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: not a valid representation model folder ({exc})") from None
        obj.network_ = net.eval()
        obj.metrics_ = config.get("metrics", {})
        return obj
