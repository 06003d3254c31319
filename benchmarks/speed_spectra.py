"""Spectra classification end to end and cold, as a user runs the CLI (issue 35), with a time breakdown.

For each size, a stacked FITS file (flux and IVAR images, float32, one spectrum per row) of simulated
spectra is written once (cached in ``--cache``), then ``sim2sky spectra predict FILE --out OUT.fits``
runs in a fresh process under ``/usr/bin/time -v``: wall time, user CPU and peak RSS, with the redshift
posterior (the default) and with ``--no-z-posterior``. The files are on the model grid (the identity
resampling) except one of the same size on an SDSS-like linear grid (3,600-10,400 Å, 4,000 pixels),
which shows the resampling term.

The breakdown comes from one more run of the same command under cProfile: the cumulative time of
start-up (imports, CLI), model loading (``SpectraPipeline``), reading (``iter_spectra``), preprocessing
(``model_inputs``: resampling, scaling), the network (``CalibratedClassifier.predict_all``), the
redshift posterior split into its embedding network (``NPEEstimator.embed``, once per spectrum) and
the rest (the flow's exact quantiles and quadrature points, the interval calibration), and writing (``write_table``), as fractions of the
profiled run applied to the unprofiled wall time (the profiler slows Python-heavy parts more).

Peer, same run: the real redrock 0.21 (``_redrock_peer.py``, DESI star and QSO templates, our galaxy
PCA bases, 2 processes) on ``--n-peer`` of the same spectra, seconds per spectrum.

    python benchmarks/speed_spectra.py --out benchmarks/results_speed_spectra.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

import _data  # noqa: F401  (the shared data mirror)
from _cold import SIM2SKY, breakdown, timed
from sim2sky.cases.spectra import model_wave, simulate_spectra
from sim2sky.core.atomic import write_text

BUCKETS = [  # (label, function name, file suffix): cumulative time of each
    ("model load", "__init__", "spectra/pipeline.py"),
    ("read", "iter_spectra", "spectra/io.py"),
    ("preprocess (resample, scale)", "model_inputs", "spectra/pipeline.py"),
    ("network", "predict_all", "learn/classifier.py"),
    ("redshift posterior", "classify", "spectra/pipeline.py"),        # minus the network and embedding, below
    ("redshift posterior: embedding", "embed", "infer/estimator.py"),  # its ResNet, once per spectrum
    ("write", "write_table", "core/tables.py"),
]
COMMAND = ("classify_files", "spectra/pipeline.py")


def write_stack(path: Path, n: int, survey_grid: bool, seed: int = 900) -> None:
    """n spectra as a stacked FITS image (flux HDU 0, IVAR HDU 1) with a linear or log-linear WCS."""
    block = simulate_spectra(max(1, 4096 // 13), seed=seed)          # 4,095 spectra, repeated with fresh noise
    wave = model_wave()
    f0, iv0 = block["flux"], block["ivar"]
    if survey_grid:
        new = np.linspace(3600.0, 10400.0, 4000)
        f0 = np.stack([np.interp(new, wave, r) for r in f0]).astype(np.float32)
        iv0 = np.stack([np.interp(new, wave, r) for r in iv0]).astype(np.float32)
        h = fits.Header({"CRVAL1": 3600.0, "CDELT1": float(new[1] - new[0]), "CRPIX1": 1.0, "CUNIT1": "Angstrom",
                         "CTYPE1": "WAVE"})
    else:
        lw = np.log10(wave)
        h = fits.Header({"CRVAL1": float(lw[0]), "CDELT1": float(lw[1] - lw[0]), "CRPIX1": 1.0, "DC-FLAG": 1,
                         "CUNIT1": "Angstrom"})
    rng = np.random.default_rng(seed)

    def fluxes():
        for i in range(0, n, len(f0)):
            m = min(len(f0), n - i)
            sd = 1.0 / np.sqrt(np.maximum(iv0[:m], 1e-30))
            yield f0[:m] + 0.3 * sd * rng.standard_normal(sd.shape).astype(np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    # streamed block by block: 10^6 spectra are 8 GB
    for hdu, blocks in ((fits.PrimaryHDU(f0[:1], header=h), fluxes()),
                        (fits.ImageHDU(iv0[:1], name="IVAR"), (iv0[:min(len(iv0), n - i)] for i in range(0, n, len(iv0))))):
        hdu.header["NAXIS2"] = n
        with fits.StreamingHDU(str(tmp.resolve()), hdu.header) as out:
            for block in blocks:
                out.write(np.ascontiguousarray(block, np.float32))
    tmp.replace(path)


def redrock_peer(path: Path, n: int) -> dict:
    from _redrock_peer import RedrockPeer

    with fits.open(path) as h:
        flux, ivar = np.asarray(h[0].data[:n], float), np.asarray(h["IVAR"].data[:n], float)
    peer = RedrockPeer(np.random.default_rng(0), mp_procs=2)
    t = time.perf_counter()
    peer.fit(flux, ivar)
    return {"n": n, "seconds_per_spectrum": (time.perf_counter() - t) / n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_001, 100_000])
    ap.add_argument("--survey-size", type=int, default=40_001, help="size of the file on an SDSS-like grid")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--n-peer", type=int, default=20)
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/speed"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--append", action="store_true", help="add these sizes to the results already in --out (no "
                    "--help timing, breakdown or peer)")
    args = ap.parse_args()
    res = {"settings": {"sizes": args.sizes, "survey_size": args.survey_size, "repeats": args.repeats},
           "machine": {"cpus": __import__("os").cpu_count()}, "help": [], "runs": []}
    if args.append and args.out and args.out.exists():
        res = json.loads(args.out.read_text())
        res["settings"]["sizes"] = sorted(set(res["settings"]["sizes"]) | set(args.sizes))
        args.n_peer = 0
    else:
        if args.out and args.out.exists():
            # rows of sizes this run does not repeat (the 10^6 file) and notes stay, marked as earlier
            earlier = json.loads(args.out.read_text())
            res.update({k: v for k, v in earlier.items() if k not in res})
            res["runs"] = [{**r, "earlier_run": True} for r in earlier.get("runs", [])
                           if r["n"] not in args.sizes and not (r["grid"] != "model" and r["n"] == args.survey_size)]
        for _ in range(args.repeats):
            res["help"].append(timed([SIM2SKY, "--help"])["wall_s"])
        print(f"sim2sky --help: {min(res['help']):.2f} s (cold process)")
    files = [(n, False) for n in args.sizes] + ([(args.survey_size, True)] if args.survey_size else [])
    for n, survey in files:
        path = args.cache / f"spectra_{n}{'_survey' if survey else ''}.fits"
        if not path.exists():
            write_stack(path, n, survey)
        for z in (True, False):
            cmd = [SIM2SKY, "spectra", "predict", str(path), "--out", str(args.cache / "out.fits"), "--no-progress",
                   *([] if z else ["--no-z-posterior"])]
            runs = [timed(cmd) for _ in range(args.repeats)]
            best = min(runs, key=lambda r: r["wall_s"])
            row = {"n": n, "grid": "survey (resampled)" if survey else "model", "z_posterior": z, "runs": runs,
                   "wall_s": best["wall_s"], "per_s": n / best["wall_s"], "rss_gb": max(r["rss_gb"] for r in runs)}
            if not args.append and (n == args.sizes[min(1, len(args.sizes) - 1)] or survey):
                row["breakdown"] = breakdown(cmd, args.cache / "classify.prof", best["wall_s"], BUCKETS, COMMAND,
                                             nested=[("redshift posterior", "network"),
                                                     ("redshift posterior", "redshift posterior: embedding")])
            res["runs"] = [r for r in res["runs"] if (r["n"], r["grid"], r["z_posterior"]) != (n, row["grid"], z)]
            res["runs"].append(row)
            parts = ", ".join(f"{k} {v:.1f}" for k, v in row.get("breakdown", {}).get("seconds", {}).items())
            print(f"{n:>8,} spectra, {row['grid']:18s}, z posterior {'on ' if z else 'off'}: {row['wall_s']:.1f} s "
                  f"({row['per_s']:,.0f}/s), RSS {row['rss_gb']:.2f} GB{'; ' + parts if parts else ''}", flush=True)
        if args.out:
            write_text(args.out, json.dumps(res, indent=1, default=float))
    if args.n_peer:
        res["redrock"] = redrock_peer(args.cache / f"spectra_{args.sizes[0]}.fits", args.n_peer)
        ours = next(r for r in res["runs"] if "breakdown" in r and r["z_posterior"] and r["grid"] == "model")
        res["ratio_vs_redrock"] = res["redrock"]["seconds_per_spectrum"] * ours["per_s"]
        print(f"redrock: {res['redrock']['seconds_per_spectrum']:.2f} s per spectrum; sim2sky end to end "
              f"{res['ratio_vs_redrock']:,.0f}x faster")
    if args.out:
        write_text(args.out, json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
