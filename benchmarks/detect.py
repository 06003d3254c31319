"""Detection, segmentation and deblending (issue 15): learned finders vs the classical ones, same data, one run.

1. ``hi``: held-out mock HI cubes (128 x 192 x 192, 100 galaxies each, seeds never used in
   training). The shipped 3-D U-Net (+ NPE characterisation) vs the SoFiA-like finder (our re-implementation
   of SoFiA-2, which is not installable here) and two real peers, astrodendro on the cube and PyBDSF on the
   moment-0 map (``_hi_peers.py``):
   completeness per S/N bin and purity at the default settings, completeness at S/N <= 5 at
   matched purity (sweeping each finder's threshold), property errors (moments and NPE, with
   the NPE 68% coverage), the SDC2-style score, and the time to detect, segment and measure
   100 sources.
2. ``gb``: a 1-GB cube (256 x 1024 x 1024 float32) through ``sim2sky detect cube`` in a child
   process: wall time and peak memory (bounded: tiles).
3. ``blends``: held-out GalSim blends (pairs and triples): completeness, median flux bias and
   robust scatter in bins of separation and flux ratio, shape errors, for the U-Net deblender,
   photutils, SEP and the model-fitting scarlet2 (``_scarlet_peer.py``); the time to deblend a 512^2
   field of 100 galaxies.
4. ``real``: what the finders report on real data without truth: the MUSE UDF sub-cube (3-D line
   emitters) and the HSC COSMOS blended scenes (sources vs the scarlet catalogue's positions).

    python benchmarks/detect.py --out benchmarks/results_detect.json [--sections hi gb blends real] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (data mirror for the 'real' section)
import _hi_peers
from sim2sky.cases.blends import (SURVEY, adaptive_shapes, deblend, load_models as blend_models, match_positions,
                                  photutils_deblend, sep_deblend, simulate_blends, simulate_field)
from sim2sky.cases.hicubes import (DetectConfig, find_sources, load_models as hi_models, match_catalogue,
                                   simulate_cube, simulate_hicube_file)
from sim2sky.cases.hicubes.detector import detect
from sim2sky.cases.hicubes.finder import normalise_cube, sofia_like_find

SNR_BINS = [0, 3, 5, 10, 1e9]
SIZE_BINS = [0, 8, 15, 25, 60]          # HI diameter [arcsec]; the beam is 7"
FIG: dict = {}
# SDC2 thresholds (Hartley et al. 2023, Table 3): a property scores min(1, threshold / error)
SDC2 = {"position": 0.3, "hi_size": 0.3, "line_flux_integral": 0.1, "central_freq": 0.3, "pa": 10.0, "i": 10.0,
        "w20": 0.3}


def sdc2_score(cat, truth, d2t, prefix="") -> dict:
    """Sum over matches of the mean property score, minus the number of false detections."""
    m = d2t > 0
    t = d2t[m] - 1
    size = np.maximum(truth["hi_size"][t], 7.0) / 2.8               # pixels (at least the beam)
    pos_err = np.hypot(cat["x"][m] - truth["x"][t], cat["y"][m] - truth["y"][t]) / size
    errs = {"position": pos_err,
            "central_freq": np.abs(cat["z"][m] - truth["z"][t]) * 7.8 / truth["w20"][t],
            "pa": np.abs((cat[prefix + "pa"][m] - truth["pa"][t] + 180) % 360 - 180),
            "i": np.abs(cat[prefix + "i"][m] - truth["i"][t])}
    for k in ("hi_size", "line_flux_integral", "w20"):
        errs[k] = np.abs(cat[prefix + k][m] / truth[k][t] - 1)
    per = {k: np.minimum(1, SDC2[k] / np.maximum(np.nan_to_num(v, nan=1e9), 1e-12)) for k, v in errs.items()}
    score = np.mean(list(per.values()), axis=0)
    return {"score": float(score.sum() - (~m).sum()), "matches": int(m.sum()), "false": int((~m).sum()),
            "mean_property_score": {k: float(v.mean()) for k, v in per.items()}}


def property_errors(cat, truth, d2t, prefix="") -> dict:
    m = d2t > 0
    t = d2t[m] - 1
    out = {}
    for k in ("line_flux_integral", "w20", "hi_size"):
        r = np.log10(np.maximum(cat[prefix + k][m], 1e-9) / truth[k][t])
        out[k] = {"median_dex": float(np.median(r)), "mad_dex": float(1.4826 * np.median(np.abs(r - np.median(r))))}
    out["pa"] = {"median_abs_deg": float(np.nanmedian(np.abs((cat[prefix + "pa"][m] - truth["pa"][t] + 180) % 360 - 180)))}
    out["i"] = {"median_abs_deg": float(np.nanmedian(np.abs(cat[prefix + "i"][m] - truth["i"][t])))}
    return out


def npe_coverage(cat, truth, d2t) -> dict:
    m = d2t > 0
    t = d2t[m] - 1
    out = {}
    for k in ("line_flux_integral", "w20", "hi_size", "i"):
        z = np.abs(cat[k + "_npe"][m] - truth[k][t]) / np.maximum(cat[k + "_npe_err"][m], 1e-12)
        out[k] = float((z <= 1).mean())
    return out


def section_hi(args) -> dict:
    seg, post = hi_models()
    cubes = [simulate_cube(args.hi_sources, tuple(args.hi_shape), seed=9000 + s) for s in range(args.hi_cubes)]
    res = {"cubes": args.hi_cubes, "shape": args.hi_shape, "sources_per_cube": args.hi_sources}
    truth_all = {k: np.concatenate([c[2][k] for c in cubes]) for k in cubes[0][2]}
    # the default settings: catalogues, completeness per S/N bin, purity, properties, SDC2 score, time
    for method in ("unet", "sofia-like"):
        cats, d2ts, t2ds, times = [], [], [], []
        for cube, labels, truth, _ in cubes:
            t0 = time.perf_counter()
            found, cat = find_sources(cube, config=DetectConfig(method=method, characterise=True))
            times.append(time.perf_counter() - t0)
            d2t, t2d = match_catalogue(found, labels)
            cats.append(cat)
            d2ts.append(d2t + np.where(d2t > 0, sum(len(c[2]["x"]) for c in cubes[:len(cats) - 1]), 0))
            t2ds.append(t2d)
        cat = {k: np.concatenate([c[k] for c in cats]) for k in cats[0]}
        d2t, t2d = np.concatenate(d2ts), np.concatenate(t2ds)
        snr = truth_all["snr"]
        comp = []
        for lo, hi in zip(SNR_BINS[:-1], SNR_BINS[1:]):
            sel = (snr >= lo) & (snr < hi)
            comp.append({"lo": lo, "hi": hi, "n": int(sel.sum()), "completeness": float((t2d[sel] > 0).mean())})
        by_size = []
        for lo, hi in zip(SIZE_BINS[:-1], SIZE_BINS[1:]):
            sel = (truth_all["hi_size"] >= lo) & (truth_all["hi_size"] < hi)
            faint = sel & (snr < 10)
            by_size.append({"lo": lo, "hi": hi, "n": int(sel.sum()), "completeness": float((t2d[sel] > 0).mean()),
                            "completeness_snr_below_10": float((t2d[faint] > 0).mean()) if faint.any() else None})
        FIG.setdefault("hi", {})[method] = {"snr": snr, "detected": t2d > 0, "cube": cubes[0][0], "labels": cubes[0][1],
                                            "found": find_sources(cubes[0][0], config=DetectConfig(
                                                method=method, characterise=False))[0]}
        r = {"completeness": comp, "completeness_by_size": by_size, "purity": float((d2t > 0).mean()),
             "detections": int(len(d2t)),
             "time_per_cube_s": float(np.mean(times)), "moments": property_errors(cat, truth_all, d2t),
             "sdc2_moments": sdc2_score(cat, truth_all, d2t)}
        if "line_flux_integral_npe" in cat:
            r["npe"] = property_errors(cat, truth_all, d2t, "")
            r["npe"] = property_errors({**cat, **{k: cat[k + "_npe"] for k in ("line_flux_integral", "w20", "hi_size",
                                                                              "pa", "i")}}, truth_all, d2t)
            r["npe_coverage_68"] = npe_coverage(cat, truth_all, d2t)
            r["sdc2_npe"] = sdc2_score({**cat, **{k: cat[k + "_npe"] for k in ("line_flux_integral", "w20", "hi_size",
                                                                                 "pa", "i")}}, truth_all, d2t)
        res[method] = r
        print(f"hi {method}: purity {r['purity']:.3f}, completeness {[round(c['completeness'], 3) for c in comp]}, "
              f"{r['time_per_cube_s']:.2f} s per cube, SDC2 {r['sdc2_moments']['score']:.1f}"
              + (f" / NPE {r['sdc2_npe']['score']:.1f}" if "sdc2_npe" in r else ""), flush=True)
    # completeness at S/N <= 5 vs purity, sweeping each finder's threshold (detection only)
    curves = {"unet": [], "sofia-like": []}
    probs = []
    for cube, labels, truth, _ in cubes:
        snr_cube, _, _ = normalise_cube(cube)
        probs.append((snr_cube, labels, truth))
    for score in args.unet_scores:
        curves["unet"].append(_curve_point(probs, lambda s: detect(seg, s, min_score=score)[0], score))
    for min_snr in args.sofia_min_snr:
        for thr in args.sofia_thresholds:
            point = _curve_point(probs, lambda s: sofia_like_find(s, threshold=thr, min_snr=min_snr)[0], thr)
            curves["sofia-like"].append({**point, "min_snr": min_snr})
    res["curves"] = curves
    ref = next(p for p in curves["sofia-like"] if p["setting"] == 4.0 and p["min_snr"] == 3.0)
    u = sorted(curves["unet"], key=lambda p: p["purity"])
    purities = np.array([p["purity"] for p in u])
    comps = np.array([p["completeness_faint"] for p in u])
    res["matched_purity"] = {"purity": ref["purity"], "sofia_like_completeness_faint": ref["completeness_faint"],
                             "unet_completeness_faint": float(np.interp(ref["purity"], purities, comps))}
    print(f"hi matched purity {ref['purity']:.3f}: completeness at S/N<=5 U-Net "
          f"{res['matched_purity']['unet_completeness_faint']:.3f} vs SoFiA-like {ref['completeness_faint']:.3f}", flush=True)
    if not args.no_peers:
        res["peers"] = _hi_peers.versions()
        for name, finder, settings in (("astrodendro", _hi_peers.dendro_find, args.dendro_min_values),
                                       ("pybdsf", _hi_peers.pybdsf_find, args.bdsf_thresholds)):
            t0 = time.perf_counter()
            curves[name] = [_curve_point(probs, lambda s, v=v: finder(s, v), v) for v in settings]
            res[f"{name}_s_per_cube"] = (time.perf_counter() - t0) / (len(settings) * len(probs))
            print(f"hi {name}: " + ", ".join(f"{p['setting']:g}: purity {p['purity']:.3f} completeness(S/N<=5) "
                                              f"{p['completeness_faint']:.3f}" for p in curves[name]), flush=True)
        for name in ("astrodendro", "pybdsf"):
            res["matched_purity"][f"{name}_completeness_faint"] = _at_purity(curves[name], ref["purity"])
            res["matched_purity"][f"{name}_best_faint_at_or_above"] = max(
                [p["completeness_faint"] for p in curves[name] if p["purity"] >= ref["purity"]], default=None)
    return res


def _at_purity(curve, purity):
    """Completeness at S/N <= 5 interpolated at ``purity`` along a threshold sweep; None outside its range."""
    c = sorted(curve, key=lambda p: p["purity"])
    pur = np.array([p["purity"] for p in c])
    if len(pur) == 0 or purity < pur.min() or purity > pur.max():
        return None
    return float(np.interp(purity, pur, [p["completeness_faint"] for p in c]))


def _curve_point(cubes, finder, setting) -> dict:
    n_det = n_true_det = 0
    faint_hit = faint_n = 0
    for snr_cube, labels, truth in cubes:
        found = finder(snr_cube)
        d2t, t2d = match_catalogue(found, labels)
        n_det += len(d2t)
        n_true_det += (d2t > 0).sum()
        faint = truth["snr"] <= 5
        faint_hit += (t2d[faint] > 0).sum()
        faint_n += faint.sum()
    return {"setting": float(setting), "purity": float(n_true_det / max(n_det, 1)),
            "completeness_faint": float(faint_hit / max(faint_n, 1)), "detections": int(n_det)}


def section_gb(args) -> dict:
    shape = tuple(args.gb_shape)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "big.fits"
        n_src = int(100 * np.prod(shape) / (128 * 192 * 192))
        t0 = time.perf_counter()
        simulate_hicube_file(path, n_sources=n_src, shape=shape, seed=77)
        sim_s = time.perf_counter() - t0
        size_gb = path.stat().st_size / 1e9
        out = {}
        for method in args.gb_methods:
            t0 = time.perf_counter()
            # GNU time reports each child's own peak RSS (getrusage only gives the max over all children)
            cmd = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "sim2sky"), "detect", "cube", str(path), "--out", str(Path(tmp) / method),
                   "--method", method, "--block", "256,160,160", "--halo", "32,12,12", "--no-progress"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            peak = next((int(line.split(":")[1]) / 1e6 for line in proc.stderr.splitlines()
                         if "Maximum resident set size" in line), float("nan"))     # kB -> GB
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
            summary = json.loads((Path(tmp) / method / "summary.json").read_text()) if proc.returncode == 0 else {}
            out[method] = {"wall_s": wall, "peak_rss_gb": peak,
                           "sources": summary.get("sources"), "tiles": summary.get("tiles"), "rc": proc.returncode}
            print(f"gb {method}: {size_gb:.2f} GB cube, {n_src} sources simulated; found {out[method]['sources']} in "
                  f"{wall:.0f} s, peak RSS {peak:.2f} GB", flush=True)
    return {"shape": list(shape), "size_gb": size_gb, "simulate_s": sim_s, "sources": n_src, **out}


def _blend_metrics(images, isolated, truth, finder) -> dict:
    n = len(images)
    flux_rel = np.full((n, 3), np.nan)
    g_err = np.full((n, 3), np.nan)
    for i in range(n):
        present = truth["present"][i]
        xt, yt = truth["x"][i][present], truth["y"][i][present]
        cat, stamps = finder(images[i])
        det_of_true, _ = match_positions(xt, yt, cat["x"], cat["y"], 3.0)
        iso_shape = adaptive_shapes(isolated[i][present])
        for k in range(present.sum()):
            d = det_of_true[k]
            if d >= 0:
                flux_rel[i, k] = cat["flux"][d] / truth["flux"][i, k] - 1
                if stamps is not None:
                    g = adaptive_shapes(stamps[d:d + 1])[0]
                    g_err[i, k] = np.hypot(*(g - iso_shape[k]))
    return {"flux_rel": flux_rel, "g_err": g_err}


def _ours(models):
    from sim2sky.cases.blends.deblender import deblend_image

    def run(image):
        r = deblend_image(image, *models, noise=SURVEY.noise)
        s = r["fractions"].shape[-1] if len(r["x"]) else 0
        pad = np.pad(image, ((0, max(0, s - image.shape[0])), (0, max(0, s - image.shape[1]))))
        stamps = np.array([r["fractions"][k] * pad[y:y + s, x:x + s] for k, (x, y) in enumerate(zip(r["x0"], r["y0"]))])
        return {"x": r["x"], "y": r["y"], "flux": r["flux"]}, stamps
    return run


def _peer(fn):
    def run(image):
        r = fn(image, SURVEY.noise)
        seg = r["segmentation"]
        ids = np.unique(seg[seg > 0])
        stamps = np.array([np.where(seg == k, image, 0.0) for k in ids]) if len(ids) else np.zeros((0,) + image.shape)
        # sep/photutils number their segments in catalogue order (1..n)
        return r, stamps if len(ids) == len(r["x"]) else None
    return run


def _blend_summary(m, sep_arcsec, ratio, args) -> dict:
    """Completeness, median flux bias, robust scatter and shape error per separation and flux-ratio bin."""
    fwhm = SURVEY.psf_fwhm_arcsec
    rel, g_err = m["flux_rel"][:, :2], m["g_err"][:, :2]        # primary and first companion
    rows = []
    for lo, hi in zip(args.sep_bins[:-1], args.sep_bins[1:]):
        sel = (sep_arcsec / fwhm >= lo) & (sep_arcsec / fwhm < hi)
        r = rel[sel]
        f = r[np.isfinite(r)]
        rows.append({"lo_fwhm": lo, "hi_fwhm": hi, "n": int(sel.sum() * 2),
                     "completeness": float(np.isfinite(r).mean()) if r.size else None,
                     "median_bias": float(np.median(f)) if len(f) else None,
                     "scatter": float(1.4826 * np.median(np.abs(f - np.median(f)))) if len(f) else None,
                     "median_shape_error": float(np.nanmedian(g_err[sel])) if np.isfinite(g_err[sel]).any() else None})
    ratio_rows = []
    wide = sep_arcsec >= fwhm
    for lo, hi in zip(args.ratio_bins[:-1], args.ratio_bins[1:]):
        sel = wide & (ratio >= lo) & (ratio < hi)
        r = rel[sel, 1]                                          # the companion's flux
        f = r[np.isfinite(r)]
        ratio_rows.append({"lo": lo, "hi": hi, "n": int(sel.sum()),
                           "completeness": float(np.isfinite(r).mean()) if r.size else None,
                           "median_bias": float(np.median(f)) if len(f) else None,
                           "scatter": float(1.4826 * np.median(np.abs(f - np.median(f)))) if len(f) else None})
    f = rel[wide][np.isfinite(rel[wide])]
    return {"by_separation": rows, "by_flux_ratio": ratio_rows,
            "wide": {"completeness": float(np.isfinite(rel[wide]).mean()), "median_bias": float(np.median(f)),
                     "scatter": float(1.4826 * np.median(np.abs(f - np.median(f)))),
                     "median_shape_error": float(np.nanmedian(g_err[wide]))}}


def section_blends(args) -> dict:
    models = blend_models()
    images, isolated, truth = simulate_blends(args.n_blends, seed=5151, p_objects=(0.0, 0.7, 0.3))
    finders = {"unet": _ours(models), "photutils": _peer(photutils_deblend), "sep": _peer(sep_deblend)}
    if "scarlet2" in args.blend_peers:
        import _scarlet_peer

        finders["scarlet2"] = lambda image: _scarlet_peer.scarlet2_deblend(image, SURVEY.noise)
    sep_arcsec = truth["separation"]
    ratio = truth["flux_ratio"]
    out = {"n_blends": args.n_blends, "psf_fwhm_arcsec": SURVEY.psf_fwhm_arcsec}
    if "scarlet2" in finders:
        out["scarlet2_version"] = _scarlet_peer.version()
    fwhm = SURVEY.psf_fwhm_arcsec
    every = np.arange(len(images))
    # scarlet2 costs ~1.3 s per blend (a JAX compilation per scene): on the first n_scarlet blends, with every
    # finder summarised again on that same subset
    subset = every[:args.n_scarlet]
    metrics = {}
    for name, finder in finders.items():
        idx = subset if name == "scarlet2" else every
        t0 = time.perf_counter()
        metrics[name] = _blend_metrics(images[idx], isolated[idx], {k: v[idx] for k, v in truth.items()}, finder)
        secs = time.perf_counter() - t0
        out[name] = {**_blend_summary(metrics[name], sep_arcsec[idx], ratio[idx], args), "seconds": secs,
                     "seconds_per_blend": secs / len(idx), "blends": int(len(idx))}
        print(f"blends {name}: >= 1 FWHM completeness {out[name]['wide']['completeness']:.3f}, median flux bias "
              f"{out[name]['wide']['median_bias']:+.4f}, scatter {out[name]['wide']['scatter']:.4f}, shape error "
              f"{out[name]['wide']['median_shape_error']:.4f} ({secs:.0f} s, {len(idx)} blends)", flush=True)
    if "scarlet2" in finders:
        out["same_subset"] = {"blends": int(len(subset)), **{
            name: _blend_summary({k: v[subset] if name != "scarlet2" else v for k, v in metrics[name].items()},
                                 sep_arcsec[subset], ratio[subset], args)["wide"] for name in finders}}
        print("same subset, >= 1 FWHM:", {k: round(v["median_bias"], 4) for k, v in out["same_subset"].items()
                                           if isinstance(v, dict)}, flush=True)
    pick = int(np.nonzero((truth["separation"] > 0.8) & (truth["separation"] < 1.2) & (truth["present"].sum(1) == 2))[0][0])
    cat, stamps = finders["unet"](images[pick])
    FIG["blends"] = {"image": images[pick], "stamps": stamps}
    # throughput: a 512^2 field with 100 galaxies, detected + deblended + measured
    image, ftruth, _ = simulate_field(100, (512, 512), seed=31)
    deblend(image, SURVEY.noise, models)                             # warm-up
    timing = {}
    for name, fn in (("unet", lambda: deblend(image, SURVEY.noise, models)),
                     ("photutils", lambda: photutils_deblend(image, SURVEY.noise)),
                     ("sep", lambda: sep_deblend(image, SURVEY.noise))):
        t0 = time.perf_counter()
        r = fn()
        secs = time.perf_counter() - t0
        cat = r["catalogue"] if "catalogue" in r else r
        det_of_true, true_of_det = match_positions(ftruth["x"], ftruth["y"], cat["x"], cat["y"], 3.0)
        timing[name] = {"seconds": secs, "found": int(len(cat["x"])), "matched": int((det_of_true >= 0).sum()),
                        "false": int((true_of_det < 0).sum())}
    out["field_100"] = timing
    print("field of 100 galaxies:", {k: f"{v['seconds']:.2f} s, {v['matched']} matched, {v['false']} false"
                                     for k, v in timing.items()}, flush=True)
    return out


def section_real(args) -> dict:
    from sim2sky.cases.hicubes import detect_cube_file
    from sim2sky.core.data import available, dataset_file

    out = {}
    if available("muse"):
        cube = dataset_file("muse", "muse/udf_subcube.fits.gz")
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            cats = {}
            for method in ("unet", "sofia-like"):
                summary = detect_cube_file(cube, Path(tmp) / method, DetectConfig(
                    method=method, block=(512, 96, 96), halo=(16, 8, 8), continuum_window=51))
                from astropy.table import Table

                cats[method] = Table.read(Path(tmp) / method / "catalogue.fits")
                out[f"muse_{method}"] = {"sources": summary["sources"], "seconds": summary["wall_time_s"],
                                         "notes": summary["notes"]}
            a, b = cats["unet"], cats["sofia-like"]
            if len(a) and len(b):
                d = np.hypot(a["x"][:, None] - b["x"][None], a["y"][:, None] - b["y"][None])
                dz = np.abs(a["z"][:, None] - b["z"][None])
                common = int(((d < 3) & (dz < 5)).any(1).sum())
            else:
                common = 0
            out["muse_common"] = common
            top = a[np.argsort(-np.asarray(a["peak_snr"]))][:10] if len(a) else a
            out["muse_unet_top"] = [{"x": float(r["x"]), "y": float(r["y"]), "wave": float(r["central_wave"]),
                                     "peak_snr": float(r["peak_snr"]), "n_voxels": int(r["n_voxels"])} for r in top]
            print(f"MUSE UDF: U-Net {len(a)} sources, SoFiA-like {len(b)}, {common} in common", flush=True)
    if available("hsc-blends"):
        rows = []
        models = blend_models()
        for name in ("hsc_cosmos.npz", "hsc_cosmos_35.npz"):
            with np.load(dataset_file("hsc-blends", f"images/hsc/{name}"), allow_pickle=False) as z:
                filters = list(z["filters"])
                band = filters.index("i") if "i" in filters else 0
                image = np.asarray(z["images"][band], np.float32)
                psf = np.asarray(z["psfs"][band], np.float64) if "psfs" in z.files else None
                ref = z["catalog"]
            noise = float(1.4826 * np.median(np.abs(image - np.median(image))))
            r = {"scene": name, "shape": list(image.shape), "catalogue_sources": int(len(ref))}
            methods = [("unet", lambda: deblend(image, noise, models)["catalogue"]),
                       ("photutils", lambda: photutils_deblend(image, noise)), ("sep", lambda: sep_deblend(image, noise))]
            if "scarlet2" in args.blend_peers:
                import _scarlet_peer

                methods.append(("scarlet2", lambda: _scarlet_peer.scarlet2_deblend(image, noise, psf)[0]))
            for method, fn in methods:
                cat = fn()
                det_of_true, _ = match_positions(ref["x"], ref["y"], cat["x"], cat["y"], 3.0)
                r[method] = {"found": int(len(cat["x"])), "matched_to_catalogue": int((det_of_true >= 0).sum()),
                             "total_flux_fraction": float(np.sum(cat["flux"]) / image[image > 0].sum())}
            rows.append(r)
            print(f"HSC {name}: catalogue {len(ref)}; " + ", ".join(f"{m} found {r[m]['found']} "
                  f"(matched {r[m]['matched_to_catalogue']})" for m, _ in methods), flush=True)
        out["hsc"] = rows
    return out


def figures(results: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colours = {"unet": "C0", "sofia-like": "C1", "photutils": "C1", "sep": "C2", "scarlet2": "C3"}
    if "hi" in FIG and "hi" in results:
        f = FIG["hi"]
        fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
        cube = f["unet"]["cube"]
        mom0 = np.clip(cube, 0, None).sum(0)
        ax[0].imshow(mom0, origin="lower", cmap="magma", vmax=np.percentile(mom0, 99.7))
        for method, style in (("unet", "C0"), ("sofia-like", "C1")):
            found = f[method]["found"]
            for k in range(1, found.max() + 1):
                ys, xs = np.nonzero((found == k).any(0))
                ax[0].plot(xs.mean(), ys.mean(), "o" if method == "unet" else "s", mfc="none", mec=style,
                           ms=9 if method == "unet" else 5, mew=1.2)
        ax[0].set_title("moment 0; U-Net: circles, SoFiA-like: squares", fontsize=10)
        edges = np.array([0, 2, 3, 4, 5, 6, 8, 10, 15, 25, 60])
        mid = 0.5 * (edges[1:] + edges[:-1])
        for method in ("unet", "sofia-like"):
            snr, det = f[method]["snr"], f[method]["detected"]
            comp = [det[(snr >= a) & (snr < b)].mean() for a, b in zip(edges[:-1], edges[1:])]
            ax[1].plot(mid, comp, "o-", color=colours[method], label=f"{method} (purity {results['hi'][method]['purity']:.2f})")
        ax[1].set_xscale("log")
        ax[1].set_xlabel("integrated S/N")
        ax[1].set_ylabel("completeness")
        ax[1].legend()
        c = results["hi"]["curves"]["unet"]
        ax[2].plot([p["purity"] for p in c], [p["completeness_faint"] for p in c], "o-", color="C0",
                   label="U-Net (min score 0.5-0.98)")
        for j, min_snr in enumerate(sorted({p["min_snr"] for p in results["hi"]["curves"]["sofia-like"]})):
            c = [p for p in results["hi"]["curves"]["sofia-like"] if p["min_snr"] == min_snr]
            ax[2].plot([p["purity"] for p in c], [p["completeness_faint"] for p in c], "s--", color=f"C{j + 1}",
                       label=f"SoFiA-like, clip 3.5-5 sigma, min S/N {min_snr:g}")
        for name, style, label in (("astrodendro", "^:", "astrodendro, min value 3-6 sigma"),
                                   ("pybdsf", "v:", "PyBDSF on moment 0, 3-5 sigma")):
            c = results["hi"]["curves"].get(name, [])
            if c:
                ax[2].plot([p["purity"] for p in c], [p["completeness_faint"] for p in c], style, color="gray" if
                           name == "pybdsf" else "k", label=label)
        ax[2].set_xlabel("purity")
        ax[2].set_ylabel("completeness at S/N <= 5")
        ax[2].set_title("threshold sweeps")
        ax[2].legend()
        fig.tight_layout()
        fig.savefig(folder / "detect_hi.png", dpi=90)
        plt.close(fig)
    if "blends" in FIG and "blends" in results:
        b = FIG["blends"]
        fig, ax = plt.subplots(1, 4, figsize=(17, 4.2))
        ax[0].imshow(np.arcsinh(b["image"] / 20), origin="lower", cmap="gray")
        ax[0].set_title("held-out blend")
        for k in range(min(2, len(b["stamps"]))):
            ax[1 + k].imshow(np.arcsinh(b["stamps"][k] / 20), origin="lower", cmap="gray")
            ax[1 + k].set_title(f"U-Net deblended galaxy {k + 1}")
        res = results["blends"]
        for name in [m for m in ("unet", "photutils", "sep", "scarlet2") if m in res]:
            rows = [r for r in res[name]["by_separation"] if r["median_bias"] is not None]
            x = [0.5 * (r["lo_fwhm"] + r["hi_fwhm"]) for r in rows]
            y = [100 * r["median_bias"] for r in rows]
            e = [100 * r["scatter"] for r in rows]
            ax[3].errorbar(x, y, yerr=e, fmt="o-", color=colours[name], label=name, capsize=3, alpha=0.85)
        ax[3].axhline(0, color="k", lw=0.8)
        ax[3].axvline(1, color="gray", ls=":")
        ax[3].set_xlabel("separation [PSF FWHM]")
        ax[3].set_ylabel("median flux bias [%] (bars: robust scatter)")
        ax[3].legend()
        fig.tight_layout()
        fig.savefig(folder / "detect_blends.png", dpi=90)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["hi", "blends", "real", "gb"])
    ap.add_argument("--hi-cubes", type=int, default=3)
    ap.add_argument("--hi-sources", type=int, default=100)
    ap.add_argument("--hi-shape", type=int, nargs=3, default=[128, 192, 192])
    ap.add_argument("--unet-scores", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98])
    ap.add_argument("--sofia-thresholds", type=float, nargs="+", default=[3.5, 4.0, 4.5, 5.0])
    ap.add_argument("--sofia-min-snr", type=float, nargs="+", default=[0.0, 2.0, 3.0])
    ap.add_argument("--dendro-min-values", type=float, nargs="+", default=[3.0, 3.5, 4.0, 4.5, 5.0, 6.0])
    ap.add_argument("--bdsf-thresholds", type=float, nargs="+", default=[3.0, 4.0, 5.0])
    ap.add_argument("--no-peers", action="store_true", help="skip astrodendro and PyBDSF (not installed)")
    ap.add_argument("--n-scarlet", type=int, default=300, help="blends deblended by scarlet2 (the first n)")
    ap.add_argument("--blend-peers", nargs="*", default=["scarlet2"], help="extra deblenders: scarlet2 (JAX; "
                    "about 1.3 s per blend on 2 cores)")
    ap.add_argument("--gb-shape", type=int, nargs=3, default=[256, 1024, 1024])
    ap.add_argument("--gb-methods", nargs="+", default=["sofia-like", "unet"])
    ap.add_argument("--n-blends", type=int, default=1500)
    ap.add_argument("--sep-bins", type=float, nargs="+", default=[0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 4.5])
    ap.add_argument("--ratio-bins", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0, 3.0, 100.0])
    ap.add_argument("--tmp", default=None, help="folder for the 1-GB cube (default: the system's)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--merge", action="store_true", help="update the sections run in an existing --out file")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--figures", type=Path, default=None, help="folder for the README figures (e.g. docs)")
    args = ap.parse_args()
    if args.quick:
        args.hi_cubes, args.hi_shape, args.hi_sources = 1, [64, 96, 96], 20
        args.gb_shape, args.n_blends, args.n_scarlet = [64, 256, 256], 60, 20
    torch.set_num_threads(2)
    results = json.loads(args.out.read_text()) if args.merge and args.out and args.out.exists() else {}
    sections = {"hi": section_hi, "gb": section_gb, "blends": section_blends, "real": section_real}
    for name in args.sections:
        t0 = time.perf_counter()
        results[name] = sections[name](args)
        results[name]["section_s"] = time.perf_counter() - t0
        if args.out:
            args.out.write_text(json.dumps(results, indent=1, default=float))
    if args.figures:
        figures(results, args.figures)
    if args.out:
        print(f"results in {args.out}")


if __name__ == "__main__":
    main()
