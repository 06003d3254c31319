"""Light-curve classification end to end and cold, as a user runs the CLI (issue 35), with a time breakdown.

For each size, a long FITS table of simulated EROS-1 light curves (120 epochs each, the seven
classes cycled) is written once (cached in ``--cache``), then ``sim2sky lightcurves predict FILE
--out OUT.csv`` runs in a fresh process under ``/usr/bin/time -v`` (wall, user CPU, peak RSS)
with the default ``--n-jobs 0`` (every core) and with ``--n-jobs 1``. The period search is
part of every run: a generalised Lomb-Scargle periodogram on 90,000 frequencies per curve.

The breakdown comes from one more run under cProfile (the main process; worker time shows as the
wall time of the feature term): start-up, read (``read_long_table``), period search and features
(``features_table``), network (``predict_all``), calibration columns and write.

``--before SRC`` times the same commands with another source tree first on ``PYTHONPATH`` (the
code before this change, e.g. a ``git worktree`` of the previous commit), sizes ``--before-sizes``.

Floor: on the peer's curves, in process and on one core, the seconds per curve of the features
(period search included) and of their three NUFFTs alone (two of the 90,000-frequency grid, one at
twice the frequencies): the transforms bound the throughput at ``cores / seconds`` whatever the
rest of the pipeline does.

Peer, same run: astropy's ``LombScargle`` (``method="fast"``, the Press & Rybicki extirpolation;
its default) on the same frequency grid, and our in-process period search, seconds per curve
on ``--n-peer`` curves.

    python benchmarks/speed_lightcurves.py --out benchmarks/results_speed_lightcurves.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import _data  # noqa: F401  (the shared data mirror)
from _cold import jobs_row
from sim2sky.cases.variables import lcfeatures
from sim2sky.cases.variables.lcapi import lightcurve_table
from sim2sky.cases.variables.lcfeatures import best_period, check_lightcurve, frequency_grid, lightcurve_features
from sim2sky.core.atomic import write_text
from sim2sky.core.tables import write_table
from sim2sky.core.tablestream import TableStream

BUCKETS = [  # (label, function name, file suffix): cumulative time of each
    ("read", "read_long_table", "core/tables.py"),
    ("period search and features", "features_table", "variables/lcfeatures.py"),
    ("network", "predict_all", "learn/classifier.py"),
    ("calibration columns", "apply_columns", "variables/calibration.py"),
    ("write", "write_table", "core/tables.py"),
]
COMMAND = ("classify_lightcurves_file", "variables/lcapi.py")


#: curves simulated per part of a large file, streamed to disk (10^6 curves in one table ran out of
#: the machine's 24 GB)
PART = 100_000


def write_curves(path: Path, n: int, seed: int = 700) -> None:
    """n simulated EROS-1 light curves as a long FITS table (id, t, mag, err, class, period); above
    ``PART`` curves, parts of ``PART`` with seeds seed, seed + 1, ... and ids ``p<part>_sim<k>``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if n <= PART:
        write_table(lightcurve_table(n, "eros1", seed), path)
        return
    with TableStream(path, units={"t": "d", "mag": "mag", "err": "mag", "period": "d"}) as stream:
        for k, start in enumerate(range(0, n, PART)):
            tab = lightcurve_table(min(PART, n - start), "eros1", seed + k)
            columns = {c: np.asarray(getattr(tab[c], "value", tab[c])) for c in tab.colnames}
            columns["id"] = np.char.add(f"p{k}_", columns["id"])
            stream.append(columns)
            print(f"  simulated {min(n, start + PART):,} of {n:,} curves", flush=True)


def peer(path: Path, n: int) -> dict:
    """Seconds per curve: astropy LombScargle on our grid vs our period search, same curves."""
    from astropy.timeseries import LombScargle

    curves = _curves(path, n)
    out = {"n": len(curves)}
    t0 = time.perf_counter()
    ours = [best_period(*c)[0] for c in curves]
    out["ours_s_per_curve"] = (time.perf_counter() - t0) / len(curves)
    t0 = time.perf_counter()
    theirs = []
    for t, m, e in curves:
        df, n_freq, _ = frequency_grid(t)
        freq = df * np.arange(1, n_freq + 1)
        power = LombScargle(t, m, e).power(freq, method="fast")
        theirs.append(1.0 / freq[int(np.argmax(power))])
    out["astropy_s_per_curve"] = (time.perf_counter() - t0) / len(curves)
    out["same_period_1pct"] = float(np.mean(np.abs(np.array(ours) / np.array(theirs) - 1) < 0.01))
    out["speedup"] = out["astropy_s_per_curve"] / out["ours_s_per_curve"]
    return out


def _curves(path: Path, n: int) -> list:
    from astropy.table import Table

    tab = Table.read(path)
    ids = list(dict.fromkeys(np.asarray(tab["id"])))[:n]
    return [check_lightcurve(*(np.asarray(tab[c][np.asarray(tab["id"]) == i]) for c in ("t", "mag", "err")))
            for i in ids]


