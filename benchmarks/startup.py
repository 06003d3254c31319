"""What a cold command costs before it does any work (issue 35): the start-up floor, measured.

Each line is a fresh Python process (best of ``--repeats``, wall time, 2-core machine): the
interpreter alone, the scientific stack the product needs (numpy, scipy, astropy's tables, FITS
and WCS), torch alone, the CLI's own import (no torch), ``sim2sky --help``, and a 10-row
``sim2sky nebulae predict`` (a line table in, classes and posterior summaries out: the smallest
real job). The difference between the last and the imports it needs is the work; the imports
are the floor no code of ours can lower while the models run on torch.

    python benchmarks/startup.py --out benchmarks/results_startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cold import SIM2SKY
from sim2sky.core.atomic import write_text

PY = sys.executable
STACK = "import numpy, scipy.sparse, scipy.interpolate, astropy.units, astropy.table, astropy.io.fits, astropy.wcs"


def _best(cmd, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "lines.ecsv"
        subprocess.run([SIM2SKY, "nebulae", "simulate", "--n", "10", "--out", str(lines)], check=True,
                       capture_output=True)
        steps = [
            ("python (no imports)", [PY, "-c", "pass"]),
            ("numpy + scipy + astropy (tables, FITS, WCS)", [PY, "-c", STACK]),
            ("torch alone", [PY, "-c", "import torch"]),
            ("scientific stack + torch", [PY, "-c", STACK + ", torch"]),
            ("sim2sky CLI import (no torch)", [PY, "-c", "import sim2sky.cli"]),
            ("sim2sky --help", [SIM2SKY, "--help"]),
            ("sim2sky nebulae predict, 10 rows", [SIM2SKY, "nebulae", "predict", str(lines), "--out",
                                                   str(Path(tmp) / "out.csv")]),
        ]
        res = {"machine": {"cpus": os.cpu_count()}, "repeats": args.repeats, "seconds": {}}
        for name, cmd in steps:
            res["seconds"][name] = _best(cmd, args.repeats)
            print(f"{name:48s} {res['seconds'][name]:.2f} s", flush=True)
    s = res["seconds"]
    res["nebulae_work_s"] = s["sim2sky nebulae predict, 10 rows"] - s["scientific stack + torch"]
    print(f"10-row classification beyond the imports it needs: {res['nebulae_work_s']:+.2f} s (below ~0.1 s: "
          f"within the run-to-run spread)")
    if args.out:
        write_text(args.out, json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
