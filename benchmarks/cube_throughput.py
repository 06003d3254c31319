"""Cube throughput benchmark: end-to-end spectra/s and peak RSS vs per-spaxel Gaussian fitting.

Makes a MUSE-format mock cube (default 300 x 300 x 3681 = 90,000 spaxels, 2.7 GB on disk) on
the fly, runs ``cube classify`` on it (read FITS -> line measurement -> classifier -> HII
posterior -> maps, catalogue, report) while sampling the resident memory of the process tree,
and in the same run times the classical peer — a scipy least-squares fit of Gaussians to the
Hα+[NII] and [SII] complexes and Hβ/[OIII], spaxel by spaxel — on a subsample, extrapolated.

Usage: python benchmarks/cube_throughput.py [--size 300] [--peer-spectra 200] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_tree() -> int:
    import psutil

    p = psutil.Process()
    total = p.memory_info().rss
    for c in p.children(recursive=True):
        try:
            total += c.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakRSS:
    def __init__(self, every=0.05):
        self.every, self.peak, self._stop = every, 0, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_tree())
            time.sleep(self.every)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def gaussian_fit_peer(cube: Path, n: int, z: float, seed: int = 0) -> float:
    """Seconds per spectrum of a per-spaxel scipy least-squares fit of the main line complexes."""
    from astropy.io import fits
    from scipy.optimize import least_squares

    from sim2sky.apply import open_cube

    spec = open_cube(cube)
    wave = spec.wave
    rng = np.random.default_rng(seed)
    L, ny, nx = spec.shape
    pix = rng.integers(0, ny * nx, n)
    with fits.open(cube, memmap=True) as h:
        data = np.stack([np.asarray(h["DATA"].data[:, i // nx, i % nx], float) for i in pix])
        var = np.stack([np.asarray(h["STAT"].data[:, i // nx, i % nx], float) for i in pix])
    complexes = [(6530.0, 6600.0, (6548.05, 6562.80, 6583.45)), (6700.0, 6745.0, (6716.44, 6730.82)),
                 (4840.0, 4880.0, (4861.33,)), (4945.0, 5020.0, (4958.91, 5006.84))]
    t0 = time.perf_counter()
    for f, v in zip(data, var):
        for lo, hi, lines in complexes:
            m = (wave > lo * (1 + z)) & (wave < hi * (1 + z))
            w, y, s = wave[m], f[m], np.sqrt(v[m])

            def resid(p):
                model = p[-2] + p[-1] * (w - w.mean())
                for k, l0 in enumerate(lines):
                    c = l0 * (1 + z) * (1 + p[len(lines)] / 299792.458)
                    model = model + p[k] * np.exp(-0.5 * ((w - c) / p[len(lines) + 1]) ** 2)
                return (y - model) / s

            p0 = [max(y.max() - np.median(y), 1.0)] * len(lines) + [0.0, 1.5, np.median(y), 0.0]
            least_squares(resid, p0, method="trf")
    return (time.perf_counter() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=300, help="cube side in spaxels (300 -> 90,000 spectra)")
    ap.add_argument("--peer-spectra", type=int, default=200)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--workdir", default=None, help="where to put the mock cube (default: a temp folder)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    from sim2sky.cases.nebulae import classify_cube
    from sim2sky.cases.nebulae import make_mock_cube

    work = Path(args.workdir or tempfile.mkdtemp(prefix="sim2sky_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    cube = work / "mock.fits"
    t0 = time.perf_counter()
    with PeakRSS() as mk:
        make_mock_cube(cube, args.size, args.size, seed=1)
    t_make = time.perf_counter() - t0
    n = args.size**2
    print(f"mock cube {args.size}x{args.size}x3681 ({cube.stat().st_size / 1e9:.2f} GB) made in {t_make:.0f} s, peak RSS {mk.peak / 1e9:.2f} GB")
    os.sync() if hasattr(os, "sync") else None
    with PeakRSS() as mem0:
        s0 = classify_cube(cube, work / "out0", block=args.block, report=False, log=lambda *a: None)
    print(f"first run in this process (imports torch/astropy, loads the models): {s0['wall_s']:.1f} s -> "
          f"{s0['spectra_per_s']:.0f} spectra/s")
    with PeakRSS() as mem:
        s = classify_cube(cube, work / "out", block=args.block, report=False, log=lambda *a: None)
    print(f"cube classify --no-report: {n} spectra in {s['wall_s']:.1f} s (blocks {s['compute_s']:.1f} s) -> "
          f"{s['spectra_per_s']:.0f} spectra/s, peak RSS {mem.peak / 1e9:.2f} GB")
    with PeakRSS() as mem2:
        s2 = classify_cube(cube, work / "out2", block=args.block, report=True, log=lambda *a: None)
    print(f"cube classify (with report.html and figures): {s2['wall_s']:.1f} s -> {s2['spectra_per_s']:.0f} spectra/s, "
          f"peak RSS {mem2.peak / 1e9:.2f} GB; {sum(s2['nebulae'].values())} nebulae catalogued")
    per = gaussian_fit_peer(cube, args.peer_spectra, 0.005)
    peer_total = per * n
    print("\n| measure | sim2sky | per-spaxel scipy Gaussian fit (peer) | ratio |")
    print("|---|---|---|---|")
    print(f"| spectra/s, {n} spaxels, 2 cores | {s['spectra_per_s']:.0f} | {1 / per:.1f} (1 core; {per * 1e3:.1f} ms/spectrum on "
          f"{args.peer_spectra} spectra) | {s['spectra_per_s'] * per:.0f}x |")
    print(f"| wall time for the cube | {s['wall_s']:.1f} s | {peer_total:.0f} s extrapolated ({peer_total / 2:.0f} s on 2 cores) | "
          f"{peer_total / 2 / s['wall_s']:.0f}x (2 cores each) |")
    print(f"| same, with report.html + figures | {s2['spectra_per_s']:.0f} | | |")
    print(f"| same, first run of a fresh process (imports, model loading) | {s0['spectra_per_s']:.0f} | | |")
    print(f"| peak RSS (process tree) | {max(mem0.peak, mem.peak, mem2.peak) / 1e9:.2f} GB | — | target < 2 GB |")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
