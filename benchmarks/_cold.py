"""Cold CLI timing shared by the speed benchmarks: one fresh process per run, and a cProfile breakdown.

:func:`timed` runs a command under ``/usr/bin/time -v`` (wall, user CPU, peak RSS);
:func:`breakdown` runs it once more under cProfile and splits the wall time into named terms
(cumulative time of given functions), scaled to the unprofiled wall time; :func:`jobs_row` is
one size of a ``sim2sky CASE predict FILE --n-jobs N`` benchmark.
"""

from __future__ import annotations

import pstats
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["SIM2SKY", "timed", "breakdown", "jobs_row"]

SIM2SKY = str(Path(sys.executable).with_name("sim2sky"))


def timed(cmd, env=None) -> dict:
    """``{wall_s, user_s, rss_gb}`` of one cold run of ``cmd`` (a list); exits naming the failure."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    field = {l.split(":")[0].strip(): l.split(":")[-1].strip() for l in proc.stderr.splitlines() if ":" in l}
    return {"wall_s": wall, "user_s": float(field.get("User time (seconds)", "nan")),
            "rss_gb": int(field.get("Maximum resident set size (kbytes)", "0")) / 1e6}


def breakdown(cmd, prof: Path, wall: float, buckets, command: tuple[str, str], nested=()) -> dict:
    """Seconds per term of ``cmd`` (``[SIM2SKY, ...]``), from one cProfile run scaled to ``wall``.

    ``buckets``: (label, function name, file suffix) whose cumulative times are the terms;
    ``command``: (function name, file suffix) of the API call, so that start-up is the profiled
    wall minus it and minus "model load" when that bucket exists; ``nested``: (outer, inner)
    labels where the inner term is inside the outer and is subtracted from it.
    """
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), SIM2SKY, *cmd[1:]], check=True,
                   capture_output=True)
    profiled = time.perf_counter() - t
    stats = pstats.Stats(str(prof)).stats

    def cumulative(name, suffix):
        return sum(v[3] for (file, _, fn), v in stats.items() if fn == name and file.endswith(suffix))

    cum = {label: cumulative(name, suffix) for label, name, suffix in buckets}
    for outer, inner in nested:
        cum[outer] = max(cum[outer] - cum[inner], 0.0)
    total = cumulative(*command)
    cum["start-up (imports, CLI)"] = max(profiled - total - cum.get("model load", 0.0), 0.0)
    cum["other"] = max(total - sum(v for k, v in cum.items() if k not in ("model load", "start-up (imports, CLI)")),
                       0.0)
    scale = wall / profiled
    return {"profiled_wall_s": profiled, "seconds": {k: v * scale for k, v in cum.items()}}


def jobs_row(case: str, path, n: int, jobs: int, repeats: int, cache: Path, buckets, command, env=None,
             profile: bool = False) -> dict:
    """Best of ``repeats`` cold runs of ``sim2sky CASE predict PATH --out CACHE/out.csv --n-jobs JOBS``
    on ``n`` objects: wall, objects/s, user CPU, peak RSS, and the :func:`breakdown` if ``profile``."""
    cmd = [SIM2SKY, case, "predict", str(path), "--out", str(cache / "out.csv"), "--n-jobs", str(jobs)]
    runs = [timed(cmd, env) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["wall_s"])
    row = {"n": n, "n_jobs": jobs, "runs": runs, "wall_s": best["wall_s"], "per_s": n / best["wall_s"],
           "user_s": best["user_s"], "rss_gb": max(r["rss_gb"] for r in runs)}
    if profile:
        row["breakdown"] = breakdown(cmd, cache / f"{case}.prof", best["wall_s"], buckets, command)
    return row
