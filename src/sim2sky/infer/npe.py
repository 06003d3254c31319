"""Neural posterior estimation (NPE): a conditional flow ``q(theta | x)`` trained on simulations.

The estimator (:mod:`.estimator`, :mod:`.ensemble`) is an ``nn.Module`` whose call returns a
distribution; :class:`~.train.NPETrainer` fits it; :class:`~.posterior.Posterior` samples and
summarises it. :class:`NPE` wires the three together with scikit-learn conventions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..core.estimator import Estimator
from .ensemble import NPEEnsemble, build_estimator, merge_histories
from .estimator import NPEConfig
from .posterior import Posterior
from .priors import as_prior
from .train import NPETrainer, TrainConfig, validate_training_data, validation_loss, validation_rows

__all__ = ["NPE"]


class NPE(Estimator):
    """Amortised posterior estimation in one object (scikit-learn conventions).

    Parameters
    ----------
    prior : BoxUniform, Gaussian or LogNormal, optional
        Stored with the model; a box (log-normal) prior keeps posterior mass inside the box
        (on positive values).
    config : NPEConfig
    train_config : TrainConfig
    embedding : nn.Module, optional
        Embedding network for x (trained jointly with the flow); overrides ``config.embedding``.
    progress : bool
        Show a rich progress bar while training.

    Attributes
    ----------
    estimator_ : NPEEstimator or NPEEnsemble
    history_ : dict
        Per-epoch training and validation loss, best epoch, wall time.
    posterior_ : Posterior

    Examples
    --------
    >>> npe = NPE(prior=BoxUniform([-1, -1], [1, 1])).fit(theta, x)   # doctest: +SKIP
    >>> samples = npe.posterior_.sample(x_obs, 1000)                  # doctest: +SKIP
    >>> npe = NPE(prior, embedding=CNN2d(64, 32)).fit(theta, maps)     # doctest: +SKIP
    """

    def __init__(self, prior=None, config: NPEConfig = NPEConfig(), train_config=None,
                 embedding: nn.Module | None = None, progress: bool = False):
        self.prior, self.config, self.train_config = prior, config, train_config
        self.embedding, self.progress = embedding, progress

    def fit(self, theta, x, theta_names=None, x_names=None, x_target=None) -> "NPE":
        """Train on simulations ``theta`` (n, d), ``x`` (n, *x_shape); ``x_target`` (m, *x_shape):
        optional unlabelled real observations for domain-adversarial training of the embedding."""
        prior = as_prior(self.prior)
        theta, x = validate_training_data(theta, x, prior)
        tcfg = self.train_config or TrainConfig()
        # a passed-in embedding module is one object: it cannot be trained afresh per candidate
        candidates = self.config.candidates(theta.shape[1]) if self.embedding is None else [self.config]
        fits = [self._fit_one(config, prior, theta, x, x_target, tcfg) for config in candidates]
        if len(fits) > 1:
            rows = validation_rows(len(theta), tcfg, isinstance(theta, np.memmap))
            losses = [validation_loss(est, theta, x, rows) for est, _ in fits]
            self.estimator_, self.history_ = fits[int(np.argmin(losses))]
            self.history_["candidates"] = [{"flow": c.flow, "ensemble": c.ensemble, "val_loss": v,
                                            "wall_time_s": h["wall_time_s"]} for c, v, (_, h) in zip(candidates, losses, fits)]
        else:
            self.estimator_, self.history_ = fits[0]
        x_range = (np.nanmin(x, 0), np.nanmax(x, 0)) if x.ndim == 2 and not isinstance(x, np.memmap) else None
        self.posterior_ = Posterior(self.estimator_, prior=prior, theta_names=theta_names, x_names=x_names,
                                    x_range=x_range)
        return self

    def _fit_one(self, config, prior, theta, x, x_target, tcfg):
        torch.manual_seed(tcfg.seed)
        estimator = build_estimator(theta.shape[1], x.shape[1:], config, prior, self.embedding)
        members = estimator.members if isinstance(estimator, NPEEnsemble) else [estimator]
        histories = []
        for k, member in enumerate(members):
            # every member sees the same training/validation split; seeds differ (initialisation, batches)
            torch.manual_seed(tcfg.seed + 1000 * k)
            histories.append(NPETrainer(replace(tcfg, batch_seed=tcfg.seed + 1000 * k), progress=self.progress)
                             .fit(member, theta, x, x_target))
        return estimator, histories[0] if len(histories) == 1 else merge_histories(histories)
