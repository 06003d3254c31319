"""Feature attributions for any sim2sky network: integrated gradients and SHAP.

Integrated gradients (Sundararajan, Taly & Yan 2017, arXiv:1703.01365) attribute a scalar output
f(x) to the inputs along the straight path from a baseline x' to x:
``IG_i = (x_i - x'_i) * mean_k df/dx_i(x' + (k + 1/2)/m (x - x'))``. They satisfy *completeness*,
``sum_i IG_i = f(x) - f(x')`` up to the quadrature error of the m-point midpoint rule, which is
returned so that a caller can check it (and is tested).

SHAP values (Lundberg & Lee 2017, arXiv:1705.07874) come from the ``shap`` library's
``GradientExplainer`` (expected gradients: integrated gradients averaged over baselines drawn
from a background set, so they sum to f(x) - E[f(background)] in expectation).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from ..core.extras import require

__all__ = ["integrated_gradients", "classifier_attributions", "shap_attributions"]


def integrated_gradients(fn, x, baseline=None, steps: int = 64, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Attributions of the scalar outputs ``fn(x)`` (n,) to the inputs x (n, ...).

    Parameters
    ----------
    fn : callable
        Tensor (b, ...) -> tensor (b,), differentiable (e.g. one class logit of a network).
    x : array (n, ...)
    baseline : array broadcastable to x, optional
        The reference input x' (default: zeros, i.e. the training mean for standardised inputs).
    steps : int
        Midpoint-rule points along the path.

    Returns
    -------
    attributions : (n, ...) float64
    completeness_error : (n,) ``sum(attributions) - (f(x) - f(x'))``
    """
    x = np.asarray(x, np.float32)
    if x.ndim < 2 or not np.isfinite(x).all():
        raise InputError(f"x: expected finite inputs of shape (n, ...), got {x.shape}")
    base = np.zeros_like(x) if baseline is None else np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    alphas = (np.arange(steps) + 0.5) / steps
    attr = np.zeros(x.shape, np.float64)
    err = np.zeros(len(x))
    for i in range(0, len(x), batch):
        xb, bb = torch.tensor(x[i:i + batch]), torch.tensor(np.array(base[i:i + batch]))
        grads = torch.zeros_like(xb, dtype=torch.float64)
        for a in alphas:
            p = (bb + float(a) * (xb - bb)).requires_grad_(True)
            (g,) = torch.autograd.grad(fn(p).sum(), p)
            grads += g.double()
        a_b = ((xb - bb).double() * grads / steps).numpy()
        attr[i:i + batch] = a_b
        with torch.no_grad():
            delta = (fn(xb) - fn(bb)).double().numpy()
        err[i:i + batch] = a_b.reshape(len(a_b), -1).sum(1) - delta
    return attr, err


def classifier_attributions(network: nn.Module, x, target, baseline=None, steps: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Integrated gradients of the logit of class ``target`` (int or (n,) ints) of a classifier
    network (e.g. ``CalibratedClassifier.network_``) for inputs x (n, ...)."""
    x = np.asarray(x, np.float32)
    target = np.broadcast_to(np.asarray(target, int), (len(x),))
    network = network.eval()
    attr = np.zeros(x.shape, np.float64)
    errs = np.zeros(len(x))
    for k in np.unique(target):
        sel = np.flatnonzero(target == k)
        attr[sel], errs[sel] = integrated_gradients(
            lambda z, k=k: network(z)[:, k], x[sel],
            None if baseline is None else np.broadcast_to(baseline, x.shape)[sel], steps)
    return attr, errs


class _OneOutput(nn.Module):
    def __init__(self, network: nn.Module, k: int):
        super().__init__()
        self.network, self.k = network, int(k)

    def forward(self, z):
        return self.network(z)[:, self.k:self.k + 1]


def shap_attributions(network: nn.Module, x, target, background, nsamples: int = 200, seed: int = 0) -> np.ndarray:
    """SHAP values (expected gradients) of the logit of class ``target`` (int or (n,) ints).

    Parameters
    ----------
    network : nn.Module
        Tensor (b, ...) -> logits (b, K).
    x : array (n, ...)
    target : int or (n,) ints
    background : array (m, ...)
        Reference inputs (e.g. a few hundred training examples).
    nsamples : int
        Background/path samples per input (more: less noise).

    Returns
    -------
    (n, ...) float64 attributions.
    """
    shap = require("shap")   # heavy import (numba), only when asked for (an extra)

    x = np.asarray(x, np.float32)
    background = np.asarray(background, np.float32)
    if x.ndim < 2 or not np.isfinite(x).all():
        raise InputError(f"x: expected finite inputs of shape (n, ...), got {x.shape}")
    if background.shape[1:] != x.shape[1:] or not np.isfinite(background).all():
        raise InputError(f"background: expected finite inputs of shape (m, {', '.join(map(str, x.shape[1:]))}), "
                         f"got {background.shape}")
    target = np.broadcast_to(np.asarray(target, int), (len(x),))
    network = network.eval()
    attr = np.zeros(x.shape, np.float64)
    for k in np.unique(target):
        sel = np.flatnonzero(target == k)
        explainer = shap.GradientExplainer(_OneOutput(network, k), torch.as_tensor(background))
        values = explainer.shap_values(torch.as_tensor(x[sel]), nsamples=nsamples, rseed=seed)
        attr[sel] = np.asarray(values).reshape(x[sel].shape)
    return attr
