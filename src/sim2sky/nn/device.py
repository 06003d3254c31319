"""torch devices and mixed-precision inference from sim2sky's runtime settings (:mod:`sim2sky.core.runtime`).

Measured on the CPU (the shipped spectra classifier, 520 simulated spectra, tests/test_device.py):
bfloat16 autocast gives the float32 class for 99.6% of them, probabilities within 0.036; it is
meant for GPUs, where it halves memory traffic. float16 autocast is for CUDA only.
"""

from __future__ import annotations

import contextlib
import copy

import torch

from ..core.errors import InputError
from ..core.runtime import check_device, check_precision, runtime

__all__ = ["torch_device", "autocast", "device_name", "placed"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_device(spec: str | None = None) -> torch.device:
    """The ``torch.device`` for ``spec`` (cpu, cuda, cuda:N, auto; None: the runtime setting)."""
    spec = runtime()[0] if spec is None else check_device(spec)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {spec}: torch sees no GPU on this machine; use --device cpu or auto")
        index = int(spec.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise InputError(f"--device {spec}: this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device(spec)


def autocast(device: torch.device, precision: str | None = None):
    """A context running eligible operations in ``precision`` (None: the runtime setting) on ``device``."""
    precision = runtime()[1] if precision is None else check_precision(precision)
    if precision == "float32":
        return contextlib.nullcontext()
    if precision == "float16" and device.type != "cuda":
        raise InputError("--precision float16: only on a GPU (--device cuda); use bfloat16 on the CPU")
    return torch.autocast(device.type, dtype=_DTYPES[precision])


def device_name(device: torch.device) -> str:
    """The card's name for a CUDA device, else ``cpu``."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def placed(owner, module: torch.nn.Module, spec: str | None = None):
    """``(module on the device, device)`` for ``spec`` (None: the runtime setting).

    On the CPU the module itself; elsewhere a copy, cached on ``owner`` (``owner._on_device``) so
    that repeated calls move the weights once and the CPU original stays as saved and fitted.
    """
    dev = torch_device(spec)
    if dev.type == "cpu":
        return module, dev
    cached = getattr(owner, "_on_device", None)
    if cached is None or cached[0] != dev or cached[1] is not module:
        cached = (dev, module, copy.deepcopy(module).to(dev))
        owner._on_device = cached
    return cached[2], dev
