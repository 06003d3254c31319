"""Cube classification end to end and cold, as a user runs the CLI (issue 35), with a time breakdown.

Mock MUSE cubes (``sim2sky cube simulate``, 3,681 channels; 80 x 80 like the demo and 300 x 300 =
90,000 spaxels, 3 GB) are written once into ``--cache``; then ``sim2sky cube classify CUBE --out
DIR`` (maps, parameters, nebula catalogue and the HTML report: the default) runs in a fresh
process under ``/usr/bin/time -v``, best of ``--repeats``. ``--before SRC`` times the same
commands with another source tree first on ``PYTHONPATH`` (the code before this change).

The breakdown is one more run under cProfile: start-up (imports, CLI), the dask blocks (read,
line measurement, classifier, HII posteriors), the maps and catalogue, the report figures.
The classical peer (per-spaxel scipy Gaussian fits, 85 ms per spectrum) is in
``benchmarks/cube_throughput.py``.

    python benchmarks/speed_cube.py --out benchmarks/results_speed_cube.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from _cold import SIM2SKY, breakdown, timed
from sim2sky.core.atomic import write_text

BUCKETS = [
    ("blocks (read, lines, classifier, posteriors)", "run_blocks", "apply/blocks.py"),
    ("maps and catalogue", "write_products", "nebulae/products.py"),
    ("report figures", "write_report", "nebulae/report.py"),
]
COMMAND = ("classify_cube", "nebulae/cube.py")


def run(cube: Path, out: Path, repeats: int, env=None) -> dict:
    runs = []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(timed([SIM2SKY, "cube", "classify", str(cube), "--out", str(out)], env))
    best = min(runs, key=lambda r: r["wall_s"])
    return {"runs": runs, "wall_s": best["wall_s"], "rss_gb": max(r["rss_gb"] for r in runs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[80, 300])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--before", type=Path, default=None, help="source tree (its src/) of the code before")
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/speed_cube"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    res = {"settings": {"sizes": args.sizes, "repeats": args.repeats, "channels": 3681, "report": True},
           "machine": {"cpus": os.cpu_count()}, "runs": []}
    for size in args.sizes:
        cube = args.cache / f"mock_{size}.fits"
        if not cube.exists():
            subprocess.run([SIM2SKY, "cube", "simulate", "--out", str(cube), "--size", str(size), str(size),
                            "--seed", "1"], check=True, capture_output=True)
        n = size * size
        row = {"size": size, "spectra": n, **run(cube, args.cache / "run", args.repeats)}
        row["per_s"] = n / row["wall_s"]
        if args.before:
            env = {**os.environ, "PYTHONPATH": str(args.before / "src")}
            row["before"] = run(cube, args.cache / "run_before", args.repeats, env)
        shutil.rmtree(args.cache / "run", ignore_errors=True)
        row["breakdown"] = breakdown([SIM2SKY, "cube", "classify", str(cube), "--out", str(args.cache / "run")],
                                     args.cache / "cube.prof", row["wall_s"], BUCKETS, COMMAND,
                                     nested=[("maps and catalogue", "report figures")])
        res["runs"].append(row)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in row["breakdown"]["seconds"].items())
        before = f" (before: {row['before']['wall_s']:.2f} s)" if "before" in row else ""
        print(f"{size}x{size} ({n:,} spectra): {row['wall_s']:.2f} s{before}, {row['per_s']:,.0f} spectra/s, "
              f"RSS {row['rss_gb']:.2f} GB; {parts}", flush=True)
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
