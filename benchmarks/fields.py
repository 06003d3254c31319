"""Fields and tomography (issue 13): CNN vs power-spectrum NPE, and the field emulator, side by side.

1. Gaussian maps (64^2, the exact posterior is known): NPE with a 2-D CNN embedding vs NPE on
   the binned P(k) (the classical summary, optimal here) and with both (the hybrid
   ``cnn2d+powerspectrum``) — C2ST to the exact posterior, widths, coverage. The CNN must be no
   worse: a check that it is honest.
2. Log-normal maps, and phase-randomised copies of them (the same P(k), no morphology):
   CNN vs P(k) widths on each — what the CNN gains comes from the morphology.
3. 21-cm reionisation cubes (32^3, zeta and T_vir, thermal noise): 3-D CNN vs P(k).
4. Emulator (Fourier flow) of the log-normal maps: P(k), PDF, peaks, Minkowski functionals vs
   the simulator at fixed parameters; the CNN posterior on emulated vs simulated fields;
   generation time per field vs the simulator.
5. Peer: sbi's NPE (NSF) with the same CNN embedding on the Gaussian maps, same simulations:
   train time and amortised sampling time.

Same simulations and the same training budget (epochs, patience) for every estimator.

    python benchmarks/fields.py --out benchmarks/results_fields.json [--quick] [--sections ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sim2sky.core.atomic import write_text
from sim2sky.cases.fields import (compare_fields, gaussian_posterior_samples, phase_randomize, simulate_fields)
from sim2sky.infer import NPE, BoxUniform, NPEConfig, TrainConfig, c2st
from sim2sky.learn import EmulatorConfig, FieldEmulator
from sim2sky.nn import CNN2d, FieldFlow

FIG: dict = {}          # what the figures need, filled by the sections
CNN2D = {"channels": (8, 16, 32)}
CNN3D = {"channels": (4, 8, 16, 32)}
CNN2D_LOS = {"channels": (16, 32, 32)}      # cubes as 2-D images with the line-of-sight axis as channels


def train(theta, x, embedding, options, prior, args, seed=0):
    cfg = NPEConfig(embedding=embedding, embedding_options=dict(options), embedding_dim=32)
    tcfg = TrainConfig(max_epochs=args.epochs, patience=args.patience, batch_size=128, seed=seed, num_threads=args.threads)
    t0 = time.perf_counter()
    npe = NPE(prior=prior, config=cfg, train_config=tcfg).fit(theta, x)
    return npe.posterior_, time.perf_counter() - t0, npe.history_


def posterior_summary(post, x, theta, n=500, per_object: bool = False):
    """Mean width, bias in widths, RMSE and central-interval coverage of posteriors for test fields.

    A posterior squeezed against a prior bound can have all its draws equal in float32 (sd 0): its
    bias uses an sd of 1e-3 of the prior width, and the collapsed fraction is reported.
    ``per_object`` also returns whether each field is covered at 68% in each parameter (m, d).
    """
    s = post.sample_batched(x, n, seed=0)                          # (m, n, d)
    mean, std = s.mean(1), s.std(1)
    q = np.quantile(s, [0.025, 0.16, 0.84, 0.975], axis=1)
    in68 = (theta > q[1]) & (theta < q[2])
    floor = 1e-3 * (np.asarray(post.prior.high) - np.asarray(post.prior.low))
    z = (mean - theta) / np.maximum(std, floor)
    out = {"width": std.mean(0).tolist(), "bias_in_widths": z.mean(0).tolist(),
           "median_bias_in_widths": np.median(z, 0).tolist(), "collapsed": (std < floor).mean(0).tolist(),
           "rms_z": np.sqrt((z ** 2).mean(0)).tolist(), "rmse": np.sqrt(((mean - theta) ** 2).mean(0)).tolist(),
           "coverage68": in68.mean(0).tolist(), "coverage95": ((theta > q[0]) & (theta < q[3])).mean(0).tolist()}
    return (out, in68) if per_object else out


def compare_embeddings(name, train_set, test_set, prior, args, embeddings) -> dict:
    out = {}
    for label, (kind, options) in embeddings.items():
        post, secs, hist = train(train_set["theta"], train_set["x"], kind, options, prior, args)
        out[label] = {"train_s": secs, "epochs": hist["epochs"], **posterior_summary(post, test_set["x"], test_set["theta"])}
        out[label]["posterior"] = post
        print(f"{name} {label}: train {secs:.0f} s ({hist['epochs']} epochs), width {np.round(out[label]['width'], 4)}, "
              f"coverage68 {np.round(out[label]['coverage68'], 2)}", flush=True)
    for label in list(embeddings)[1:]:
        suffix = "" if label == "cnn" else f"_{label}"
        out[f"width_ratio_pk_over_cnn{suffix}"] = (np.array(out["pk"]["width"]) / np.array(out[label]["width"])).tolist()
    return out


def gaussian_section(args) -> dict:
    low, high = [0.10, 0.60], [0.50, 1.00]
    prior = BoxUniform(low, high)
    t0 = time.perf_counter()
    sims = simulate_fields("gaussian", args.n_train, noise=args.noise, seed=0)
    sim_s = time.perf_counter() - t0
    test = simulate_fields("gaussian", args.n_test, noise=args.noise, seed=1)
    res = compare_embeddings("gaussian", sims, test, prior, args,
                             {"pk": ("powerspectrum", {}), "cnn": ("cnn2d", CNN2D),
                              "hybrid": ("cnn2d+powerspectrum", CNN2D)})
    obs = simulate_fields("gaussian", 10, noise=args.noise, seed=2)
    t0 = time.perf_counter()
    res["cnn"]["posterior"].sample_batched(sims["x"][:args.n_sample_obs], 1000, seed=0)
    res["sampling"] = {"sim2sky_sample_s": time.perf_counter() - t0, "observations": args.n_sample_obs, "samples": 1000}
    for label in ("pk", "cnn", "hybrid"):
        post, scores = res[label].pop("posterior"), []
        for t, f in zip(obs["theta"], obs["x"]):
            ref = gaussian_posterior_samples(f.astype(float), 2000, low, high, 256.0, noise=args.noise, rng=0)
            q = post.sample(f, 2000, seed=1)
            scores.append(c2st(q, ref, seed=0))
            if label != "hybrid" and ("gaussian_exact" not in FIG or len(FIG.get(f"gaussian_{label}", [])) == 0):
                FIG["gaussian_exact"], FIG[f"gaussian_{label}"], FIG["gaussian_truth"] = ref, q, t
                FIG["gaussian_map"] = f
        res[label]["c2st_mean"], res[label]["c2st_sd"], res[label]["c2st"] = float(np.mean(scores)), float(np.std(scores)), scores
        print(f"gaussian {label}: C2ST to the exact posterior {np.mean(scores):.3f} +- {np.std(scores):.3f}", flush=True)
    res["simulate_fields_per_s"] = args.n_train / sim_s
    if "sbi" in args.sections:
        res["sbi"] = sbi_peer(sims, obs, prior, args, low, high)
    return res


def sbi_peer(sims, obs, prior, args, low, high) -> dict:
    """sbi NPE (NSF) with the same CNN embedding and the same epoch budget."""
    from sbi.inference import NPE as SbiNPE
    from sbi.neural_nets import posterior_nn
    from sbi.utils import BoxUniform as SbiBox

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    embedding = CNN2d(64, 32, **CNN2D)
    net = posterior_nn(model="nsf", embedding_net=embedding)
    inf = SbiNPE(prior=SbiBox(torch.tensor(low), torch.tensor(high)), density_estimator=net, show_progress_bars=False)
    t0 = time.perf_counter()
    inf.append_simulations(torch.as_tensor(sims["theta"]), torch.as_tensor(sims["x"]))
    de = inf.train(training_batch_size=128, max_num_epochs=args.epochs, stop_after_epochs=args.patience)
    train_s = time.perf_counter() - t0
    post = inf.build_posterior(de)
    scores = []
    for t, f in zip(obs["theta"], obs["x"]):
        ref = gaussian_posterior_samples(f.astype(float), 2000, low, high, 256.0, noise=args.noise, rng=0)
        q = post.sample((2000,), x=torch.as_tensor(f)[None], show_progress_bars=False).numpy()
        scores.append(c2st(q, ref, seed=0))
    xs = torch.as_tensor(sims["x"][:args.n_sample_obs])
    t0 = time.perf_counter()
    try:
        post.sample_batched((1000,), x=xs, show_progress_bars=False)
        sample_s = time.perf_counter() - t0
    except Exception as exc:  # report, do not crash the table
        sample_s = float("nan")
        print(f"sbi sample_batched failed: {type(exc).__name__}: {exc}")
    print(f"sbi cnn: train {train_s:.0f} s ({inf.summary['epochs_trained'][-1]} epochs), C2ST {np.mean(scores):.3f}, "
          f"sampling {sample_s:.1f} s", flush=True)
    return {"train_s": train_s, "epochs": int(inf.summary["epochs_trained"][-1]), "c2st_mean": float(np.mean(scores)),
            "c2st_sd": float(np.std(scores)), "sample_s": sample_s}


def lognormal_section(args) -> dict:
    prior = BoxUniform([0.10, 0.60], [0.50, 1.00])
    sims = simulate_fields("lognormal", args.n_train, noise=args.noise, seed=10)
    test = simulate_fields("lognormal", args.n_test, noise=args.noise, seed=11)
    emb = {"pk": ("powerspectrum", {}), "cnn": ("cnn2d", CNN2D)}
    res = {"lognormal": compare_embeddings("lognormal", sims, test, prior, args, emb)}
    shuffled = {**sims, "x": phase_randomize(sims["x"], 2, rng=12)}
    shuffled_test = {**test, "x": phase_randomize(test["x"], 2, rng=13)}
    res["phase_randomised"] = compare_embeddings("phase-randomised", shuffled, shuffled_test, prior, args, emb)
    FIG["lognormal_map"], FIG["shuffled_map"] = test["x"][0], shuffled_test["x"][0]
    cnn = res["lognormal"]["cnn"]["posterior"]
    for part in res.values():
        for label in ("pk", "cnn"):
            part[label].pop("posterior")
    return res, cnn


def reion_section(args) -> dict:
    prior = BoxUniform([10.0, 4.6], [50.0, 5.4])
    t0 = time.perf_counter()
    sims = simulate_fields("reion21cm", args.n_train_3d, noise=args.noise_mk, seed=20)
    sim_s = time.perf_counter() - t0
    test = simulate_fields("reion21cm", args.n_test, noise=args.noise_mk, seed=21)
    res = compare_embeddings("reion21cm", sims, test, prior, args,
                             {"pk": ("powerspectrum", {}), "cnn": ("cnn3d", CNN3D), "cnn2d_los": ("cnn2d", CNN2D_LOS),
                              "hybrid": ("cnn2d+powerspectrum", CNN2D_LOS)})
    FIG["reion_truth"], FIG["reion_cube"] = test["theta"][0], test["x"][0]
    res["cnn2d_los"].pop("posterior"), res["hybrid"].pop("posterior")
    for label in ("pk", "cnn"):
        FIG[f"reion_{label}"] = res[label].pop("posterior").sample(test["x"][0], 2000, seed=1)
    res["simulate_cubes_per_s"] = args.n_train_3d / sim_s
    return res


def emulator_section(args, cnn_posterior) -> dict:
    sims = simulate_fields("lognormal", args.n_train, noise=0.0, seed=30)
    net = FieldFlow((64, 64), 2, layers=args.emu_layers, bins=24)
    emu = FieldEmulator(net, EmulatorConfig(epochs=args.emu_epochs, seed=0)).fit(sims["theta"], sims["x"])
    res = {"train_s": emu.history_["wall_time_s"], "val_nll_per_pixel": emu.history_["best_val_loss"], "checks": []}
    print(f"emulator: trained in {res['train_s']:.0f} s, held-out NLL {res['val_nll_per_pixel']:.4f} nats/pixel", flush=True)
    for i, theta in enumerate(([0.2, 0.7], [0.3, 0.8], [0.45, 0.95])):
        t = np.tile(theta, (args.n_emu_check, 1))
        t0 = time.perf_counter()
        sim = simulate_fields("lognormal", len(t), theta=t, seed=40 + i)["x"]
        sim_s = time.perf_counter() - t0
        again = simulate_fields("lognormal", len(t), theta=t, seed=70 + i)["x"]      # the sample-variance floor
        t0 = time.perf_counter()
        em = emu.sample(t, seed=50 + i)
        emu_s = time.perf_counter() - t0
        stats = compare_fields(sim, em, 2, simulated_again=again)
        FIG.setdefault("emu", []).append((theta, sim[:2], em[:2], stats))
        check = {"theta": theta, "pk_max_error": stats["pk_max_error"], "pdf_max_error": stats["pdf_max_error"],
                 "peaks_max_error": stats["peaks_max_error"], "pk_max_error_floor": stats["pk_max_error_floor"],
                 "pdf_max_error_floor": stats["pdf_max_error_floor"],
                 "peaks_max_error_floor": stats["peaks_max_error_floor"], "std_sim": stats["std_sim"], "std_emu": stats["std_emu"],
                 "minkowski_sim": stats["minkowski_sim"], "minkowski_emu": stats["minkowski_emu"],
                 "k": stats["k"], "pk_ratio": stats["pk_ratio"],
                 "simulator_ms_per_field": 1e3 * sim_s / len(t), "emulator_ms_per_field": 1e3 * emu_s / len(t)}
        if cnn_posterior is not None:   # the CNN posterior on both sets, after the same instrument noise
            noisy = [f[:200] + args.noise * np.random.default_rng(60 + i).standard_normal(f[:200].shape).astype(np.float32)
                     for f in (sim, em)]
            ps, pe = (cnn_posterior.sample_batched(f, 300, seed=0) for f in noisy)
            width = ps.std(1).mean(0)
            check["posterior_mean_shift_in_widths"] = ((pe.mean(1).mean(0) - ps.mean(1).mean(0)) / width).tolist()
            check["posterior_width_ratio_emu_over_sim"] = (pe.std(1).mean(0) / width).tolist()
        res["checks"].append(check)
        print(f"emulator at {theta}: P(k) max err {stats['pk_max_error']:.3f} (floor {stats['pk_max_error_floor']:.3f}), "
              f"PDF max err {stats['pdf_max_error']:.3f} (floor {stats['pdf_max_error_floor']:.3f}), "
              f"peaks {stats['peaks_max_error']:.3f}, {check['emulator_ms_per_field']:.2f} ms/field vs simulator "
              f"{check['simulator_ms_per_field']:.2f}", flush=True)
    return res


def figures(folder: Path):
    """Field examples, emulator statistics and posterior contours for the README."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.ndimage import gaussian_filter

    folder.mkdir(parents=True, exist_ok=True)
    maps = [(k, t) for k, t in (("gaussian_map", "Gaussian"), ("lognormal_map", "log-normal"),
                                ("shuffled_map", "log-normal, phases randomised"), ("reion_cube", "21-cm slice [mK]"))
            if k in FIG]
    if FIG.get("emu"):
        maps.append(("emu_map", "emulated log-normal"))
        FIG["emu_map"] = FIG["emu"][1][2][0]
    if maps:
        fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.2))
        for ax, (key, title) in zip(np.atleast_1d(axes), maps):
            img = FIG[key] if FIG[key].ndim == 2 else FIG[key][FIG[key].shape[0] // 2]
            ax.imshow(np.arcsinh(img) if "log-normal" in title else img, cmap="magma", origin="lower")
            ax.set_title(title, fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(folder / "fields_examples.png", dpi=90)
        plt.close(fig)
    if FIG.get("emu"):
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
        for j, (theta, sim, em, st) in enumerate(FIG["emu"]):
            a.plot(st["k"], st["pk_ratio"], color=f"C{j}", label=f"Fourier flow, Ωm={theta[0]}, σ8={theta[1]}")
        gpu = Path(__file__).parent / "results_emulators_gpu.json"       # the flow-matching U-Net (benchmarks/emulators.py)
        if gpu.exists():
            for j, row in enumerate(json.loads(gpu.read_text())["flowmatch"]["checks"]):
                a.plot(row["k"], row["pk_ratio"], color=f"C{j}", ls="--", label="flow matching" if j == 0 else None)
        a.axhspan(0.95, 1.05, color="0.9")
        a.axvline(16, color="0.5", ls=":")
        a.set_xlabel("k [fundamental modes]"), a.set_ylabel("P_emulated / P_simulated"), a.legend(fontsize=7)
        a.set_ylim(0.8, 1.2)
        nu = [-1, 0, 1, 2]
        st = FIG["emu"][1][3]
        for j, name in enumerate(("V0", "V1", "V2")):
            b.plot(nu, st["minkowski_sim"][j], "o-", color=f"C{j}", label=f"{name} simulated")
            b.plot(nu, st["minkowski_emu"][j], "x--", color=f"C{j}", label=f"{name} emulated")
        b.set_xlabel("threshold [σ]"), b.set_title("Minkowski functionals (Ωm=0.3, σ8=0.8)", fontsize=9)
        b.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(folder / "fields_emulator.png", dpi=90)
        plt.close(fig)
    panels = [p for p in (("gaussian", ("Ωm", "σ8")), ("reion", ("ζ", "log10 Tvir"))) if f"{p[0]}_cnn" in FIG]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
        for ax, (name, labels) in zip(np.atleast_1d(axes), panels):
            sets = [("exact", FIG.get(f"{name}_exact"), "k"), ("P(k)", FIG[f"{name}_pk"], "C0"),
                    ("CNN", FIG[f"{name}_cnn"], "C3")]
            for label, smp, colour in sets:
                if smp is None:
                    continue
                h, xe, ye = np.histogram2d(smp[:, 0], smp[:, 1], bins=30)
                h = gaussian_filter(h, 1.0)
                levels = np.sort(h.ravel())[::-1]
                cum = np.cumsum(levels) / levels.sum()
                lv = sorted({levels[np.searchsorted(cum, 0.68)], levels[np.searchsorted(cum, 0.95)]})
                ax.contour(0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), h.T, levels=lv, colors=colour)
                ax.plot([], [], color=colour, label=label)
            ax.plot(*FIG[f"{name}_truth"], "k*", ms=10, label="truth")
            ax.set_xlabel(labels[0]), ax.set_ylabel(labels[1]), ax.legend(fontsize=8)
            ax.set_title({"gaussian": "Gaussian map (64²)", "reion": "21-cm cube (32³)"}[name], fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / "fields_posteriors.png", dpi=90)
        plt.close(fig)


def converged_pk_section(args) -> dict:
    """The classical peer trained to convergence (P(k) NPE is cheap): up to 300 epochs, patience 30,
    on the same simulations (same seeds) as the sections above."""
    long = argparse.Namespace(epochs=300, patience=30, threads=args.threads)
    cosmo = BoxUniform([0.10, 0.60], [0.50, 1.00])
    out = {}
    setups = [("gaussian", "gaussian", 0, 1, args.noise, cosmo, False, args.n_train),
              ("lognormal", "lognormal", 10, 11, args.noise, cosmo, False, args.n_train),
              ("phase_randomised", "lognormal", 10, 11, args.noise, cosmo, True, args.n_train),
              ("reion21cm", "reion21cm", 20, 21, args.noise_mk, BoxUniform([10.0, 4.6], [50.0, 5.4]), False,
               args.n_train_3d)]
    for name, kind, seed_train, seed_test, noise, prior, shuffle, n in setups:
        sims = simulate_fields(kind, n, noise=noise, seed=seed_train)
        test = simulate_fields(kind, args.n_test, noise=noise, seed=seed_test)
        if shuffle:
            sims["x"], test["x"] = phase_randomize(sims["x"], 2, rng=12), phase_randomize(test["x"], 2, rng=13)
        post, secs, hist = train(sims["theta"], sims["x"], "powerspectrum", {}, prior, long)
        out[name] = {"train_s": secs, "epochs": hist["epochs"], **posterior_summary(post, test["x"], test["theta"])}
        if name == "gaussian":
            obs = simulate_fields("gaussian", 10, noise=noise, seed=2)
            scores = [c2st(post.sample(f, 2000, seed=1), gaussian_posterior_samples(
                f.astype(float), 2000, [0.10, 0.60], [0.50, 1.00], 256.0, noise=noise, rng=0), seed=0)
                for f in obs["x"]]
            out[name]["c2st_mean"], out[name]["c2st_sd"] = float(np.mean(scores)), float(np.std(scores))
        print(f"converged P(k) {name}: {hist['epochs']} epochs, {secs:.0f} s, width {np.round(out[name]['width'], 4)}, "
              f"coverage68 {np.round(out[name]['coverage68'], 2)}", flush=True)
    return out


def table(results):
    print("\n| field | summary | train s | width (param 1, 2) | coverage 68% | C2ST to exact |")
    print("|---|---|---|---|---|---|")
    rows = [("gaussian 64^2", results.get("gaussian")),
            ("log-normal 64^2", (results.get("lognormal") or {}).get("lognormal")),
            ("phase-randomised log-normal", (results.get("lognormal") or {}).get("phase_randomised")),
            ("21-cm 32^3", results.get("reion21cm"))]
    for name, part in rows:
        if not part:
            continue
        for label in ("pk", "cnn"):
            r = part[label]
            c = f"{r['c2st_mean']:.3f} ± {r['c2st_sd']:.3f}" if "c2st_mean" in r else "-"
            print(f"| {name} | {'P(k)' if label == 'pk' else 'CNN'} | {r['train_s']:.0f} | "
                  f"{r['width'][0]:.4g}, {r['width'][1]:.4g} | {r['coverage68'][0]:.2f}, {r['coverage68'][1]:.2f} | {c} |")
        for key in [k for k in part if k.startswith("width_ratio_pk_over_")]:
            print(f"| {name} | {key} | | {part[key][0]:.2f}, {part[key][1]:.2f} | | |")
        for key, label in (("cnn2d_los", "CNN2d, LOS as channels"), ("hybrid", "CNN + P(k) (hybrid)")):
            if key in part:
                r = part[key]
                c = f"{r['c2st_mean']:.3f} ± {r['c2st_sd']:.3f}" if "c2st_mean" in r else "-"
                print(f"| {name} | {label} | {r['train_s']:.0f} | {r['width'][0]:.4g}, {r['width'][1]:.4g} | "
                      f"{r['coverage68'][0]:.2f}, {r['coverage68'][1]:.2f} | {c} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["gaussian", "lognormal", "reion", "emulator", "sbi",
                                                       "pkconverged"])
    ap.add_argument("--merge", action="store_true", help="update the sections run in an existing --out file")
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-train-3d", type=int, default=8_000)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--n-sample-obs", type=int, default=1000)
    ap.add_argument("--n-emu-check", type=int, default=2000,
                    help="maps per parameter point; 500 left a sample-variance floor of 3-8%% on the low-k shells")
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--emu-epochs", type=int, default=12)
    ap.add_argument("--emu-layers", type=int, default=2)
    ap.add_argument("--noise", type=float, default=0.2, help="white noise per pixel of the density maps")
    ap.add_argument("--noise-mk", type=float, default=3.0, help="thermal noise per voxel of the 21-cm cubes [mK]")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 when another benchmark shares the machine)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--figures", type=Path, default=None, help="folder for the README figures (e.g. docs)")
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_train_3d, args.n_test, args.epochs, args.emu_epochs = 1500, 600, 60, 4, 2
        args.n_sample_obs, args.n_emu_check = 100, 60
    torch.set_num_threads(args.threads)
    results, cnn = {"settings": {k: v for k, v in vars(args).items() if k != "out"}}, None
    results["settings"]["out"] = results["settings"]["figures"] = None
    t_all = time.perf_counter()
    previous = json.loads(args.out.read_text()) if args.merge and args.out and args.out.exists() else {}

    def save():     # after every section: a crash in a later one (or in the figures) keeps what was measured
        if args.out:
            keep = {k: v for k, v in previous.items() if k not in results}
            write_text(args.out, json.dumps({**keep, **results}, indent=1, default=float))

    sections = [("gaussian", "gaussian", lambda: gaussian_section(args)),
                ("lognormal", "lognormal", lambda: lognormal_section(args)),
                ("reion", "reion21cm", lambda: reion_section(args)),
                ("emulator", "emulator", lambda: emulator_section(args, cnn)),
                ("pkconverged", "pk_converged", lambda: converged_pk_section(args))]
    for section, key, run in sections:
        if section in args.sections:
            results[key] = run()
            if section == "lognormal":
                results[key], cnn = results[key]
            results["wall_s"] = time.perf_counter() - t_all
            save()
    table({**previous, **results})
    if args.out:
        print(f"results in {args.out}")
    if args.figures:
        figures(args.figures)


if __name__ == "__main__":
    main()