def floor(path: Path, n: int) -> dict:
    """Seconds per curve on one core: all features, and the period search's transforms alone."""
    from threadpoolctl import threadpool_limits

    curves = _curves(path, n)
    spent = [0.0]
    nufft = lcfeatures._nufft

    def timed_nufft(*a):
        t = time.perf_counter()
        out = nufft(*a)
        spent[0] += time.perf_counter() - t
        return out

    with threadpool_limits(1):
        lightcurve_features(*curves[0])                       # plans built (once per process)
        best = None
        for _ in range(3):                                    # best of three passes (noisy machine)
            spent[0] = 0.0
            lcfeatures._nufft = timed_nufft
            try:
                t0 = time.perf_counter()
                for c in curves:
                    lightcurve_features(*c)
                total = time.perf_counter() - t0
            finally:
                lcfeatures._nufft = nufft
            if best is None or total < best[0]:
                best = (total, spent[0])
    cores = os.cpu_count()
    out = {"n": len(curves), "cores": cores, "features_s_per_curve": best[0] / len(curves),
           "transforms_s_per_curve": best[1] / len(curves)}
    out["max_per_s_transforms_only"] = cores / out["transforms_s_per_curve"]
    out["max_per_s_features"] = cores / out["features_s_per_curve"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[700, 10_000, 30_000])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--before", type=Path, default=None, help="source tree (its src/) of the code before")
    ap.add_argument("--before-sizes", type=int, nargs="+", default=[700, 10_000])
    ap.add_argument("--n-peer", type=int, default=50)
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/speed_lc"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--append", action="store_true", help="add these runs to the results already in --out")
    ap.add_argument("--floor-only", action="store_true", help="only the floor and the peer, into the results in --out")
    args = ap.parse_args()
    res = {"settings": {"sizes": args.sizes, "repeats": args.repeats, "survey": "eros1", "epochs_per_curve": 120},
           "machine": {"cpus": os.cpu_count()}, "runs": [], "before": []}
    if (args.append or args.floor_only) and args.out and args.out.exists():
        res = json.loads(args.out.read_text())
        res["settings"]["sizes"] = sorted(set(res["settings"]["sizes"]) | set(args.sizes))

    def save():
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))

    paths = {}
    for n in sorted(set(args.sizes) | set(args.before_sizes if args.before else [])):
        paths[n] = args.cache / f"eros1_{n}.fits"
        if not paths[n].exists():
            write_curves(paths[n], n)
    if args.before:
        env = {**os.environ, "PYTHONPATH": str(args.before / "src")}
        for n in args.before_sizes:
            for jobs in (1, 2):
                row = jobs_row("lightcurves", paths[n], n, jobs, 1, args.cache, BUCKETS, COMMAND, env)
                res["before"].append(row)
                print(f"before: {n:>7,} curves, {jobs} process(es): {row['wall_s']:.1f} s ({row['per_s']:,.0f}/s), "
                      f"RSS {row['rss_gb']:.2f} GB", flush=True)
                save()
    for n in [] if args.floor_only else args.sizes:
        for jobs in (0, 1):
            big = n > 10_000
            if big and jobs == 1:
                continue                                   # minutes; the two-process figure is the product's
            res["runs"] = [r for r in res["runs"] if (r["n"], r["n_jobs"]) != (n, jobs)]     # --append: replace
            row = jobs_row("lightcurves", paths[n], n, jobs, 1 if big else args.repeats, args.cache, BUCKETS, COMMAND,
                           profile=(not args.append and jobs == 0 and n == args.sizes[min(1, len(args.sizes) - 1)]))
            res["runs"].append(row)
            parts = ", ".join(f"{k} {v:.1f}" for k, v in row.get("breakdown", {}).get("seconds", {}).items())
            print(f"{n:>7,} curves, --n-jobs {jobs}: {row['wall_s']:.1f} s ({row['per_s']:,.0f}/s), user "
                  f"{row['user_s']:.1f} s, RSS {row['rss_gb']:.2f} GB{'; ' + parts if parts else ''}", flush=True)
            save()
    if args.n_peer and not args.append:
        res["peer"] = peer(paths[args.sizes[0]], args.n_peer)
        p = res["peer"]
        print(f"period search per curve: ours {p['ours_s_per_curve'] * 1e3:.1f} ms, astropy LombScargle "
              f"{p['astropy_s_per_curve'] * 1e3:.1f} ms ({p['speedup']:.0f}x), same period (1%) on "
              f"{p['same_period_1pct']:.0%}")
        res["floor"] = f = floor(paths[args.sizes[0]], args.n_peer * 4)
        print(f"floor, one core: features {f['features_s_per_curve'] * 1e3:.2f} ms per curve, of which the three "
              f"NUFFTs {f['transforms_s_per_curve'] * 1e3:.2f} ms: at most {f['max_per_s_transforms_only']:,.0f} "
              f"curves/s on {f['cores']} cores from the transforms alone, {f['max_per_s_features']:,.0f}/s with "
              f"the features (before start-up, reading and writing)")
    save()


if __name__ == "__main__":
    main()
