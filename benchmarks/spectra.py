"""Survey-spectra benchmark: theory -> real, with the classical peers measured in the same run.

1. held-out theory per S/N: accuracy, macro-F1, ECE of the shipped classifier; peers: a
   our redrock-style chi^2 fit of template bases over a redshift grid (a re-implementation; the real
   redrock is compared in spectra_redrock.py) and
   gradient-boosted trees on PCA coefficients trained on the same kind of simulations;
2. redshifts on held-out theory: ours vs the chi^2 peer;
3. MILES (real stars, catalogued parameters): bias / scatter / 68% coverage per T_eff range and
   spectral-class accuracy; then domain adaptation (DANN on unlabelled MILES spectra, and
   continuum normalisation) before/after — never trained or tuned on the MILES labels;
4. real SDSS galaxies/quasars and MaNGA spaxels: class and redshift vs the catalogued values;
5. throughput on 2 cores (spectra/s, ours vs peers) and peak RSS streaming a 10^6-spectrum file.

Usage: python benchmarks/spectra.py [--model DIR] [--n-test 300] [--big 1000000] [--out bench_out/spectra]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import _data  # noqa: F401  (the shared data mirror)
from _redrock_peer import galaxy_pca_bases
from sim2sky.cases.spectra import (CLASSES, SpectraPipeline, model_inputs, model_wave, simulate_spectra,
                                   star_grid_inputs, to_inputs)
from sim2sky.cases.spectra.evaluate import miles, parameter_table, star_type_accuracy
from sim2sky.cases.spectra.schema import STAR_CLASSES
from sim2sky.cases.spectra.forward import SurveyConditions
from sim2sky.cases.spectra.templates import templates
from sim2sky.cases.spectra.training import classifier_network, evaluate_classifier
from sim2sky.core.data import dataset_root
from sim2sky.learn import CalibratedClassifier, ClassifierConfig, DANNConfig, fit_dann

SNRS = (5, 10, 20, 50)


# -- peer 1: our redrock-style chi^2 template fitting (a re-implementation; the real redrock: spectra_redrock.py)
class Chi2Peer:
    """Ours, not redrock: least-squares fits of template bases over a redshift grid; the best chi^2 gives
    class and z (the real redrock runs on the same spectra in ``spectra_redrock.py``).

    Bases: redrock's own star bases (z = radial velocity grid) and QSO eigenspectra; for galaxy
    subclasses, 5 principal components of 400 noiseless simulated rest-frame spectra each (redrock
    ships galaxy PCA templates; ours are built from the same theory as the training set).
    Two Legendre terms absorb calibration tilts, as redrock does for stars.
    """

    def __init__(self, rng):
        t = templates()
        self.wave = model_wave()
        self.bases = {}
        for c in STAR_CLASSES:
            self.bases[c] = (t["star_wave"], t[f"star_{c[5:]}_basis"].astype(float), np.linspace(-0.0015, 0.0015, 7))
        for c, kind, zr, dz in (("QSO_BROADLINE", "LOZ", (0.05, 1.6), 0.004), ("QSO", "HIZ", (1.6, 4.0), 0.006)):
            self.bases[c] = (10 ** t[f"qso_{kind}_loglam"], t[f"qso_{kind}_basis"].astype(float),
                             np.arange(zr[0], zr[1], dz))
        for c, (w, basis) in galaxy_pca_bases(rng).items():
            self.bases[c] = (w, basis, np.arange(0.0, 0.35, 0.001))
        x = np.linspace(-1, 1, len(self.wave))
        self.poly = np.stack([x, 1.5 * x**2 - 0.5])

    def fit(self, flux, ivar):
        n = len(flux)
        best = np.full(n, np.inf)
        cls = np.zeros(n, int)
        z = np.zeros(n)
        for k, c in enumerate(CLASSES):
            w, basis, zgrid = self.bases[c]
            for zz in zgrid:
                T = np.stack([np.interp(self.wave / (1 + zz), w, b, left=0, right=0) for b in basis] + list(self.poly))
                A = np.einsum("kl,il,ml->ikm", T, ivar, T) + 1e-9 * np.eye(len(T))
                bvec = np.einsum("kl,il->ik", T, ivar * flux)
                coef = np.linalg.solve(A, bvec[..., None])[..., 0]
                chi2 = np.einsum("il,il->i", ivar, (flux - coef @ T) ** 2)
                better = chi2 < best
                best[better], cls[better], z[better] = chi2[better], k, zz
        return cls, z


# -- peer 2: PCA + gradient-boosted trees ------------------------------------------------------
class PCAGBTPeer:
    def __init__(self, n_components: int = 50):
        from sklearn.decomposition import PCA
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.pca = PCA(n_components, random_state=0)
        self.gbt = HistGradientBoostingClassifier(max_iter=200, random_state=0)

    @staticmethod
    def _features(x):
        return np.concatenate([x[:, 0], x[:, 1].mean(1, keepdims=True)], 1)

    def fit(self, x, y):
        f = self._features(x)
        self.gbt.fit(np.concatenate([self.pca.fit_transform(f[:, :-1]), f[:, -1:]], 1), y)
        return self

    def predict(self, x):
        f = self._features(x)
        return self.gbt.predict(np.concatenate([self.pca.transform(f[:, :-1]), f[:, -1:]], 1))


def f1(y, yhat):
    from sklearn.metrics import f1_score

    return float(f1_score(y, yhat, labels=range(len(CLASSES)), average="macro"))


def theory_section(pipe, args, rng, result):
    print("\n1. Held-out theory (13 classes): ours vs peers, per S/N")
    t0 = time.perf_counter()
    train = simulate_spectra(args.n_peer, seed=500)
    peer = PCAGBTPeer().fit(to_inputs(train["flux"], train["ivar"])[0], train["y"])
    chi2 = Chi2Peer(np.random.default_rng(7))
    print(f"  peers prepared in {time.perf_counter() - t0:.0f} s")
    print(f"{'S/N':>4} | {'ours acc':>8} {'F1':>6} {'ECE':>6} | {'PCA+GBT F1':>10} | {'chi2 F1':>8} (n={args.n_chi2}/class)")
    result["theory"] = {}
    for sn in SNRS:
        test = simulate_spectra(args.n_test, seed=600 + sn, conditions=SurveyConditions(snr=(sn, sn)))
        x = to_inputs(test["flux"], test["ivar"])[0]
        m = evaluate_classifier(pipe.classifier, x, test["y"])
        g = f1(test["y"], peer.predict(x))
        sub = np.concatenate([np.flatnonzero(test["y"] == k)[: args.n_chi2] for k in range(len(CLASSES))])
        t = time.perf_counter()
        cls, zc = chi2.fit(test["flux"][sub].astype(float), test["ivar"][sub].astype(float))
        chi2_rate = len(sub) / (time.perf_counter() - t)
        c = f1(test["y"][sub], cls)
        result["theory"][sn] = {"ours": m, "pca_gbt_f1": g, "chi2_f1": c, "chi2_spectra_per_s": chi2_rate}
        print(f"{sn:>4} | {m['accuracy']:>8.3f} {m['macro_f1']:>6.3f} {m['ece']:>6.3f} | {g:>10.3f} | {c:>8.3f}")
        if sn == 20:
            _confusion_figure(m["confusion"], Path(args.out) / "spectra_confusion_sn20.png")
            r = pipe.classify(x, *to_inputs(test["flux"], test["ivar"])[2:], seed=0)
            dz = (r["z_median"] - test["z"]) / (1 + test["z"])
            dzc = (zc - test["z"][sub]) / (1 + test["z"][sub])
            zs = result["redshift_sn20"] = {}
            for fam, sel in (("galaxies", [k for k, c in enumerate(CLASSES) if c.startswith("GALAXY")]),
                             ("QSOs", [k for k, c in enumerate(CLASSES) if c.startswith("QSO")])):
                m_all = np.isin(test["y"], sel)
                m_sub = np.isin(test["y"][sub], sel)
                inside = (test["z"] >= r["z_q16"]) & (test["z"] <= r["z_q84"])
                zs[fam] = {"ours_median_abs": float(np.median(np.abs(dz[m_all]))),
                           "ours_outliers": float(np.mean(np.abs(dz[m_all]) > 0.01)),
                           "ours_coverage68": float(inside[m_all].mean()),
                           "chi2_median_abs": float(np.median(np.abs(dzc[m_sub]))),
                           "chi2_outliers": float(np.mean(np.abs(dzc[m_sub]) > 0.01))}
            print("   redshift at S/N 20:", json.dumps(zs))
    result["peer_rates"] = {"chi2_spectra_per_s": float(np.mean([v["chi2_spectra_per_s"] for v in result["theory"].values()]))}
    return peer, chi2


def miles_section(pipe, args, result):
    print("\n3. MILES (656 real stars): theory-trained model vs catalogue")
    s = miles()
    truth = {k: np.asarray(s.meta[k], float) for k in ("TEFF", "LOGG", "FEH")}
    variants = {}
    xs, cov = star_grid_inputs(s, pipe.star_normalise)
    variants["shipped (mean-normalised)"] = pipe.star_parameters(xs)
    x, _, snr, c = model_inputs(s)
    r = pipe.classify(x, snr, c, redshift=0.0)
    result["miles_types"] = {"shipped": star_type_accuracy(r["label"], s.meta["SPT"])}
    if args.adapt:
        print("   adaptation: training the stellar-parameter model three ways (no MILES labels used)")
        for name, normalise, target in (("plain (retrained here)", "mean", False), ("DANN on MILES spectra", "mean", True),
                                        ("continuum-normalised", "continuum", False)):
            xt = star_grid_inputs(s, normalise)[0] if target else None
            npe, _ = _train_stars_variant(args.n_stars, normalise, xt)
            p = SpectraPipeline.__new__(SpectraPipeline)
            p.stars, p.star_samples = npe.posterior_, 200
            variants[name] = p.star_parameters(star_grid_inputs(s, normalise)[0])
        result["miles_types"].update(_classifier_adaptation(s, args))
    _miles_figure(truth, variants["shipped (mean-normalised)"], Path(args.out) / "spectra_miles.png")
    result["miles"] = {}
    for name, pred in variants.items():
        rows = parameter_table(truth, pred)
        result["miles"][name] = rows
        print(f"  {name}")
        for row in rows:
            if row["range"] in ("FGK (4000-7500 K)", "M (<4000 K)", "A/B (>7500 K)"):
                print(f"    {row['range']:18s} {row['parameter']:5s} n={row['n']:3d} bias {row['bias']:+8.3f} "
                      f"scatter {row['scatter']:8.3f} rms {row['rms']:8.3f} cov68 {row['coverage68']:.2f}")
    print("  spectral class vs catalogue SPT:", json.dumps(result["miles_types"], default=float)[:600])


def _confusion_figure(cm, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, float)
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=90, fontsize=7)
    ax.set_yticks(range(len(CLASSES)), CLASSES, fontsize=7)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            if cm[i, j] >= 0.01:
                ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=6, color="w" if cm[i, j] > 0.5 else "k")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (held-out theory, S/N 20)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _miles_figure(truth, pred, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, key, unit in zip(axes, ("TEFF", "LOGG", "FEH"), ("K", "dex", "dex")):
        t = np.asarray(truth[key], float)
        ok = np.isfinite(t) & ~np.isin(t, (9999.0, -9999.0))
        ax.errorbar(t[ok], pred[f"{key}_mean"][ok], yerr=pred[f"{key}_std"][ok], fmt=".", ms=3, alpha=0.5, lw=0.5)
        lo, hi = np.nanmin(t[ok]), np.nanmax(t[ok])
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        if key == "TEFF":
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(f"MILES catalogue {key} [{unit}]")
        ax.set_ylabel(f"predicted (trained on ATLAS9 only) [{unit}]")
    fig.suptitle("656 real MILES stars, stellar-parameter posterior trained on theory only")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _train_stars_variant(n, normalise, x_target):
    from sim2sky.cases.spectra.training import stars_embedding
    from sim2sky.cases.spectra.stars import STAR_PRIOR, simulate_stars, star_inputs
    from sim2sky.infer import NPE, BoxUniform, NPEConfig, TrainConfig

    sims = simulate_stars(n, seed=0)
    x = star_inputs(sims["flux"], sims["ivar"], normalise)
    theta = sims["theta"].astype(np.float32)
    theta[:, 0] = np.log10(theta[:, 0])
    lo = [np.log10(STAR_PRIOR["TEFF"][0]), STAR_PRIOR["LOGG"][0], STAR_PRIOR["FEH"][0]]
    hi = [np.log10(STAR_PRIOR["TEFF"][1]), STAR_PRIOR["LOGG"][1], STAR_PRIOR["FEH"][1]]
    npe = NPE(prior=BoxUniform(lo, hi), config=NPEConfig(), embedding=stars_embedding(),
              train_config=TrainConfig(batch_size=256, max_epochs=60, seed=0, num_threads=2))  # as the shipped model
    return npe.fit(theta, x, x_target=x_target), sims


def _classifier_adaptation(s, args):
    """Plain vs DANN classifier trained on the same (smaller) simulated set; MILES spectra as the
    unlabelled target. Scored on the catalogued spectral classes."""
    train = simulate_spectra(args.n_adapt, seed=700)
    cal = simulate_spectra(max(args.n_adapt // 6, 100), seed=701)
    x, xc = to_inputs(train["flux"], train["ivar"])[0], to_inputs(cal["flux"], cal["ivar"])[0]
    xm = model_inputs(s)[0]
    cfg = ClassifierConfig(epochs=12, batch_size=256, learning_rate=3e-3, num_threads=2)
    plain = CalibratedClassifier(classifier_network(0), CLASSES, cfg).fit(x, train["y"], xc, cal["y"])
    dann = fit_dann(CalibratedClassifier(classifier_network(0), CLASSES, cfg), x, train["y"], xm, xc, cal["y"],
                    DANNConfig(epochs=12, batch_size=256, learning_rate=3e-3, domain_weight=1.0))
    out = {}
    for name, clf in ((f"plain ({args.n_adapt}/class)", plain), (f"DANN ({args.n_adapt}/class)", dann)):
        out[name] = star_type_accuracy(clf.predict_all(xm)["label"], s.meta["SPT"])
    return out


def real_section(pipe, result):
    print("\n4. Real extragalactic spectra: class and z vs the catalogue")
    from sim2sky.cases.spectra.io import read_spectra

    root = dataset_root("spectra-real") / "spectra_real"
    rows = []
    # PH957 is Q0100+1300 (PHL 957), z_em = 2.68 in the literature; the other two quasars carry no redshift
    known = {"PH957_f.fits": 2.68}
    for f in ("NGC3073_SDSS_DR18.fits", "NGC3522_SDSS_DR18.fits", "PH957_f.fits", "UM184_nF.fits",
              "SDSSJ220248.31+123656.3.fits", "MaNGA_test_spectra.fits.gz"):
        s = read_spectra(root / f)
        x, _, snr, c = model_inputs(s)
        r = pipe.classify(x, snr, c)
        for i in range(len(s)):
            cat_z = s.meta.get("SDSS_Z", s.meta.get("Z_CATALOGUE", [known.get(f)] * len(s)))[i]
            cat_c = s.meta.get("SDSS_CLASS", [""] * len(s))[i] + " " + s.meta.get("SDSS_SUBCLASS", [""] * len(s))[i]
            rows.append({"file": f, "row": i, "class": r["label"][i], "p_max": float(r["proba"][i].max()),
                         "z": float(r["z_median"][i]), "z_std": float(r["z_std"][i]), "flag": r["flag"][i],
                         "catalogue_class": cat_c.strip(), "catalogue_z": None if cat_z is None else float(cat_z)})
            print(f"  {f[:28]:28s} {i} {r['label'][i]:20s} p={rows[-1]['p_max']:.2f} z={rows[-1]['z']:.4f}"
                  f"+-{rows[-1]['z_std']:.4f} catalogue: {cat_c.strip() or '-':18s} z={cat_z}")
    result["real"] = rows


def throughput_section(pipe, args, result):
    print("\n5. Throughput on 2 cores")
    torch.set_num_threads(2)
    d = simulate_spectra(max(1, args.n_rate // len(CLASSES)), seed=900)
    x, _, snr, c = to_inputs(d["flux"], d["ivar"])
    pipe.classify(x[:256], snr[:256], c[:256])
    z_post, pipe.redshift = pipe.redshift, None
    t = time.perf_counter()
    pipe.classify(x, snr, c)
    rate_cls = len(x) / (time.perf_counter() - t)
    pipe.redshift = z_post
    t = time.perf_counter()
    pipe.classify(x, snr, c)
    rate_z = len(x) / (time.perf_counter() - t)
    result["throughput"] = {"classify_per_s": rate_cls, "classify_and_z_per_s": rate_z,
                            "chi2_peer_per_s": result.get("peer_rates", {}).get("chi2_spectra_per_s")}
    print(f"  classes only: {rate_cls:,.0f} spectra/s; classes + z posterior (summaries, calibrated): {rate_z:,.0f} spectra/s; "
          f"chi2 peer: {result['throughput']['chi2_peer_per_s'] or float('nan'):,.1f} spectra/s")
    if args.big:
        big = Path(args.out) / "big.fits"
        _write_big(big, d, args.big)
        cmd = [str(Path(sys.executable).with_name("sim2sky")), "spectra", "classify", str(big), "--out",
               str(Path(args.out) / "big_out.fits"), "--no-z-posterior", "--no-progress"]
        t = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate()
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"the streaming run failed (exit {proc.returncode}):\n{err[-2000:]}")
        rss = next((int(l.split()[-1]) for l in err.splitlines() if "Maximum resident" in l), -1) / 1e6
        result["throughput"].update(big_n=args.big, big_wall_s=wall, big_per_s=args.big / wall, big_peak_rss_gb=rss)
        print(f"  {args.big:,} spectra streamed from FITS, end to end (read, resample, classify, write): "
              f"{wall:.1f} s = {args.big / wall:,.0f} spectra/s, peak RSS {rss:.2f} GB")
        big.unlink(missing_ok=True)


def _write_big(path: Path, d, n: int):
    from astropy.io import fits

    lw = np.log10(model_wave())
    h = fits.Header()
    h["CRVAL1"], h["CDELT1"], h["CRPIX1"], h["DC-FLAG"], h["CUNIT1"] = float(lw[0]), float(lw[1] - lw[0]), 1.0, 1, "Angstrom"
    L = len(lw)
    hdu = fits.PrimaryHDU(header=h)
    hdu.header["BITPIX"], hdu.header["NAXIS"] = -32, 2
    hdu.header["NAXIS1"], hdu.header["NAXIS2"] = L, n
    iv = fits.ImageHDU(name="IVAR")
    with open(path, "wb") as fh:
        fh.write(hdu.header.tostring().encode("ascii"))
        rng = np.random.default_rng(0)
        for i in range(0, n, len(d["flux"])):
            m = min(len(d["flux"]), n - i)
            block = d["flux"][:m] + rng.standard_normal((m, L)).astype(np.float32) * 0.01
            fh.write(block.astype(">f4").tobytes())
        fh.write(b"\0" * (-(n * L * 4) % 2880))
        ih = iv.header
        ih["BITPIX"], ih["NAXIS"] = -32, 2
        ih.set("NAXIS1", L, after="NAXIS"), ih.set("NAXIS2", n, after="NAXIS1")
        fh.write(ih.tostring().encode("ascii"))
        for i in range(0, n, len(d["ivar"])):
            m = min(len(d["ivar"]), n - i)
            fh.write(d["ivar"][:m].astype(">f4").tobytes())
        fh.write(b"\0" * (-(n * L * 4) % 2880))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--n-test", type=int, default=300, help="test spectra per class and S/N")
    ap.add_argument("--n-chi2", type=int, default=15, help="spectra per class and S/N fitted by the chi2 peer")
    ap.add_argument("--n-peer", type=int, default=2000, help="training spectra per class for PCA+GBT")
    ap.add_argument("--n-stars", type=int, default=60000, help="ATLAS9 stars per adaptation variant")
    ap.add_argument("--n-adapt", type=int, default=1500, help="spectra per class for the classifier adaptation")
    ap.add_argument("--n-rate", type=int, default=20000, help="spectra for the in-memory throughput")
    ap.add_argument("--big", type=int, default=0, help="also stream a file of this many spectra (e.g. 1000000)")
    ap.add_argument("--no-adapt", dest="adapt", action="store_false")
    ap.add_argument("--only-throughput", action="store_true", help="skip sections 1-4 (timings and the streaming RSS only)")
    ap.add_argument("--out", default="bench_out/spectra")
    args = ap.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    pipe = SpectraPipeline(args.model)
    result = {}
    if not args.only_throughput:
        theory_section(pipe, args, np.random.default_rng(0), result)
        miles_section(pipe, args, result)
        real_section(pipe, result)
    throughput_section(pipe, args, result)
    result["wall_s"] = time.perf_counter() - t0
    (Path(args.out) / "spectra.json").write_text(json.dumps(result, indent=1, default=float))
    print(f"\nwall time {result['wall_s']:.0f} s; JSON in {args.out}/spectra.json")


if __name__ == "__main__":
    main()
