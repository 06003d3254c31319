"""Calibrated neural classifier with an explicit "unknown" outcome, for any backbone.

* the network is passed in: a :class:`ClassifierNet` wrapping any encoder of
  :mod:`sim2sky.nn` (an MLP on features, a 1-D ResNet on spectra, a 2-D CNN on images);
* probabilities: cross-entropy training, then temperature scaling on a held-out calibration
  set (Guo et al. 2017, arXiv:1706.04599);
* "unknown": the Mahalanobis distance of the backbone's features to the nearest class mean
  under a shared covariance (Lee et al. 2018, arXiv:1807.03888); the threshold is the
  ``unknown_quantile`` quantile of the distances of a held-out reference set, so about
  1 - quantile of in-distribution inputs are called unknown by construction.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.config import from_dict, to_dict
from ..core.errors import InputError, ModelFolderError
from ..core.estimator import Estimator
from ..core.modelio import read_model_folder, save_model_folder
from ..core.threads import limit_threads
from ..nn.device import autocast, cache_rows, placed, torch_device
from ..nn.encoders import MLP, build_encoder
from .loop import LoopConfig, fit_epochs

__all__ = ["ClassifierConfig", "ClassifierNet", "CalibratedClassifier",
           "mlp_classifier", "recall_at_precision", "set_standardization", "fit_temperature", "UNKNOWN"]

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ClassifierConfig(LoopConfig):
    """Training settings. ``hidden`` is kept for model folders written by sim2sky 0.1."""

    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    unknown_quantile: float = 0.99
    seed: int = 0
    num_threads: int = 1
    hidden: tuple[int, ...] = ()
    #: where ``fit`` trains: cpu, cuda[:N], auto; None: the runtime setting (``sim2sky --device``)
    device: str | None = None



class ClassifierNet(nn.Module):
    """``backbone`` (inputs -> features (n, h)) + a linear head (h -> n_classes).

    Inputs are standardised with ``x_mean`` / ``x_std`` buffers of shape ``in_shape`` (set
    from the training data by :meth:`CalibratedClassifier.fit`). ``embed`` gives the features
    used for the "unknown" distance.
    """

    def __init__(self, backbone: nn.Module, n_classes: int, in_shape, standardize: str = "feature"):
        super().__init__()
        if standardize not in ("feature", "global"):
            raise ValueError(f"standardize: expected 'feature' or 'global', got {standardize!r}")
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_features, n_classes)
        self.in_shape = tuple(int(s) for s in np.atleast_1d(in_shape))
        # "global": one mean and scale for all inputs (images: keeps a rotation-invariant backbone invariant)
        self.standardize = standardize
        self.register_buffer("x_mean", torch.zeros(self.in_shape))
        self.register_buffer("x_std", torch.ones(self.in_shape))

    def embed(self, x):
        return self.backbone((x - self.x_mean) / self.x_std)

    def forward(self, x):
        return self.head(self.embed(x))

    def spec(self) -> dict:
        return {"backbone": self.backbone.spec(), "n_classes": self.head.out_features, "in_shape": list(self.in_shape),
                "standardize": self.standardize}

    @classmethod
    def from_spec(cls, spec: dict) -> "ClassifierNet":
        return cls(build_encoder(spec["backbone"]), int(spec["n_classes"]), spec["in_shape"],
                   spec.get("standardize", "feature"))


def mlp_classifier(x_dim: int, n_classes: int, hidden=(256, 256, 128), seed: int = 0) -> ClassifierNet:
    """The default tabular network: an MLP backbone with SiLU activations, seeded initialisation."""
    torch.manual_seed(seed)
    return ClassifierNet(MLP(x_dim, hidden=hidden, activation="silu"), n_classes, (x_dim,))


def recall_at_precision(score: np.ndarray, y: np.ndarray, precision: float = 0.99) -> float:
    """Highest recall at which precision >= ``precision`` (y = 1 for positives, score higher = positive)."""
    from sklearn.metrics import precision_recall_curve  # noqa: PLC0415  (scikit-learn: 1.2 s import)

    p, r, _ = precision_recall_curve(y, score)
    ok = p >= precision
    return float(r[ok].max()) if ok.any() else 0.0


class CalibratedClassifier(Estimator):
    """Temperature-calibrated classifier with Mahalanobis "unknown" detection.

    Parameters
    ----------
    network : ClassifierNet
        Untrained network (any backbone); ``fit`` trains a copy of it.
    classes : sequence of str
    config : ClassifierConfig
    feature_names : sequence of str, optional
    augment : callable, optional
        ``augment(x_batch) -> x_batch`` (tensors), applied to each training batch (e.g. random
        rotations of images); never at calibration or prediction.

    Attributes
    ----------
    network_ : ClassifierNet (trained)
    temperature_ : float
    class_means_ : array (k, h)
        Class means of the embedding (for the "unknown" distance).
    precision_ : array (h, h)
        Inverse of the shared embedding covariance.
    threshold_ : float
        Mahalanobis distance beyond which an input is "unknown".
    history_ : dict
    """

    def __init__(self, network: ClassifierNet, classes, config: ClassifierConfig = ClassifierConfig(),
                 feature_names=None, progress: bool = False, augment=None):
        self.network, self.classes, self.config = network, tuple(classes), config
        self.feature_names, self.progress, self.augment = feature_names, progress, augment

    # -- training -----------------------------------------------------------------------------
    def fit(self, x, y, x_cal, y_cal, x_ref=None, y_ref=None) -> "CalibratedClassifier":
        """Train on (x, y) (y integer class indices); calibrate the temperature on (x_cal, y_cal).

        The "unknown" statistics (class means, covariance, threshold) come from ``(x_ref, y_ref)``
        when given — a held-out set drawn like the inputs the model will meet (e.g. with lines
        missing) — and from the calibration set otherwise.
        """
        x, y = self.check_inputs(x, y, "x")
        x_cal, y_cal = self.check_inputs(x_cal, y_cal, "x_cal")
        if x_ref is not None:
            x_ref, y_ref = self.check_inputs(x_ref, y_ref, "x_ref")
        torch.manual_seed(self.config.seed)
        dev = torch_device(self.config.device)
        with limit_threads(self.config.num_threads, blas=1):
            net = copy.deepcopy(self.network).to(dev)
            xt, yt = torch.as_tensor(x, device=dev), torch.as_tensor(y, device=dev)
            set_standardization(net, xt)
            net.train()

            def step(idx, frac):
                xb = xt[idx] if self.augment is None else self.augment(xt[idx])
                return nn.functional.cross_entropy(net(xb), yt[idx])

            self.history_ = fit_epochs(step, len(x), net.parameters(), self.config.loop(), self.progress,
                                       "training classifier")
            net.eval()
            self.history_["device"] = str(dev)
            self.train_priors_ = np.bincount(y, minlength=len(self.classes)) / len(y)
            self.network_ = net.to("cpu")
            self.calibrate(x_cal, y_cal, x_ref, y_ref)
        return self

    def calibrate(self, x_cal, y_cal, x_ref=None, y_ref=None) -> "CalibratedClassifier":
        """Fit the temperature on ``(x_cal, y_cal)`` and the "unknown" statistics on the reference set."""
        with torch.no_grad():
            emb = self.network_.embed(torch.as_tensor(x_cal))
            logits = self.network_.head(emb)
        self.temperature_ = fit_temperature(logits, torch.as_tensor(y_cal))
        if x_ref is not None:
            with torch.no_grad():
                emb = self.network_.embed(torch.as_tensor(x_ref))
            y_cal = y_ref
        e = emb.numpy().astype(np.float64)
        # a class absent from the reference set (a rare class of a small real training set) has no
        # mean: NaN, ignored by the nearest-mean distance
        self.class_means_ = np.stack([e[y_cal == k].mean(0) if np.any(y_cal == k) else np.full(e.shape[1], np.nan)
                                      for k in range(len(self.classes))])
        centred = e - self.class_means_[y_cal]
        cov = centred.T @ centred / len(e)
        # a ridge relative to the mean variance too: collapsed features (e.g. a failed DANN run) stay invertible
        cov += max(1e-6, 1e-6 * float(np.trace(cov)) / len(cov)) * np.eye(len(cov))
        precision = np.linalg.inv(cov)
        self.precision_ = (precision + precision.T) / 2
        self.threshold_ = float(np.quantile(self.distance(e), self.config.unknown_quantile))
        return self

    # -- inference ----------------------------------------------------------------------------
    def distance(self, emb: np.ndarray) -> np.ndarray:
        """Mahalanobis distance (n,) of features ``emb`` (n, h) to the nearest class mean."""
        # whiten once with the Cholesky factor of the precision: one (n, h) x (h, h) product
        chol = np.linalg.cholesky(self.precision_)
        zc = emb @ chol
        present = np.isfinite(self.class_means_).all(1)
        zm = self.class_means_[present] @ chol
        q = (zc**2).sum(1)[:, None] - 2 * zc @ zm.T + (zm**2).sum(1)[None, :]
        return np.sqrt(np.maximum(q.min(1), 0))

    def predict_all(self, x, batch: int = 65536, class_priors=None) -> dict:
        """``proba`` (n, k) calibrated, ``logits`` (n, k), ``distance`` (n,), ``label`` (n,) with 'unknown'.

        ``class_priors`` (k,) — the class fractions expected in the data (any positive scale):
        the probabilities are re-weighted by prior / training fraction and renormalised (the
        Bayes-optimal correction for a change of class priors; Saerens et al. 2002, Neural
        Computation 14, 21). The "unknown" test does not depend on them.
        """
        x = np.asarray(x, np.float32)
        weights = self.prior_weights(class_priors)
        probs, dists, logits = [], [], []
        net, dev = self._placed()
        with torch.no_grad(), limit_threads(self.config.num_threads, blas=1):
            batch = cache_rows(net, net.embed, x.shape[1:], batch, dev) if len(x) else batch
            for i in range(0, len(x), batch):
                with autocast(dev, self._precision):
                    emb = net.embed(torch.as_tensor(x[i:i + batch]).to(dev, non_blocking=True))
                    lg = net.head(emb)
                emb, lg = emb.float().cpu(), lg.float().cpu() / self.temperature_
                logits.append(lg.numpy())
                p = torch.softmax(lg, 1).numpy()
                if weights is not None:
                    p = p * weights
                    p /= p.sum(1, keepdims=True)
                probs.append(p)
                dists.append(self.distance(emb.numpy().astype(np.float64)))
        k = len(self.classes)
        proba = np.concatenate(probs) if probs else np.zeros((0, k), np.float32)
        dist = np.concatenate(dists) if dists else np.zeros(0)
        labels = np.asarray(self.classes, dtype=object)[proba.argmax(1)] if len(proba) else np.zeros(0, object)
        labels = np.where(dist > self.threshold_, UNKNOWN, labels)
        return {"proba": proba, "logits": np.concatenate(logits) if logits else np.zeros((0, k), np.float32),
                "distance": dist, "label": labels}

    _device: str | None = None          # run-time placement (:meth:`to`), not a setting
    _precision: str | None = None

    def to(self, device: str | None = None, precision: str | None = None) -> "CalibratedClassifier":
        """Run predictions on ``device`` (cpu, cuda[:N], auto) in ``precision`` (float32, bfloat16,
        float16: autocast); None keeps the runtime setting (``sim2sky --device/--precision``)."""
        self._device, self._precision = device, precision
        torch_device(device)                       # validate now, not at the first batch
        return self

    def _placed(self):
        return placed(self, self.network_, self._device)

    def prior_weights(self, class_priors) -> np.ndarray | None:
        """Per-class weights prior / training fraction, or None (``class_priors`` None)."""
        if class_priors is None:
            return None
        pri = np.asarray(class_priors, float).ravel()
        if pri.shape != (len(self.classes),) or not np.all(np.isfinite(pri)) or np.any(pri < 0) or pri.sum() <= 0:
            raise InputError(f"class_priors: expected {len(self.classes)} non-negative numbers (for "
                             f"{', '.join(self.classes)}), not all zero; got {class_priors!r}")
        train = getattr(self, "train_priors_", None)
        train = np.full(len(self.classes), 1 / len(self.classes)) if train is None else np.asarray(train, float)
        return (pri / pri.sum() / np.maximum(train, 1e-12)).astype(np.float32)

    def predict_proba(self, x, class_priors=None) -> np.ndarray:
        return self.predict_all(x, class_priors=class_priors)["proba"]

    def predict(self, x, class_priors=None) -> np.ndarray:
        return self.predict_all(x, class_priors=class_priors)["label"]

    def embed(self, x, batch: int = 65536) -> np.ndarray:
        """Backbone features (n, h) of inputs ``x`` (for representation analyses)."""
        x = np.asarray(x, np.float32)
        net, dev = self._placed()
        batch = cache_rows(net, net.embed, x.shape[1:], batch, dev) if len(x) else batch
        with torch.no_grad(), autocast(dev, self._precision):
            return np.concatenate([net.embed(torch.as_tensor(x[i:i + batch]).to(dev)).float().cpu().numpy()
                                   for i in range(0, len(x), batch)]) if len(x) else np.zeros((0, 0), np.float32)

    # -- persistence --------------------------------------------------------------------------
    def save(self, out, provenance=None, metrics=None):
        state = {f"net.{k}": v for k, v in self.network_.state_dict().items()}
        state["class_means"] = torch.as_tensor(self.class_means_)
        state["precision"] = torch.as_tensor(self.precision_)
        config = {"classes": list(self.classes), "features": list(self.feature_names or []),
                  "network": self.network_.spec(), "config": to_dict(self.config),
                  "temperature": self.temperature_, "threshold": self.threshold_,
                  "train_priors": None if getattr(self, "train_priors_", None) is None else [float(v) for v in self.train_priors_],
                  "metrics": metrics or {}, "provenance": dict(provenance or {})}
        return save_model_folder(out, "classifier", state, config)

    @classmethod
    def load(cls, path) -> "CalibratedClassifier":
        config, state = read_model_folder(path, "classifier")
        try:
            cfg = from_dict(ClassifierConfig, config["config"], "config")
            net_state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
            if "network" in config:
                net = ClassifierNet.from_spec(config["network"])
            else:   # sim2sky 0.1 folders: an MLP body described by config.hidden
                x_dim = int(config["x_dim"])
                net = ClassifierNet(MLP(x_dim, hidden=cfg.hidden, activation="silu"), len(config["classes"]), (x_dim,))
                net_state = {(f"backbone.net.{k[5:]}" if k.startswith("body.") else k): v for k, v in net_state.items()}
            net.load_state_dict(net_state)
            net.eval()
            self = cls(net, config["classes"], cfg, config.get("features"))
            self.network_ = net
            self.class_means_ = state["class_means"].numpy()
            self.precision_ = state["precision"].numpy()
            self.temperature_, self.threshold_ = float(config["temperature"]), float(config["threshold"])
            if config.get("train_priors") is not None:
                self.train_priors_ = np.asarray(config["train_priors"], float)
            self.metrics_ = config.get("metrics", {})
            self.provenance_ = config.get("provenance", {})
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"model folder {path} does not describe a usable classifier: {exc}") from None
        return self

    def check_inputs(self, x, y, name):
        """Validate inputs (n, ...) with one integer label each; returns float32 x and int y."""
        x = np.asarray(x, np.float32)
        y = np.asarray(y, int)
        shape = getattr(self.network, "in_shape", x.shape[1:])
        if x.ndim < 2 or len(x) != len(y) or tuple(x.shape[1:]) != tuple(shape):
            raise InputError(f"{name}: expected inputs of shape (n, {', '.join(map(str, shape))}) with one label "
                             f"each, got {x.shape} and {len(y)} labels")
        if not np.isfinite(x).all():
            raise InputError(f"{name}: inputs contain NaN/inf; encode missing values before training")
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise InputError(f"{name}: labels must be class indices 0..{len(self.classes) - 1}")
        return x, y


def set_standardization(net: ClassifierNet, x: torch.Tensor) -> None:
    """Per-input (or, for ``standardize="global"``, overall) mean and standard deviation of ``x``
    into the network's buffers."""
    with torch.no_grad():
        if getattr(net, "standardize", "feature") == "global":
            net.x_mean.fill_(float(x.mean()))
            net.x_std.fill_(max(float(x.std()), 1e-3))
        else:
            net.x_mean.copy_(x.mean(0))
            net.x_std.copy_(x.std(0).clamp_min(1e-3))


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Temperature minimising the cross-entropy of ``logits / T`` (LBFGS on log T)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())
