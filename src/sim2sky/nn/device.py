"""torch devices and mixed-precision inference from sim2sky's runtime settings (:mod:`sim2sky.core.runtime`).

Measured on the CPU (the shipped spectra classifier, 520 simulated spectra, tests/test_device.py):
bfloat16 autocast gives the float32 class for 99.6% of them, probabilities within 0.036; it is
meant for GPUs, where it halves memory traffic. float16 autocast is for CUDA only.
"""

from __future__ import annotations

import contextlib
import copy
import math

import torch

from ..core.errors import InputError
from ..core.runtime import check_device, check_precision, runtime

__all__ = ["torch_device", "autocast", "device_name", "placed", "cache_rows"]

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


#: floats in a forward pass's largest activation on the CPU (4 MB of float32, an eighth of the
#: 32 MB L3 cache of the 2-core CI machine). Measured there: 40,000 spectra through the shipped
#: classifier's network take 0.66 s at 512-2,048 rows per pass (largest activation 1-4 M floats)
#: and 1.7-2.0 s at 4,096 (8 M); 8,192 radio cutouts 0.29-0.33 s at 128-256 rows (1-2 M floats),
#: 0.6 s at 512 and 1.0 s at 2,048. This budget gives 512 and 128 rows, clear of the cliff.
CPU_ACTIVATION_BUDGET = 1 << 20


def cache_rows(module: torch.nn.Module, forward, row_shape, upper: int, device: torch.device,
               budget: int = CPU_ACTIVATION_BUDGET) -> int:
    """Rows per forward pass: at most ``upper``, and on the CPU few enough that the largest
    activation of ``forward`` (a callable of ``module`` taking a batch of shape (rows, *row_shape))
    holds at most ``budget`` floats, so that each pass runs in cache.

    The largest activation per row is found once per row shape by a two-row pass with forward
    hooks (in eval mode only: a probe must not move batch-norm statistics) and remembered on
    the module.
    """
    if device.type != "cpu" or module.training:
        return max(1, upper)
    memo = module.__dict__.setdefault("_sim2sky_act_per_row", {})
    key = tuple(int(v) for v in row_shape)
    if key not in memo:
        sizes = [2 * math.prod(key)]
        hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() if torch.is_tensor(o) else 0))
                 for m in module.modules() if next(m.children(), None) is None]
        try:
            with torch.inference_mode():
                forward(torch.zeros((2, *key), device=device))
        finally:
            for h in hooks:
                h.remove()
        memo[key] = max(sizes) // 2
    return int(max(1, min(upper, budget // max(1, memo[key]))))
