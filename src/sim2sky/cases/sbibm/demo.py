"""The NPE demo: two moons from simulation to calibrated posterior, written to a folder."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from astropy.table import Table

from ...core.data import available
from ...core.tables import write_table
from ...infer.checks import run_checks
from ...infer.diagnostics import c2st
from ...infer.io import save_posterior
from ...infer.npe import NPE
from ...infer.train import TrainConfig
from ...report.plots import loss_plot, pair_plot
from .tasks import get_task, load_reference

__all__ = ["run_npe_demo"]


def run_npe_demo(out_dir, num_simulations: int = 10_000, seed: int = 0, progress: bool = True, log=print) -> dict:
    """Simulate two moons, train NPE, check calibration, compare with the sbibm reference.

    Writes into ``out_dir``: ``model/`` (model folder), ``posterior_obs1.png`` (pair plot vs
    the exact reference posterior when the shared data is present), ``coverage.png``,
    ``sbc_ranks.png``, ``loss.png``, ``summary.csv``; returns the numbers.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task("two_moons")
    t0 = time.perf_counter()
    theta, x = task.sample_joint(num_simulations, seed=seed)
    test_theta, test_x = task.sample_joint(500, seed=seed + 1000)
    log(f"simulated {num_simulations} two-moons pairs in {time.perf_counter() - t0:.2f} s")

    cfg = TrainConfig(seed=seed)
    npe = NPE(prior=task.prior, train_config=cfg, progress=progress).fit(
        theta.numpy(), x.numpy(), theta_names=["theta_1", "theta_2"], x_names=["x_1", "x_2"])
    h = npe.history_
    log(f"trained NPE (NSF) in {h['wall_time_s']:.1f} s, {h['epochs']} epochs, best validation loss {h['best_val_loss']:.3f}")
    post = npe.posterior_
    save_posterior(post, out / "model", cfg, h, provenance={"seed": seed, "simulator": "sbibm two_moons", "n_simulations": num_simulations})
    loss_plot(h, out / "loss.png")

    result = {"train_s": h["wall_time_s"], "epochs": h["epochs"]}
    if available("sbibm"):
        ref = load_reference("two_moons", 1)
        samples = post.sample(ref["x"][0], 10_000, seed=1)
        result["c2st_obs1"] = c2st(ref["samples"], samples)
        pair_plot(samples, post.theta_names, truth=ref["theta"][0], reference=ref["samples"],
                  path=out / "posterior_obs1.png",
                  title=f"two moons, observation 1: C2ST vs exact reference = {result['c2st_obs1']:.3f}")
        log(f"C2ST against the sbibm reference posterior (observation 1): {result['c2st_obs1']:.3f} (0.5 is perfect)")
        obs = np.concatenate([load_reference("two_moons", i)["x"] for i in range(1, 11)])
    else:
        log("sbibm reference data not available ('sim2sky data fetch sbibm'): skipping the comparison with "
            "the exact reference posterior")
        obs = test_x[:10].numpy()

    t0 = time.perf_counter()
    samples = post.sample_batched(obs, 1000, seed=2)
    summary = post.summarize(samples)
    result["sample_s"] = time.perf_counter() - t0
    rows = [(i + 1, name, *(float(summary[k][i, j]) for k in ("mean", "std", "q16", "q50", "q84")))
            for i in range(len(obs)) for j, name in enumerate(post.theta_names)]
    write_table(Table(rows=rows, names=("observation", "parameter", "mean", "std", "q16", "q50", "q84")),
                out / "summary.csv")

    report = run_checks(post, test_theta.numpy(), test_x.numpy(), out, num_sims=500, num_samples=500, seed=seed)
    result.update(coverage_max_error=report["coverage_max_error"], tarp_max_error=report["tarp_max_error"])
    log(f"calibration on 500 held-out simulations: max |coverage - level| = {report['coverage_max_error']:.3f}, "
        f"TARP max |ECP - level| = {report['tarp_max_error']:.3f}")
    return result
