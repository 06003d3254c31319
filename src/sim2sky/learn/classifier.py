"""Calibrated neural classifier with an explicit "unknown" outcome.

* probabilities: an MLP trained with cross-entropy, then temperature-scaled on a held-out
  calibration set (Guo et al. 2017, arXiv:1706.04599);
* "unknown": the Mahalanobis distance of the penultimate-layer features to the nearest class
  mean under a shared covariance (Lee et al. 2018, arXiv:1807.03888). The threshold is the
  ``unknown_quantile`` quantile of the calibration set's distances, so by construction about
  1 - quantile of in-distribution inputs are called unknown; inputs unlike every class (an AGN
  spectrum, noise) land far from all class means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import from_dict, to_dict
from ..errors import InputError, ModelFolderError
from ..modelio import read_model_folder, save_model_folder

__all__ = ["ClassifierConfig", "ClassifierNet", "CalibratedClassifier", "expected_calibration_error", "UNKNOWN"]

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ClassifierConfig:
    hidden: tuple[int, ...] = (256, 256, 128)
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    unknown_quantile: float = 0.99
    seed: int = 0
    num_threads: int = 1


class ClassifierNet(nn.Module):
    """MLP: features (n, d) -> logits (n, k); ``embed`` gives the penultimate features."""

    def __init__(self, x_dim: int, n_classes: int, hidden=(256, 256, 128)):
        super().__init__()
        layers, d = [], x_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.SiLU()]
            d = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, n_classes)
        self.register_buffer("x_mean", torch.zeros(x_dim))
        self.register_buffer("x_std", torch.ones(x_dim))

    def embed(self, x):
        return self.body((x - self.x_mean) / self.x_std)

    def forward(self, x):
        return self.head(self.embed(x))


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins (Guo et al. 2017)."""
    conf, pred = proba.max(1), proba.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(ece)


