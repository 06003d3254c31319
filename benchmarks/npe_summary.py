"""One table for every sbibm task from the same-run result files of ``npe_vs_sbi.py``.

Each task's row comes from the two runs with today's defaults (see ``RUN1``/``V3`` below for
which numbers come from which run). Prints C2ST mean ± sd over the 10 reference observations, on how many
observations sim2sky is at least as accurate, the training-time ratio (target <= 0.5) and the
sampling speed-up, and whether each target is met.

    python benchmarks/npe_summary.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
TASKS = ("two_moons", "gaussian_mixture", "sir", "slcp", "lotka_volterra", "gaussian_linear", "gaussian_linear_uniform",
         "bernoulli_glm")
# today's defaults, two runs of the same code on the same simulations (``npe_vs_sbi.py --skip-sbi`` and
# ``--skip-sim2sky`` as two processes side by side). Run 1 was interrupted before it wrote its files:
# its means and times are copied from the logs (RUN1). Run 2 wrote per-observation C2ST (V3, V3_SBI);
# sim2sky's C2ST is bit-identical between the runs (seeded, one thread), sbi's is not (its results
# depend on what ran before in the process). Run 2 shared the machine with a test run for part of
# its time, so training and sampling times come from run 1 wherever run 1 has both libraries.
RUN1, V3, V3_SBI = "results_npe_vs_sbi_v3_run1.json", "results_npe_vs_sbi_v3.json", "results_npe_vs_sbi_v3_sbi.json"


def _read(name: str) -> dict:
    path = HERE / name
    return json.loads(path.read_text()) if path.exists() else {}


def row(task: str, run1: dict, ours: dict, theirs: dict) -> dict | None:
    a = ours.get(task, {}).get("sim2sky") or run1.get(task, {}).get("sim2sky")
    b = theirs.get(task, {}).get("sbi") or run1.get(task, {}).get("sbi")
    if a is None or b is None:
        return None
    timed = run1.get(task, {})
    ta, tb = (timed["sim2sky"], timed["sbi"]) if {"sim2sky", "sbi"} <= set(timed) else (a, b)
    ca = np.array(a.get("c2st_per_obs", [a["c2st"]]))
    cb = np.array(b["c2st_per_obs"]) if "c2st_per_obs" in b else None
    return {"task": task, "n_obs": len(ca), "c2st": (ca.mean(), ca.std()),
            "c2st_sbi": (cb.mean(), cb.std()) if cb is not None else (b["c2st"], float("nan")),
            "sbi_source": "run 2" if cb is not None else "run 1 (log)",
            "better_on": int((ca <= cb).sum()) if cb is not None and len(cb) == len(ca) else None,
            "train": (ta["train_s"], tb["train_s"]), "train_ratio": ta["train_s"] / tb["train_s"],
            "sample": (ta["sample_s"], tb["sample_s"]), "speed_up": tb["sample_s"] / ta["sample_s"],
            "timing_source": "run 1" if ta is not a or tb is not b else "run 2"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    run1, ours, theirs = _read(RUN1), _read(V3), _read(V3_SBI)
    rows = [r for r in (row(t, run1, ours, theirs) for t in TASKS) if r is not None]
    print("| task | C2ST sim2sky | C2ST sbi (run) | sim2sky <= sbi on | C2ST target | train s sim2sky / sbi (run) | "
          "train ratio (target <= 0.5) | sampling s sim2sky / sbi | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        (ma, sa), (mb, sb) = r["c2st"], r["c2st_sbi"]
        c2st_ok = "met" if ma <= mb else f"+{ma - mb:.3f}"
        train_ok = f"**{r['train_ratio']:.2f}**" if r["train_ratio"] <= 0.5 else f"{r['train_ratio']:.2f}"
        sbi = f"{mb:.3f} ± {sb:.3f}" if sb == sb else f"{mb:.3f}"
        better = f"{r['better_on']} of {r['n_obs']}" if r["better_on"] is not None else "-"
        print(f"| {r['task']} | {ma:.3f} ± {sa:.3f} | {sbi} ({r['sbi_source']}) | {better} | {c2st_ok} | "
              f"{r['train'][0]:.1f} / {r['train'][1]:.1f} ({r['timing_source']}) | {train_ok} | "
              f"{r['sample'][0]:.1f} / {r['sample'][1]:.1f} | {r['speed_up']:.1f}x |")


if __name__ == "__main__":
    main()
