"""Cold, end-to-end speed of the main commands as Markdown, from the speed result files.

Reads ``results_speed_spectra.json`` (benchmarks/speed_spectra.py), ``results_speed_cube.json``
(benchmarks/speed_cube.py), ``results_speed_lightcurves.json`` (benchmarks/speed_lightcurves.py),
``results_speed_transits.json`` (benchmarks/speed_transits.py), ``results_radio_throughput.json``
(benchmarks/radio_throughput.py, for the growth table) and ``results_startup.json``
(benchmarks/startup.py): one row per run, with
its conditions (size, cores, cold CLI), the throughput, peak memory, the largest terms of the
time breakdown and the same-run peer. Used by the benchmarks page.

    python benchmarks/speed_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def _terms(row, k=3) -> str:
    seconds = row.get("breakdown", {}).get("seconds", {})
    top = sorted(seconds.items(), key=lambda kv: -kv[1])[:k]
    return "; ".join(f"{name} {v:.1f} s" for name, v in top)


def _row(command: str, what: str, row) -> str:
    return (f"| `{command}` | {what} | {row['wall_s']:.1f} | {row['per_s']:,.0f} | {row['rss_gb']:.2f} | "
            f"{_terms(row)} |")


def _before(command: str, objects: str, results) -> list[str]:
    """Notes on the runs of the code before the change (``results["before"]``)."""
    return [f"{command} before this change: {row['n']:,} {objects}, {row['n_jobs']} process(es), {row['wall_s']:.1f} s "
            f"({row['per_s']:,.1f}/s)." for row in results.get("before", [])]


def _span(values) -> str:
    return f"{min(values):.1f}-{max(values):.1f} s"


def _spectra(row) -> str:
    grid = "model grid" if row["grid"] == "model" else "SDSS-like 4,000-px grid, resampled"
    return f"{row['n']:,} spectra ({grid}), {'with' if row['z_posterior'] else 'without'} z posterior"


def _jobs(row) -> str:
    return "all cores" if row["n_jobs"] == 0 else f"{row['n_jobs']} process"


def _curves(row) -> str:
    return f"{row['n']:,} EROS-1 curves (period search included), {_jobs(row)}"


def _quarters(row) -> str:
    return f"{row['n']:,} simulated Kepler quarters (BLS search, views, vetting), {_jobs(row)}"


def _cube(row) -> str:
    return f"{row['size']} x {row['size']} x 3,681 mock MUSE cube ({row['spectra']:,} spaxels), maps + report"


def _growth_rows(label: str, runs) -> list[str]:
    """Marginal cost per object between consecutive sizes (seconds per object of the extra objects)
    and peak RSS: a linear pipeline keeps the first column flat and the memory bounded."""
    runs = sorted(runs, key=lambda r: r[0])
    out = []
    for (n0, w0, _), (n1, w1, m1) in zip(runs, runs[1:]):
        out.append(f"| {label} | {n0:,} -> {n1:,} | {(w1 - w0) / (n1 - n0) * 1e3:.3f} | {m1:.2f} |")
    return out


def growth() -> list[str]:
    """How time and memory grow with the number of objects, from the runs of the results files."""
    rows = []
    spectra = HERE / "results_speed_spectra.json"
    if spectra.exists():
        runs = [r for r in json.loads(spectra.read_text())["runs"] if r["grid"] == "model" and r["n"] >= 10_000]
        for z in (True, False):
            rows += _growth_rows(f"spectra predict, {'with' if z else 'without'} z posterior",
                                 [(r["n"], r["wall_s"], r["rss_gb"]) for r in runs if r["z_posterior"] == z])
    curves = HERE / "results_speed_lightcurves.json"
    if curves.exists():
        runs = [r for r in json.loads(curves.read_text())["runs"] if r["n_jobs"] == 0 and r["n"] >= 10_000]
        rows += _growth_rows("lightcurves predict (period search), all cores",
                             [(r["n"], r["wall_s"], r["rss_gb"]) for r in runs])
    radio = HERE / "results_radio_throughput.json"
    if radio.exists():
        runs = [r for r in json.loads(radio.read_text())["runs"] if r["n"] >= 10_000]
        rows += _growth_rows("radio predict", [(r["n"], r["cli"]["wall_s"], r["cli"]["rss_mb"] / 1024) for r in runs])
    if not rows:
        return []
    return ["", "Growth with size (same result files): the cost of the extra objects between two sizes, per "
            "object, and the peak RSS at the larger size. Flat milliseconds mean the cost is linear; the memory "
            "does not grow because inputs are read and outputs written in chunks (the sizes of one command can come "
            "from different sessions: the light curves' 10^6 run is later than the others; see the files' notes).", "",
            "| command | objects | ms per extra object | peak RSS GB at the larger size |", "|---|---|---|---|", *rows]


def table() -> str:
    lines = ["Cold: a fresh `sim2sky` process per run, as a user runs it, on a 2-core machine (best of the "
             "repeats; wall time includes start-up, reading and writing).", "",
             "| command | input | wall s | objects/s | peak RSS GB | largest terms |", "|---|---|---|---|---|---|"]
    notes = []
    spectra = HERE / "results_speed_spectra.json"
    if spectra.exists():
        r = json.loads(spectra.read_text())
        lines += [_row("spectra predict", _spectra(row), row) for row in r["runs"]]
        if "redrock" in r:
            notes.append(f"redrock 0.21 (same run, 2 processes): {r['redrock']['seconds_per_spectrum']:.2f} s per "
                         f"spectrum; `spectra predict` end to end with the redshift posterior is "
                         f"{r['ratio_vs_redrock']:,.0f}x faster.")
        prev = r.get("previous_commit")
        if prev:
            notes += [f"`spectra predict` with the previous commit's code ({prev['commit']}) alternated with this code, "
                      f"same file and machine, with the z posterior: {prev['n']:,} spectra on the {grid} "
                      f"{_span(before)} against {_span(now)}." for grid, before, now in prev["runs"]]
        mem = r.get("output_in_memory_1e6")
        if mem:
            notes.append(f"10^6 spectra with the output joined in memory (commit {mem['commit']}, same file and "
                         f"machine): {mem['z_posterior_on']['wall_s']:.1f} s at {mem['z_posterior_on']['rss_gb']:.2f} GB "
                         f"with the z posterior, {mem['z_posterior_off']['wall_s']:.1f} s at "
                         f"{mem['z_posterior_off']['rss_gb']:.2f} GB without; the output is now streamed.")
        bf = r.get("precision_bfloat16")
        if bf:
            notes.append(f"`sim2sky --precision bfloat16 spectra predict`, {bf['n']:,} spectra with the z posterior: "
                         f"{min(bf['bfloat16_wall_s']):.1f} s vs {min(bf['float32_wall_s']):.1f} s in float32 (this "
                         f"CPU has bfloat16 instructions).")
        if r.get("help"):
            notes.append(f"`sim2sky --help`: {min(r['help']):.2f} s.")
    cube = HERE / "results_speed_cube.json"
    if cube.exists():
        r = json.loads(cube.read_text())
        lines += [_row("cube classify", _cube(row), row) for row in r["runs"]]
        alt = r.get("alternated_300")
        if alt:
            notes.append(f"`cube classify` 300 x 300 with the previous commit's code ({alt['commit_before']}) alternated "
                         f"with this code, {len(alt['this_code_wall_s'])} runs each: {_span(alt['previous_wall_s'])} against "
                         f"{_span(alt['this_code_wall_s'])}.")
        for row in r["runs"]:
            if "before" in row:
                notes.append(f"`cube classify` {row['size']} x {row['size']} with the previous commit's code: "
                             f"{row['before']['wall_s']:.1f} s.")
    curves = HERE / "results_speed_lightcurves.json"
    if curves.exists():
        r = json.loads(curves.read_text())
        lines += [_row("lightcurves predict", _curves(row), row) for row in r["runs"]]
        notes += _before("light curves", "curves", r)
        p = r.get("peer")
        if p:
            notes.append(f"period search per EROS-1 curve (90,000 frequencies): ours {p['ours_s_per_curve'] * 1e3:.1f} ms, "
                         f"astropy `LombScargle` on the same grid {p['astropy_s_per_curve'] * 1e3:.1f} ms "
                         f"({p['speedup']:.0f}x); the same period within 1% on {p['same_period_1pct']:.0%} of "
                         f"{p['n']} curves.")
        f = r.get("floor")
        if f:
            notes.append(f"light-curve floor, one core, {f['n']} EROS-1 curves: features {f['features_s_per_curve'] * 1e3:.2f} "
                         f"ms per curve, of which the period search's three NUFFTs {f['transforms_s_per_curve'] * 1e3:.2f} "
                         f"ms: at most {f['max_per_s_transforms_only']:,.0f} curves/s on {f['cores']} cores from the "
                         f"transforms alone, {f['max_per_s_features']:,.0f}/s with the features, before start-up, "
                         f"reading and writing.")
    transits = HERE / "results_speed_transits.json"
    if transits.exists():
        r = json.loads(transits.read_text())
        lines += [_row("transits predict", _quarters(row), row) for row in r["runs"]]
        notes += _before("transits", "quarters", r)
        s = r.get("search")
        if s:
            (peer, a), (ours, b) = s["methods"].items()
            recall = "; ".join(f"{k} {a['recall'][k]:.2f} vs {b['recall'][k]:.2f}" for k in a["recall"])
            notes.append(f"transit search per Kepler quarter, one core ({s['n_quarters']} simulated quarters): {ours} "
                         f"{b['s_per_quarter']:.2f} s, {peer} {a['s_per_quarter']:.2f} s ({s['speedup']:.1f}x); "
                         f"recall {recall}; the same TCE period on {s['same_tce_period']:.1%}.")
    floor = growth()
    startup = HERE / "results_startup.json"
    if startup.exists():
        r = json.loads(startup.read_text())
        floor += ["", f"Start-up floor (`benchmarks/startup.py`): a fresh process each, best of {r['repeats']}, "
                  f"{r['machine']['cpus']} cores.", "", "| process | wall s |", "|---|---|"]
        floor += [f"| {name} | {sec:.2f} |" for name, sec in r["seconds"].items()]
        work = r["nebulae_work_s"]
        floor += ["", f"A 10-row `nebulae predict` spends {work:.2f} s beyond the imports it needs (the scientific "
                      f"stack and torch)." if work >= 0.05 else
                  f"A 10-row `nebulae predict` takes no longer than importing the scientific stack and torch in a "
                  f"bare process ({work:+.2f} s: that process imports modules the command does not need, and "
                  f"single runs vary by ~0.1 s): its classification, posterior and writing are below this "
                  f"measurement's resolution."]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes] + floor)


if __name__ == "__main__":
    print(table())
