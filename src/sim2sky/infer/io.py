"""Save and load trained NPE posteriors as model folders (see :mod:`sim2sky.modelio`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.config import to_dict
from ..core.errors import ModelFolderError
from ..core.modelio import read_model_folder, save_model_folder
from .ensemble import estimator_from_architecture
from .posterior import Posterior
from .priors import prior_from_dict

__all__ = ["save_posterior", "load_posterior"]


def save_posterior(posterior: Posterior, out, train_config=None, history=None, provenance=None) -> Path:
    """Write ``posterior`` (its estimator, names, prior, training record) to folder ``out``."""
    est = posterior.estimator
    lo, hi = posterior.x_range if posterior.x_range is not None else (None, None)
    config = {
        "architecture": est.architecture(),
        "parameters": {"names": posterior.theta_names, "units": posterior.theta_units},
        "features": {"names": posterior.x_names,
                     "train_min": None if lo is None else np.asarray(lo).tolist(),
                     "train_max": None if hi is None else np.asarray(hi).tolist()},
        "prior": posterior.prior.to_dict() if posterior.prior is not None else None,
        "training": {
            "config": to_dict(train_config) if train_config is not None else None,
            "history": {k: v for k, v in (history or {}).items() if k not in ("train_loss", "val_loss", "lr")},
            "val_loss": (history or {}).get("val_loss"),
        },
        "provenance": dict(provenance or {}),
    }
    return save_model_folder(out, "npe", est.state_dict(), config)


def load_posterior(path) -> Posterior:
    """Rebuild the :class:`Posterior` stored in model folder ``path``."""
    config, state = read_model_folder(path, "npe")
    try:
        prior = prior_from_dict(config.get("prior"))
        est = estimator_from_architecture(config["architecture"], prior)
        missing, unexpected = est.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=False)
        # models saved before x_log existed model every feature as is (the buffer's default)
        missing = [k for k in missing if not k.endswith("x_log")]
        if missing or unexpected:
            raise RuntimeError(f"weights do not match the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})")
        feats = config.get("features", {})
        x_range = None
        if feats.get("train_min") is not None:
            x_range = (np.asarray(feats["train_min"]), np.asarray(feats["train_max"]))
        params = config.get("parameters", {})
        post = Posterior(est, prior=prior, theta_names=params.get("names"), theta_units=params.get("units"),
                         x_names=feats.get("names"), x_range=x_range)
        post.provenance = dict(config.get("provenance", {}))
        return post
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFolderError(f"model folder {path} does not describe a usable NPE model: {exc}") from None
