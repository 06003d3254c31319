"""One table for every sbibm task from the same-run result files of ``npe_vs_sbi.py``.

Each task's row comes from the latest run with today's defaults (``SOURCES``: the result file
holding sim2sky's numbers and the one holding sbi's, from the same run or from two processes
run side by side). Prints C2ST mean ± sd over the 10 reference observations, on how many
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
# task -> (file with sim2sky's result, file with sbi's result), from one run of two processes side
# by side: ``npe_vs_sbi.py --skip-sbi`` and ``npe_vs_sbi.py --skip-sim2sky`` on the same tasks
V3, V3_SBI = "results_npe_vs_sbi_v3.json", "results_npe_vs_sbi_v3_sbi.json"
SOURCES = {task: (V3, V3_SBI) for task in ("two_moons", "gaussian_mixture", "gaussian_linear", "gaussian_linear_uniform",
                                           "bernoulli_glm", "slcp", "sir", "lotka_volterra")}


def load(task: str) -> tuple[dict, dict]:
    ours, theirs = SOURCES[task]
    return (json.loads((HERE / ours).read_text())[task]["sim2sky"],
            json.loads((HERE / theirs).read_text())[task]["sbi"])


def row(task: str) -> dict:
    a, b = load(task)
    ca, cb = np.array(a["c2st_per_obs"]), np.array(b["c2st_per_obs"])
    return {"task": task, "n_obs": len(ca), "c2st": (ca.mean(), ca.std()), "c2st_sbi": (cb.mean(), cb.std()),
            "better_on": int((ca <= cb).sum()), "train": (a["train_s"], b["train_s"]),
            "train_ratio": a["train_s"] / b["train_s"], "sample": (a["sample_s"], b["sample_s"]),
            "speed_up": b["sample_s"] / a["sample_s"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    rows = [row(t) for t in SOURCES]
    print("| task | C2ST sim2sky | C2ST sbi | sim2sky <= sbi on | C2ST target | train s sim2sky / sbi | train ratio "
          "(target <= 0.5) | sampling s sim2sky / sbi | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        (ma, sa), (mb, sb) = r["c2st"], r["c2st_sbi"]
        c2st_ok = "met" if ma <= mb else f"+{ma - mb:.4f}"
        train_ok = f"**{r['train_ratio']:.2f}**" if r["train_ratio"] <= 0.5 else f"{r['train_ratio']:.2f}"
        print(f"| {r['task']} | {ma:.3f} ± {sa:.3f} | {mb:.3f} ± {sb:.3f} | {r['better_on']} of {r['n_obs']} | {c2st_ok} | "
              f"{r['train'][0]:.1f} / {r['train'][1]:.1f} | {train_ok} | {r['sample'][0]:.1f} / {r['sample'][1]:.1f} | "
              f"{r['speed_up']:.1f}x |")


if __name__ == "__main__":
    main()
