"""Transit search per Kepler quarter, and transit vetting end to end and cold (issue 35).

Search (in process, one core): ``--n-search`` simulated Kepler quarters (planet, EB, BEB and
systematic cycled; seeds ``[2, k]``, apart from the quarters the coarse-to-fine settings were
tuned on) searched twice on the same detrended, binned curve:

* peer: astropy ``BoxLeastSquares`` on every period of every grid at its default phase step
  (``search_tce(..., exhaustive=True)``, the search before this change);
* ours: coarse to fine (``search_tce``'s default).

Reported: seconds per quarter, the speed-up, the recall of each injected scenario (a TCE credited
to it by ``tce_label``: right period, or for binaries half or twice it, epoch on a true eclipse),
the TCE rate on the systematic quarters, and how often both find the same TCE period (0.5%).

End to end: ``sim2sky transits predict FILE --out OUT.csv`` on long tables of ``--sizes``
simulated quarters, a fresh process per run under ``/usr/bin/time -v`` (wall, user CPU, peak RSS),
with ``--n-jobs 1`` and the default (every core), and a cProfile breakdown (main process):
start-up, read, search and views (worker time shows here as wall time), vetting network, write.
``--before SRC`` first times the same command with another source tree on ``PYTHONPATH`` (the
code before this change, e.g. a ``git worktree`` of the previous commit) with 1 and 2 processes.

    python benchmarks/speed_transits.py --out benchmarks/results_speed_transits.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from _cold import jobs_row
from sim2sky.cases.transits import SCENARIOS, search_tce, simulate_scenario, tce_label
from sim2sky.cases.transits.api import simulate_transits_file
from sim2sky.core.atomic import write_text

BUCKETS = [  # (label, function name, file suffix): cumulative time of each
    ("read", "read_flux_table", "transits/api.py"),
    ("search and views", "_searched", "transits/pipeline.py"),
    ("network", "predict_all", "learn/classifier.py"),
    ("write", "write_table", "core/tables.py"),
]
COMMAND = ("vet_lightcurves_file", "transits/api.py")


def search_comparison(n: int, seed: int = 2) -> dict:
    """Seconds per quarter and recall: exhaustive astropy BLS vs coarse to fine, same quarters."""
    sims = [(SCENARIOS[k % 4], simulate_scenario(SCENARIOS[k % 4], np.random.default_rng([seed, k])))
            for k in range(n)]
    found, seconds = {}, {}
    for name, exhaustive in (("astropy BLS, every period", True), ("ours, coarse to fine", False)):
        t0 = time.perf_counter()
        found[name] = [search_tce(s["t"], s["flux"], s["err"], exhaustive=exhaustive) for _, s in sims]
        seconds[name] = (time.perf_counter() - t0) / n
    out = {"n_quarters": n, "seed": seed, "methods": {}}
    for name, tces in found.items():
        labels = [tce_label(sc, s["truth"], tce) if tce else "none" for (sc, s), tce in zip(sims, tces)]
        recall = {sc: float(np.mean([lab == sc for (s, _), lab in zip(sims, labels) if s == sc]))
                  for sc in SCENARIOS if sc != "systematic"}
        tce_rate = float(np.mean([tce is not None for (sc, _), tce in zip(sims, tces) if sc == "systematic"]))
        out["methods"][name] = {"s_per_quarter": seconds[name], "recall": recall, "tce_rate_systematic": tce_rate}
    a, b = found.values()
    same = [(x is None) == (y is None) and (x is None or abs(x["period"] / y["period"] - 1) < 0.005)
            for x, y in zip(a, b)]
    out["same_tce_period"] = float(np.mean(same))
    out["speedup"] = seconds["astropy BLS, every period"] / seconds["ours, coarse to fine"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-search", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/speed_transits"))
    ap.add_argument("--before", type=Path, default=None, help="source tree (its src/) of the code before")
    ap.add_argument("--before-sizes", type=int, nargs="+", default=[50])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res = {"settings": {"n_search": args.n_search, "sizes": args.sizes, "repeats": args.repeats},
           "machine": {"cpus": os.cpu_count()}, "runs": [], "before": []}

    def save():
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))

    if args.n_search:
        res["search"] = s = search_comparison(args.n_search)
        for name, m in s["methods"].items():
            rec = ", ".join(f"{k} {v:.2f}" for k, v in m["recall"].items())
            print(f"{name:28s} {m['s_per_quarter']:.3f} s per quarter; recall {rec}; TCEs on systematic quarters "
                  f"{m['tce_rate_systematic']:.2f}", flush=True)
        print(f"speed-up {s['speedup']:.1f}x, same TCE period on {s['same_tce_period']:.1%} of {s['n_quarters']}")
        save()
    args.cache.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        path = args.cache / f"kepler_{n}.fits"
        if not path.exists():
            simulate_transits_file(path, n, seed=5)
        if args.before and n in args.before_sizes:
            env = {**os.environ, "PYTHONPATH": str(args.before / "src")}
            for jobs in (1, 2):
                row = jobs_row("transits", path, n, jobs, 1, args.cache, BUCKETS, COMMAND, env=env)
                res["before"].append(row)
                print(f"before: {n:>5} quarters, --n-jobs {jobs}: {row['wall_s']:.1f} s ({row['wall_s'] / n:.2f} s "
                      f"per quarter), RSS {row['rss_gb']:.2f} GB", flush=True)
                save()
        for jobs in (0, 1):
            row = jobs_row("transits", path, n, jobs, args.repeats, args.cache, BUCKETS, COMMAND,
                           profile=(jobs == 0 and n == args.sizes[-1]))
            res["runs"].append(row)
            parts = ", ".join(f"{k} {v:.1f}" for k, v in row.get("breakdown", {}).get("seconds", {}).items())
            print(f"{n:>5} quarters, --n-jobs {jobs}: {row['wall_s']:.1f} s ({row['wall_s'] / n:.2f} s per quarter), "
                  f"user {row['user_s']:.1f} s, RSS {row['rss_gb']:.2f} GB{'; ' + parts if parts else ''}", flush=True)
            save()
    save()


if __name__ == "__main__":
    main()
