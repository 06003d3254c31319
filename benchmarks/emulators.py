"""Field emulators side by side (issue 13): the exact-likelihood Fourier flow vs a flow-matching U-Net.

Both learn p(map | Omega_m, sigma_8) of noise-free log-normal maps (64^2, box 256 Mpc/h) from the
same 10^4 simulations (seed 30, as ``benchmarks/fields.py``). At three parameter points, N
simulated maps are compared with N emulated ones (P(k) per shell, one-point PDF, peak counts,
Minkowski functionals), and with a second, independent set of N simulated maps: the sample-variance
floor below which no emulator can be judged with N maps. Also: training time and generation time
per map against the simulator's.

    python benchmarks/emulators.py --out benchmarks/results_emulators.json [--methods fourier flowmatch]
        [--device cuda] [--fm-minutes 6] [--n-check 2000] [--save-models DIR]

The flow-matching U-Net is sized for a GPU: ``--device cuda`` trains it there, with as many
epochs as ``--fm-minutes`` allow (measured on the first 20 steps; the epochs used are recorded).
On 2 CPU cores one epoch of 10^4 maps takes tens of minutes (the script prints its step time).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sim2sky.cases.fields import compare_fields, simulate_fields
from sim2sky.learn import EmulatorConfig, FieldEmulator
from sim2sky.learn.flowmatch import FlowMatchingConfig, FlowMatchingEmulator
from sim2sky.nn import FieldFlow
from sim2sky.nn.velocity import ConditionalUNet

THETAS = ([0.2, 0.7], [0.3, 0.8], [0.45, 0.95])


def step_seconds(net: ConditionalUNet, batch: int, device: str, steps: int = 20) -> float:
    """Wall time of one training step (forward, backward, AdamW) at this batch size."""
    dev = torch.device(device)
    probe = ConditionalUNet(**net.spec()).to(dev)
    opt = torch.optim.AdamW(probe.parameters(), 1e-4)
    x, t, c = torch.randn(batch, 64, 64, device=dev), torch.rand(batch, device=dev), torch.randn(batch, 2, device=dev)
    for i in range(steps + 3):
        if i == 3:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        loss = (probe(x, t, c) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def check(emulate, n: int, tag: str) -> list[dict]:
    """Simulated vs emulated maps (and simulated vs simulated) at the three parameter points."""
    rows = []
    for i, theta in enumerate(THETAS):
        t = np.tile(theta, (n, 1))
        t0 = time.perf_counter()
        sim = simulate_fields("lognormal", n, theta=t, seed=40 + i)["x"]
        sim_s = time.perf_counter() - t0
        again = simulate_fields("lognormal", n, theta=t, seed=70 + i)["x"]
        t0 = time.perf_counter()
        em = emulate(t, 50 + i)
        emu_s = time.perf_counter() - t0
        st = compare_fields(sim, em, 2, simulated_again=again)
        row = {"theta": theta, **{k: st[k] for k in ("pk_max_error", "pdf_max_error", "peaks_max_error",
                                                      "pk_max_error_floor", "pdf_max_error_floor",
                                                      "peaks_max_error_floor", "std_sim", "std_emu", "k", "pk_ratio",
                                                      "pk_ratio_floor", "minkowski_sim", "minkowski_emu")},
               "simulator_ms_per_field": 1e3 * sim_s / n, "emulator_ms_per_field": 1e3 * emu_s / n}
        rows.append(row)
        print(f"{tag} at {theta}: P(k) max err {row['pk_max_error']:.3f} (floor {row['pk_max_error_floor']:.3f}), "
              f"PDF {row['pdf_max_error']:.3f} (floor {row['pdf_max_error_floor']:.3f}), peaks "
              f"{row['peaks_max_error']:.3f} (floor {row['peaks_max_error_floor']:.3f}), std {row['std_emu']:.3f} vs "
              f"{row['std_sim']:.3f}; {row['emulator_ms_per_field']:.2f} ms/map vs simulator "
              f"{row['simulator_ms_per_field']:.2f}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["fourier", "flowmatch"])
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-check", type=int, default=2000, help="maps per parameter point (each of 3 sets)")
    ap.add_argument("--fourier-epochs", type=int, default=12)
    ap.add_argument("--fourier-layers", type=int, default=2)
    ap.add_argument("--fm-epochs", type=int, default=0, help="0: as many as --fm-minutes allow")
    ap.add_argument("--fm-minutes", type=float, default=6.0)
    ap.add_argument("--fm-channels", type=int, nargs="+", default=[32, 64, 128, 128])
    ap.add_argument("--fm-batch", type=int, default=64)
    ap.add_argument("--fm-steps", type=int, default=24, help="Heun steps when sampling")
    ap.add_argument("--device", default="cpu", help="device of the flow-matching emulator (cpu, cuda)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-models", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sims = simulate_fields("lognormal", args.n_train, noise=0.0, seed=30)
    results = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    if torch.cuda.is_available():
        results["gpu"] = torch.cuda.get_device_name(0)
    if "fourier" in args.methods:
        emu = FieldEmulator(FieldFlow((64, 64), 2, layers=args.fourier_layers, bins=24),
                            EmulatorConfig(epochs=args.fourier_epochs, seed=0)).fit(sims["theta"], sims["x"])
        print(f"Fourier flow: trained in {emu.history_['wall_time_s']:.0f} s on the CPU", flush=True)
        results["fourier"] = {"train_s": emu.history_["wall_time_s"], "device": "cpu",
                              "val_nll_per_pixel": emu.history_["best_val_loss"],
                              "checks": check(lambda t, s: emu.sample(t, seed=s), args.n_check, "Fourier flow")}
        if args.save_models:
            emu.save(args.save_models / "fourier")
    if "flowmatch" in args.methods:
        net = ConditionalUNet(2, 2, channels=tuple(args.fm_channels))
        per_step = step_seconds(net, args.fm_batch, args.device)
        per_epoch = per_step * (int(0.95 * args.n_train) // args.fm_batch)
        epochs = args.fm_epochs or max(1, int(args.fm_minutes * 60 / per_epoch))
        print(f"flow matching: {sum(p.numel() for p in net.parameters()):,} weights, {per_step * 1e3:.1f} ms per step "
              f"of {args.fm_batch} maps on {args.device} ({per_epoch:.1f} s per epoch): {epochs} epochs", flush=True)
        cfg = FlowMatchingConfig(epochs=epochs, batch_size=args.fm_batch, steps=args.fm_steps, device=args.device, seed=0)
        fm = FlowMatchingEmulator(net, cfg).fit(sims["theta"], sims["x"])
        print(f"flow matching: trained in {fm.history_['wall_time_s']:.0f} s, best epoch {fm.history_['best_epoch'] + 1}, "
              f"held-out velocity loss {fm.history_['best_val_loss']:.4f}", flush=True)
        results["flowmatch"] = {"train_s": fm.history_["wall_time_s"], "device": args.device, "epochs": epochs,
                                "step_ms": per_step * 1e3, "weights": sum(p.numel() for p in net.parameters()),
                                "val_loss": fm.history_["val_loss"], "best_epoch": fm.history_["best_epoch"],
                                "checks": check(lambda t, s: fm.sample(t, seed=s, batch=256), args.n_check,
                                                "flow matching")}
        if args.save_models:
            fm.save(args.save_models / "flowmatch")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=float))
        print(f"results in {args.out}")


if __name__ == "__main__":
    main()
