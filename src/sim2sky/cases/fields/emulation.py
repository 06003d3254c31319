"""Emulators of field files: what ``sim2sky emulate train|sample|check`` run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...core.atomic import write_text
from ...core.errors import InputError
from ...core.extras import require
from ...core.modelio import sha256_file
from ...core.tables import read_arrays
from ...learn.emulate import EmulatorConfig, FieldEmulator
from ...learn.flowmatch import FlowMatchingConfig, FlowMatchingEmulator
from ...nn.fieldflow import FieldFlow
from ...nn.velocity import ConditionalUNet
from .api import read_fields, write_fields
from .stats import compare_fields

__all__ = ["EMULATOR_METHODS", "train_emulator_file", "sample_emulator_file", "check_emulator_file", "load_emulator",
           "parse_theta"]

#: ``emulate train --method``: the exact-likelihood Fourier flow (CPU minutes) or a flow-matching U-Net (GPU)
EMULATOR_METHODS = ("fourier", "flowmatch")


def _meta(path) -> dict:
    """The simulation metadata stored in a field file (empty when absent)."""
    try:
        if str(path).endswith(".npz"):
            arrays = np.load(path, allow_pickle=False)
            return json.loads(str(arrays["meta"])) if "meta" in arrays.files else {}
        if str(path).endswith((".h5", ".hdf5")):
            h5py = require("h5py")

            with h5py.File(path, "r") as fh:
                return json.loads(fh.attrs.get("meta", "{}"))
    except (OSError, ValueError, KeyError):
        pass
    return {}


def train_emulator_file(fields_path, out_dir, method: str = "fourier", layers: int = 3, knots: int = 16, bins: int = 24,
                        epochs: int = 30, batch_size: int = 64, learning_rate: float = 3e-3,
                        channels: tuple = (32, 64, 128, 128), steps: int = 24, device: str = "cpu", seed: int = 0,
                        progress: bool = False) -> dict:
    """Train an emulator on a field file and write its model folder.

    ``method="fourier"``: :class:`FieldEmulator` (Fourier flow; ``layers``, ``knots``, ``bins``).
    ``method="flowmatch"``: :class:`FlowMatchingEmulator` (conditional U-Net of ``channels``,
    ``steps`` Heun steps when sampling, ``device``). ``learning_rate`` 0 takes each method's default.
    """
    if method not in EMULATOR_METHODS:
        raise InputError(f"--method: unknown emulator {method!r}; choose from {', '.join(EMULATOR_METHODS)}")
    data = read_fields(fields_path)
    x, theta = data["x"], data["theta"]
    if len(x) < 10:
        raise InputError(f"{Path(fields_path).name}: need at least 10 fields to train an emulator, got {len(x)}")
    if x.shape[1] % 2 or len(set(x.shape[1:])) != 1:
        raise InputError(f"{Path(fields_path).name}: fields must be periodic square maps or cubes with an even "
                         f"number of pixels per side, got {x.shape[1:]}")
    if method == "fourier":
        net = FieldFlow(x.shape[1:], theta.shape[1], layers=layers, knots=knots, bins=bins)
        cfg = EmulatorConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate or 3e-3, seed=seed)
        emu = FieldEmulator(net, cfg, theta_names=data["theta_names"])
    else:
        levels = 2 ** (len(channels) - 1)
        if x.shape[1] % levels:
            raise InputError(f"{Path(fields_path).name}: {x.shape[1]} pixels per side is not divisible by {levels} "
                             f"({len(channels)} U-Net levels); use fewer --channels")
        net = ConditionalUNet(x.ndim - 1, theta.shape[1], channels=tuple(channels))
        cfg = FlowMatchingConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate or 2e-3, steps=steps,
                                 device=device, seed=seed)
        emu = FlowMatchingEmulator(net, cfg, theta_names=data["theta_names"])
    emu.fit(theta, x, progress=progress)
    meta = _meta(fields_path)
    meta.update({"theta_low": theta.min(0).tolist(), "theta_high": theta.max(0).tolist()})
    emu.save(out_dir, provenance={"data_file": str(fields_path), "data_sha256": sha256_file(fields_path),
                                  "n_simulations": int(len(x)), "seed": seed}, meta=meta)
    return emu.history_


def load_emulator(model_dir):
    """The emulator in a model folder, whichever method trained it."""
    config = Path(model_dir) / "config.json"
    try:
        kind = json.loads(config.read_text()).get("format", "")
    except (OSError, ValueError, AttributeError):
        kind = ""      # read_model_folder below gives the precise error
    if kind == "sim2sky.flow-matching-emulator":
        return FlowMatchingEmulator.load(model_dir)
    return FieldEmulator.load(model_dir)


def parse_theta(text: str | None, names: list[str]) -> np.ndarray | None:
    """``"0.3,0.8"`` (one parameter vector) -> array (1, d)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--theta: expected comma-separated numbers for {', '.join(names)}, got {text!r}") from None
    if len(values) != len(names):
        raise InputError(f"--theta: expected {len(names)} values ({', '.join(names)}), got {len(values)}")
    return np.array([values], np.float32)


def sample_emulator_file(model_dir, out, theta: str | None = None, theta_file=None, n: int = 1, seed: int = 0,
                         allow_out_of_range: bool = False) -> dict:
    """Emulate ``n`` fields at ``theta`` (or one per row of ``theta`` in ``theta_file``) into a field file."""
    emu = load_emulator(model_dir)
    names = emu.theta_names or [f"theta_{i}" for i in range(emu.network_.theta_dim)]
    if (theta is None) == (theta_file is None):
        raise InputError("give exactly one of --theta (one parameter vector) or --theta-file (a field or .npz file "
                         "with theta)")
    if theta_file is not None:
        values = read_arrays(theta_file, ("theta",), {"theta": names})[0]["theta"].astype(np.float32)
    else:
        values = np.repeat(parse_theta(theta, names), max(int(n), 1), axis=0)
    low, high = np.array(emu.meta_.get("theta_low", -np.inf)), np.array(emu.meta_.get("theta_high", np.inf))
    outside = ((values < low) | (values > high)).any(1)
    if outside.any() and not allow_out_of_range:
        raise InputError(f"{int(outside.sum())} parameter vectors lie outside the training range "
                         f"{low.tolist()} .. {high.tolist()}; an emulator does not extrapolate "
                         f"(--allow-out-of-range to sample anyway)")
    x = emu.sample(values, seed=seed)
    meta = {k: v for k, v in emu.meta_.items() if k not in ("theta_low", "theta_high")}
    meta.update({"emulated_by": str(model_dir), "seed": seed})
    result = {"theta": values, "x": x, "theta_names": names, "meta": meta}
    write_fields(out, result)
    return result


def check_emulator_file(model_dir, sims, out=None, seed: int = 0) -> dict:
    """Emulate one field per simulated field of ``sims`` (same parameters) and compare summary statistics."""
    emu = load_emulator(model_dir)
    data = read_fields(sims)
    if data["x"].shape[1:] != emu.shape_:
        raise InputError(f"{Path(sims).name}: fields of shape {data['x'].shape[1:]} but the emulator makes "
                         f"{emu.shape_}")
    report = compare_fields(data["x"], emu.sample(data["theta"], seed=seed), data["x"].ndim - 1)
    report["n_fields"] = int(len(data["x"]))
    if out is not None:
        write_text(out, json.dumps(report, indent=1))
    return report
