"""Where networks run: the process-wide device and inference precision (``sim2sky --device``).

Kept as validated strings, without torch: the CLI sets them in its root callback, which also
runs before a command's ``--help``. :func:`sim2sky.nn.device.torch_device` and
:func:`sim2sky.nn.device.autocast` turn them into a ``torch.device`` and an autocast context.
``SIM2SKY_DEVICE`` and ``SIM2SKY_PRECISION`` set the defaults from the environment.
"""

from __future__ import annotations

import os

from .errors import InputError

__all__ = ["DEVICES", "PRECISIONS", "check_device", "check_precision", "set_runtime", "runtime"]

#: "cuda:N" names one GPU; "auto" is cuda when torch sees one, else cpu
DEVICES = ("cpu", "cuda", "auto")
#: inference precision of classifier networks (autocast); posteriors always sample in float32
PRECISIONS = ("float32", "bfloat16", "float16")


def check_device(spec: str, name: str = "--device") -> str:
    """``spec`` if it is cpu, cuda, cuda:N or auto; otherwise InputError naming ``name``."""
    text = str(spec).strip().lower()
    index = text.partition(":")[2]
    if text in DEVICES or (text.startswith("cuda:") and index.isdigit()):
        return text
    raise InputError(f"{name}: expected cpu, cuda, cuda:N or auto, got {spec!r}")


def check_precision(precision: str, name: str = "--precision") -> str:
    text = str(precision).strip().lower()
    if text not in PRECISIONS:
        raise InputError(f"{name}: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    return text


_STATE = {"device": os.environ.get("SIM2SKY_DEVICE", "cpu"), "precision": os.environ.get("SIM2SKY_PRECISION", "float32")}


def set_runtime(device: str | None = None, precision: str | None = None) -> None:
    """Set the process-wide device and/or inference precision (None leaves one unchanged)."""
    if device is not None:
        _STATE["device"] = check_device(device)
    if precision is not None:
        _STATE["precision"] = check_precision(precision)


def runtime() -> tuple[str, str]:
    """``(device, precision)`` in effect, validated (the environment variables are checked here)."""
    return (check_device(_STATE["device"], "SIM2SKY_DEVICE"),
            check_precision(_STATE["precision"], "SIM2SKY_PRECISION"))