class CalibratedClassifier:
    """Temperature-calibrated MLP classifier with Mahalanobis "unknown" detection.

    Parameters
    ----------
    classes : sequence of str
    config : ClassifierConfig
    feature_names : sequence of str, optional

    Attributes
    ----------
    net_ : ClassifierNet
    temperature_ : float
    class_means_ : (k, h) array, precision_ : (h, h) array, threshold_ : float
    history_ : dict
    """

    def __init__(self, classes, config: ClassifierConfig = ClassifierConfig(), feature_names=None, progress=False):
        self.classes, self.config, self.feature_names, self.progress = tuple(classes), config, feature_names, progress

    # -- training -----------------------------------------------------------------------------
    def fit(self, x, y, x_cal, y_cal, x_ref=None, y_ref=None) -> "CalibratedClassifier":
        """Train on (x, y) (y integer class indices); calibrate the temperature on (x_cal, y_cal).

        The "unknown" statistics (class means, covariance, threshold) come from ``(x_ref, y_ref)``
        when given — a held-out set drawn like the inputs the model will meet (e.g. with lines
        missing) — and from the calibration set otherwise.
        """
        x, y = self._check(x, y, "x"), np.asarray(y, int)
        x_cal, y_cal = self._check(x_cal, y_cal, "x_cal"), np.asarray(y_cal, int)
        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        with _threads(cfg.num_threads):
            self.net_ = ClassifierNet(x.shape[1], len(self.classes), cfg.hidden)
            xt, yt = torch.as_tensor(x), torch.as_tensor(y)
            self.net_.x_mean.copy_(xt.mean(0))
            self.net_.x_std.copy_(xt.std(0).clamp_min(1e-3))
            opt = torch.optim.AdamW(self.net_.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
            steps = cfg.epochs * int(np.ceil(len(x) / cfg.batch_size))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.learning_rate, total_steps=steps)
            losses = []
            epochs = range(cfg.epochs)
            if self.progress:
                from rich.progress import track
                epochs = track(epochs, description="training classifier")
            for _ in epochs:
                perm = torch.as_tensor(rng.permutation(len(x)))
                total = 0.0
                for i in range(0, len(x), cfg.batch_size):
                    idx = perm[i:i + cfg.batch_size]
                    loss = nn.functional.cross_entropy(self.net_(xt[idx]), yt[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
                    total += loss.item() * len(idx)
                losses.append(total / len(x))
            self.net_.eval()
            self.history_ = {"train_loss": losses}
            if x_ref is not None:
                x_ref, y_ref = self._check(x_ref, y_ref, "x_ref"), np.asarray(y_ref, int)
            self._calibrate(x_cal, y_cal, x_ref, y_ref)
        return self

    def _calibrate(self, x_cal, y_cal, x_ref=None, y_ref=None):
        with torch.no_grad():
            emb = self.net_.embed(torch.as_tensor(x_cal))
            logits = self.net_.head(emb)
        y = torch.as_tensor(y_cal)
        log_t = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(logits / log_t.exp(), y)
            loss.backward()
            return loss

        opt.step(closure)
        self.temperature_ = float(log_t.detach().exp())
        if x_ref is not None:
            with torch.no_grad():
                emb = self.net_.embed(torch.as_tensor(x_ref))
            y_cal = y_ref
        e = emb.numpy().astype(np.float64)
        self.class_means_ = np.stack([e[y_cal == k].mean(0) for k in range(len(self.classes))])
        centred = e - self.class_means_[y_cal]
        cov = centred.T @ centred / len(e) + 1e-6 * np.eye(e.shape[1])
        self.precision_ = np.linalg.inv(cov)
        self.threshold_ = float(np.quantile(self._distance(e), self.config.unknown_quantile))

    # -- inference ----------------------------------------------------------------------------
    def _distance(self, emb: np.ndarray) -> np.ndarray:
        # whiten once with the Cholesky factor of the precision: one (n, h) x (h, h) product
        chol = np.linalg.cholesky(self.precision_)
        zc = emb @ chol
        zm = self.class_means_ @ chol
        q = (zc**2).sum(1)[:, None] - 2 * zc @ zm.T + (zm**2).sum(1)[None, :]
        return np.sqrt(np.maximum(q.min(1), 0))

    def predict_all(self, x, batch: int = 65536) -> dict:
        """``proba`` (n, k) calibrated, ``distance`` (n,) Mahalanobis, ``label`` (n,) str with 'unknown'."""
        x = np.asarray(x, np.float32)
        probs, dists = [], []
        with torch.no_grad(), _threads(self.config.num_threads):
            for i in range(0, len(x), batch):
                emb = self.net_.embed(torch.as_tensor(x[i:i + batch]))
                probs.append(torch.softmax(self.net_.head(emb) / self.temperature_, 1).numpy())
                dists.append(self._distance(emb.numpy().astype(np.float64)))
        proba = np.concatenate(probs) if probs else np.zeros((0, len(self.classes)), np.float32)
        dist = np.concatenate(dists) if dists else np.zeros(0)
        labels = np.asarray(self.classes, dtype=object)[proba.argmax(1)] if len(proba) else np.zeros(0, object)
        labels = np.where(dist > self.threshold_, UNKNOWN, labels)
        return {"proba": proba, "distance": dist, "label": labels}

    def predict_proba(self, x) -> np.ndarray:
        return self.predict_all(x)["proba"]

    def predict(self, x) -> np.ndarray:
        return self.predict_all(x)["label"]

    # -- persistence --------------------------------------------------------------------------
    def save(self, out, provenance=None, metrics=None):
        state = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        state["class_means"] = torch.as_tensor(self.class_means_)
        state["precision"] = torch.as_tensor(self.precision_)
        config = {"classes": list(self.classes), "features": list(self.feature_names or []),
                  "x_dim": int(self.net_.x_mean.numel()), "config": to_dict(self.config),
                  "temperature": self.temperature_, "threshold": self.threshold_,
                  "metrics": metrics or {}, "provenance": dict(provenance or {})}
        return save_model_folder(out, "classifier", state, config)

    @classmethod
    def load(cls, path) -> "CalibratedClassifier":
        config, state = read_model_folder(path, "classifier")
        try:
            cfg = from_dict(ClassifierConfig, config["config"], "config")
            self = cls(config["classes"], cfg, config.get("features"))
            self.net_ = ClassifierNet(int(config["x_dim"]), len(self.classes), cfg.hidden)
            self.net_.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
            self.net_.eval()
            self.class_means_ = state["class_means"].numpy()
            self.precision_ = state["precision"].numpy()
            self.temperature_, self.threshold_ = float(config["temperature"]), float(config["threshold"])
            self.metrics_ = config.get("metrics", {})
            self.provenance_ = config.get("provenance", {})
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"model folder {path} does not describe a usable classifier: {exc}") from None
        return self

    def _check(self, x, y, name):
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or len(x) != len(y):
            raise InputError(f"{name}: expected (n, d) features with one label each, got {x.shape} and {len(y)} labels")
        if not np.isfinite(x).all():
            raise InputError(f"{name}: features contain NaN/inf; encode missing values with line_features()")
        return x


class _threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)
