"""What ``sim2sky explain / represent / tension`` do, as functions: each writes a folder with tables,
figures and ``report.html``, and returns a summary dict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..core.atomic import atomic_dir, save_npz, write_text
from ..core.errors import InputError, ModelFolderError
from ..core.modelio import seal_folder, verify_folder
from ..core.tables import write_table
from ..learn import (CalibratedClassifier, DensityScorer, Representation, RepresentationConfig, autoencoder_network,
                     classifier_attributions, cluster, cluster_report, latent_tension, project, shap_attributions)
from ..report.understand import (attribution_bar, attribution_beeswarm, attribution_images, attribution_spectra, html_page,
                                 html_table,
                                 latent_map, score_histogram)
from .inputs import Inputs, classifier_inputs, read_inputs

__all__ = ["explain", "fit_representation", "load_representation", "embed", "cluster_inputs", "anomalies", "tension"]


def _vectors(inp: Inputs) -> np.ndarray:
    """(n, k) vectors for a representation: spectra use their normalised-flux channel."""
    return inp.x[:, 0, :] if inp.x.ndim == 3 else inp.x


def _subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def explain(model, path, out, method: str = "ig", max_objects: int = 500, steps: int = 64, nsamples: int = 200,
            redshift: float | None = None, seed: int = 0) -> dict:
    """Attributions of a classifier's decision for the objects in ``path``.

    Writes ``attributions.csv`` (tables: one row per object, the predicted class, the attribution
    of each feature) or ``attributions.npz`` (spectra: (n, C, L)), ``summary.json`` (the top
    features per class), figures and ``report.html`` into ``out``.

    ``method``: ``ig`` (integrated gradients from the training mean; completeness checked) or
    ``shap`` (expected gradients against 200 of the objects as background).
    """
    if method not in ("ig", "shap"):
        raise InputError(f"--method: expected 'ig' or 'shap', got {method!r}")
    clf = CalibratedClassifier.load(model)
    inp = classifier_inputs(clf, path, redshift)
    if len(inp.x) == 0:
        raise InputError(f"INPUT: no usable objects in {path} (no Hα, or all masked)")
    x = inp.x[_subsample(len(inp.x), max_objects, seed)]
    pred = clf.predict_all(x)
    target = np.argmax(pred["proba"], 1)
    net = clf.network_
    if method == "ig":
        # images: attributions against empty sky; vectors: against the training mean
        base = np.zeros_like(x[0]) if inp.kind == "image" else net.x_mean.numpy()
        attr, err = classifier_attributions(net, x, target, baseline=base, steps=steps)
        completeness = float(np.abs(err).max() / max(np.abs(attr.reshape(len(x), -1).sum(1)).mean(), 1e-12))
    else:
        bg = x[_subsample(len(x), 200, seed + 1)]
        attr, completeness = shap_attributions(net, x, target, bg, nsamples=nsamples, seed=seed), None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classes = list(clf.classes)
    figs, summary = [], {"n": len(x), "method": method, "kind": inp.kind, "classes": {}}
    if completeness is not None:
        summary["completeness_error_over_mean_attribution"] = completeness
    if inp.x.ndim == 2:
        names = inp.names
        t = Table({"predicted": np.asarray(classes)[target], "label": pred["label"].astype(str)})
        for j, name in enumerate(names):
            t[f"attr_{name}"] = attr[:, j]
        write_table(t, out / "attributions.csv")
        attribution_bar(attr, names, target, classes, out / "attribution_bar.png")
        attribution_beeswarm(attr, x, names, out / "attribution_beeswarm.png")
        figs = ["attribution_bar.png", "attribution_beeswarm.png"]
        for k, c in enumerate(classes):
            if (target == k).any():
                m = np.abs(attr[target == k]).mean(0)
                summary["classes"][c] = {"n": int((target == k).sum()),
                                         "top_features": [names[j] for j in np.argsort(m)[::-1][:5]]}
    elif inp.kind == "image":
        save_npz(out / "attributions.npz", attributions=attr.astype(np.float32), predicted=target,
                 images=x.astype(np.float32))
        attribution_images(attr, x, target, classes, out / "attribution_images.png")
        figs = ["attribution_images.png"]
        for k, c in enumerate(classes):
            if (target == k).any():
                a = attr[target == k]
                pos = np.clip(a, 0, None).sum((1, 2))
                summary["classes"][c] = {"n": int((target == k).sum()),
                                         "positive_attribution_share": round(float(
                                             (pos / np.maximum(np.abs(a).sum((1, 2)), 1e-12)).mean()), 3)}
    else:
        save_npz(out / "attributions.npz", attributions=attr.astype(np.float32), predicted=target,
                 wave=np.asarray(inp.wave, np.float64))
        flux_attr = attr[:, 0, :]
        attribution_spectra(flux_attr, inp.wave, target, classes, out / "attribution_spectra.png", flux=x[:, 0, :])
        figs = ["attribution_spectra.png"]
        for k, c in enumerate(classes):
            if (target == k).any():
                m = np.abs(flux_attr[target == k]).mean(0)
                summary["classes"][c] = {"n": int((target == k).sum()),
                                         "top_wavelengths": [round(float(inp.wave[j]), 1) for j in np.argsort(m)[::-1][:5]]}
    write_text(out / "summary.json", json.dumps(summary, indent=1))
    rows = [{"class": c, **{k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in s.items()}}
            for c, s in summary["classes"].items()]
    html_page(out / "report.html", f"What drives {Path(model).name}", [
        ("Top attributions per predicted class", html_table(rows), figs)])
    return summary


def fit_representation(path, out, kind: str = "auto", columns=None, label_column: str | None = None,
                       latent_dim: int = 8, beta: float = 0.05, epochs: int = 40, encoder: str = "mlp",
                       seed: int = 0, progress: bool = False) -> dict:
    """Learn an autoencoder on the inputs in ``path`` (no labels used) and a density flow on its
    latents; write the model folder ``out`` (``representation/``, ``density/``, ``inputs.json``)."""
    inp = read_inputs(path, kind, columns, label_column)
    x = _vectors(inp)
    if len(x) < 50:
        raise InputError(f"INPUT: need at least 50 objects to learn a representation, got {len(x)}")
    rep = Representation(autoencoder_network(x.shape[1], latent_dim, kind=encoder, seed=seed),
                         RepresentationConfig(beta=beta, epochs=epochs, seed=seed), inp.names or None).fit(x, progress)
    z = rep.transform(x)
    density = DensityScorer().fit(z, progress)
    out = Path(out)
    recon = float(rep.reconstruction_error(x).mean())
    with atomic_dir(out) as tmp:             # the whole folder or nothing; a user's folder is never replaced
        rep.save(tmp / "representation", provenance={"input": str(path)}, metrics={"reconstruction_mse": recon})
        density.save(tmp / "density")
        write_text(tmp / "inputs.json", json.dumps({"kind": inp.kind, "columns": inp.columns}, indent=1))
        seal_folder(tmp)
    return {"n": len(x), "features": x.shape[1], "latent_dim": latent_dim, "reconstruction_mse": recon, "out": str(out)}


def load_representation(model) -> tuple[Representation, DensityScorer, dict]:
    model = Path(model)
    if not (model / "inputs.json").is_file():
        raise InputError(f"MODEL: {model} is not a representation folder (written by 'sim2sky represent fit')")
    verify_folder(model)        # inputs.json decides how a file is read: it must be the one written
    try:
        info = json.loads((model / "inputs.json").read_text())
        if not isinstance(info, dict) or not isinstance(info.get("kind"), str):
            raise ValueError("no 'kind'")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"MODEL: {model / 'inputs.json'} is not a valid input description ({exc}); "
                               "refit the representation") from None
    return Representation.load(model / "representation"), DensityScorer.load(model / "density"), info


def _latents(model, path, label_column=None):
    rep, density, info = load_representation(model)
    z, inp = _embed_file(rep, info, path, label_column)
    return z, density, inp


def _embed_file(rep: Representation, info: dict, path, label_column=None):
    inp = read_inputs(path, info["kind"], info.get("columns"), label_column)
    return rep.transform(_vectors(inp)), inp


def embed(model, path, out) -> dict:
    """Latent means (and the anomaly score) of every object in ``path`` -> table ``out``."""
    z, density, inp = _latents(model, path)
    t = Table({f"z{j}": z[:, j] for j in range(z.shape[1])})
    t["anomaly_score"] = density.score(z)
    write_table(t, out)
    return {"n": len(z), "out": str(out)}


def cluster_inputs(model, path, out, label_column: str | None = None, min_cluster_size: int = 50,
                   umap_max: int = 50_000, seed: int = 0) -> dict:
    """HDBSCAN clusters of the latents, a UMAP map, and (given known labels) purity/completeness."""
    z, _, inp = _latents(model, path, label_column)
    labels = cluster(z, min_cluster_size=min_cluster_size, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    idx = _subsample(len(z), umap_max, seed)
    proj = project(z[idx], seed=seed)
    t = Table({"cluster": labels})
    if inp.labels is not None:
        t["label"] = inp.labels
    write_table(t, out / "clusters.csv")
    latent_map(proj, labels[idx], out / "umap_clusters.png", "HDBSCAN clusters")
    figs = ["umap_clusters.png"]
    summary = {"n": len(z), "n_clusters": int(labels.max() + 1), "noise_fraction": float((labels < 0).mean())}
    text = ""
    if inp.labels is not None:
        rep = cluster_report(labels, inp.labels)
        summary.update(rep)
        latent_map(proj, inp.labels[idx], out / "umap_labels.png", f"known labels ({label_column})")
        figs.append("umap_labels.png")
        text = html_table([{"class": c, "completeness": v} for c, v in rep["completeness"].items()])
        text = f"<p>purity {rep['purity']:.3f}, V-measure {rep['v_measure']:.3f}, ARI {rep['adjusted_rand']:.3f}</p>" + text
    write_text(out / "summary.json", json.dumps(summary, indent=1))
    html_page(out / "report.html", "Clusters of the latent space", [("Clusters", text, figs)])
    return summary


def anomalies(model, path, out, top: int = 100, label_column: str | None = None) -> dict:
    """Rank objects by anomaly score (-log density of their latents): ``anomalies.csv`` (all rows,
    most anomalous first, with the row index) and a histogram."""
    z, density, inp = _latents(model, path, label_column)
    score = density.score(z)
    order = np.argsort(-score)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = Table({"row": order, "anomaly_score": score[order], "rank": np.arange(1, len(order) + 1)})
    if inp.labels is not None:
        t["label"] = inp.labels[order]
    write_table(t, out / "anomalies.csv")
    score_histogram({"all": score, f"top {top}": score[order[:top]]}, out / "anomaly_scores.png")
    summary = {"n": len(z), "top": [int(i) for i in order[:top]]}
    if inp.labels is not None:
        names, counts = np.unique(inp.labels[order[:top]], return_counts=True)
        summary["top_labels"] = {str(a): int(b) for a, b in sorted(zip(names, counts), key=lambda p: -p[1])}
    write_text(out / "summary.json", json.dumps(summary, indent=1))
    html_page(out / "report.html", "Anomalies", [("Anomaly scores", f"<p>{len(z)} objects</p>", ["anomaly_scores.png"])])
    return summary


def tension(theory, data, encoder, out, by: str | None = None, seed: int = 0) -> dict:
    """How far data are from theory in the latent space of ``encoder`` (a representation folder
    trained on theory): C2ST and MMD between the two latent sets, the fraction of data objects
    less likely under the theory density than 99% of theory objects, per ``by`` group too."""
    rep, density, info = load_representation(encoder)
    (zt, it), (zd, idd) = _embed_file(rep, info, theory, by), _embed_file(rep, info, data, by)
    st, sd = density.score(zt), density.score(zd)
    groups = {}
    if by is not None and it.labels is not None and idd.labels is not None:
        groups = {g: (it.labels == g, idd.labels == g) for g in sorted(set(it.labels) & set(idd.labels))}
    summary = latent_tension(zt, zd, st, sd, groups, seed=seed)
    rows = [{"group": "all" if g == "overall" else g, **r} for g, r in summary.items()]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    idx_t, idx_d = _subsample(len(zt), 20_000, seed), _subsample(len(zd), 20_000, seed)
    proj = project(np.vstack([zt[idx_t], zd[idx_d]]), seed=seed)
    latent_map(proj, np.r_[np.full(len(idx_t), "theory"), np.full(len(idx_d), "data")], out / "umap_theory_data.png",
               "theory vs data in the theory-trained latent space")
    score_histogram({"theory": st, "data": sd}, out / "density_scores.png")
    write_text(out / "summary.json", json.dumps(summary, indent=1))
    cols = ["group", "n_theory", "n_data", "c2st", "c2st_err", "mmd2", "mmd_p", "data_outside_theory_99"]
    html_page(out / "report.html", "Theory vs data", [
        ("Two-sample statistics (C2ST 0.5 = indistinguishable)", html_table([{c: r[c] for c in cols} for r in rows]),
         ["umap_theory_data.png", "density_scores.png"])])
    return summary
