"""Apply the nebula models to line tables and measured spectra.

:class:`NebulaPipeline` bundles the calibrated classifier and the HII-parameter posterior and
turns line fluxes into class probabilities, a class (HII/PN/SNR/DIG/unknown) and, for HII,
posterior means and standard deviations of 12+log(O/H), log U, log P/k and E(B-V).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, suggest
from ..learn.classifier import UNKNOWN, CalibratedClassifier
from ..learn.features import line_features
from ..simulate.lines import LINE_NAMES

__all__ = ["NebulaPipeline", "read_line_table", "classify_table", "DETECTION_SNR", "TABLE_LINES", "PASSTHROUGH"]

DETECTION_SNR = 3.0

TABLE_LINES = tuple(LINE_NAMES) + ("SII6717_31",)
PASSTHROUGH = ("ID", "NAME", "RA", "DEC", "X", "Y", "Z", "REGION")


def default_model_dir() -> Path:
    from ..cases.nebulae import DEFAULT_MODEL_DIR

    return DEFAULT_MODEL_DIR


class NebulaPipeline:
    """Classifier + HII posterior loaded from a model folder (default: the shipped models).

    Parameters
    ----------
    model_dir : path, optional
        Folder with ``classifier/`` and optionally ``hii_params/`` (as written by
        ``sim2sky train nebulae``); ``classifier`` may also be a DANN-adapted model.
    """

    def __init__(self, model_dir=None, num_samples: int = 300):
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.model_dir = model_dir
        clf_dir = model_dir / "classifier" if (model_dir / "classifier").is_dir() else model_dir
        self.classifier = CalibratedClassifier.load(clf_dir)
        self.posterior = None
        if (model_dir / "hii_params").is_dir():
            from ..infer.io import load_posterior

            self.posterior = load_posterior(model_dir / "hii_params")
        self.num_samples = num_samples

    @property
    def classes(self):
        return self.classifier.classes

    @property
    def param_names(self):
        return list(self.posterior.theta_names) if self.posterior is not None else []

    def predict(self, table: dict, n: int, seed: int = 0) -> dict:
        """Classify ``n`` objects given ``table`` ({line: (flux, err)}, optional ``SIGMA``).

        Returns dict: ``proba`` (n, 4) (NaN where no Hα), ``label`` (n,) str, ``flag`` (n,) str
        (``ok``, ``no_halpha``, ``low_snr``, ``unlike_training``), ``distance`` (n,),
        ``param_mean``/``param_std`` (n, p) NaN except for HII, ``features`` (n, d).
        """
        x, valid = line_features(table, n)
        ha, ha_err = table.get("HA6563", (None, None))
        snr = np.full(n, np.inf)
        if ha_err is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = np.where(np.isfinite(ha_err), np.asarray(ha, float) / np.asarray(ha_err, float), np.inf)
        proba = np.full((n, len(self.classes)), np.nan, np.float32)
        label = np.full(n, UNKNOWN, dtype=object)
        flag = np.where(valid, "ok", "no_halpha").astype(object)
        dist = np.full(n, np.nan)
        if valid.any():
            res = self.classifier.predict_all(x[valid])
            proba[valid], label[valid], dist[valid] = res["proba"], res["label"], res["distance"]
            flag[valid] = np.where(res["label"] == UNKNOWN, "unlike_training", "ok")
        low = valid & (snr < DETECTION_SNR)
        label[low], flag[low] = UNKNOWN, "low_snr"
        p = len(self.param_names)
        mean, std = np.full((n, p), np.nan), np.full((n, p), np.nan)
        hii = label == "HII"
        if self.posterior is not None and hii.any():
            import torch

            gen = torch.Generator().manual_seed(seed)      # private RNG: thread-safe and reproducible
            samples = self.posterior.sample_batched(x[hii], self.num_samples, generator=gen, max_rows=1 << 16)
            mean[hii], std[hii] = samples.mean(1), samples.std(1)
        return {"proba": proba, "label": label, "flag": flag, "distance": dist, "param_mean": mean,
                "param_std": std, "features": x, "valid": valid}


def _param_column(name: str) -> str:
    return {"12 + log O/H": "OH", "log U": "logU", "log P/k": "logPk", "E(B-V)": "EBV"}.get(name, name)


def read_line_table(path) -> tuple[dict, int, dict]:
    """Read a CSV/FITS/Parquet/ECSV line table; validate names and values.

    Returns ``(table, n, passthrough)`` where ``table`` maps line names to ``(flux, err)``.
    Raises :class:`InputError` for unknown columns, non-numeric or negative fluxes, or a table
    without both ``HA6563`` and ``HB4861``.
    """
    from ..tables import _read_table

    path = Path(path)
    if not path.is_file():
        raise InputError(f"TABLE: {path} does not exist")
    t = _read_table(path)
    n = len(t)
    if n == 0:
        raise InputError(f"TABLE: {path.name} has no rows")
    allowed = set(TABLE_LINES) | {f"{l}_ERR" for l in TABLE_LINES} | {"SIGMA", "SIGMA_ERR", "EW_HA6563"}
    passthrough, table = {}, {}
    for col in t.colnames:
        key = col.upper()
        if key in PASSTHROUGH or key.startswith("TRUE_"):
            passthrough[col] = np.asarray(t[col])
            continue
        if key not in allowed:
            raise InputError(
                f"TABLE: unknown column {col!r}{suggest(key, sorted(allowed))}; line columns are "
                f"{', '.join(TABLE_LINES)} with optional <LINE>_ERR, plus SIGMA [km/s], EW_HA6563 [Å] and pass-through "
                f"columns {', '.join(PASSTHROUGH)} and TRUE_*")
        values = t[col]
        if not np.issubdtype(np.asarray(values).dtype, np.number):
            raise InputError(f"TABLE: column {col!r} is not numeric (first value {values[0]!r})")
        arr = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
        if not key.endswith("_ERR") and np.any(arr[np.isfinite(arr)] < 0):
            rows = np.flatnonzero(np.nan_to_num(arr, nan=0.0) < 0)
            raise InputError(f"TABLE: column {col!r} has negative fluxes (rows {rows[:5].tolist()}); give "
                             "undetected lines as 0 (or NaN) with their error in the _ERR column")
        if key.endswith("_ERR") and np.any(arr[np.isfinite(arr)] <= 0):
            raise InputError(f"TABLE: column {col!r} has errors <= 0; errors must be positive (or NaN if unknown)")
        if np.isinf(arr).any():
            raise InputError(f"TABLE: column {col!r} contains inf")
        table[key] = arr
    missing = [c for c in ("HA6563", "HB4861") if c not in table]
    if missing:
        raise InputError(f"TABLE: {path.name} has no {' or '.join(missing)} column; the classifier needs Hα "
                         "and Hβ (fluxes may be NaN in some rows)")
    lines = {}
    for name in TABLE_LINES:
        if name in table:
            lines[name] = (table[name], table.get(f"{name}_ERR"))
        elif f"{name}_ERR" in table:
            raise InputError(f"TABLE: {name}_ERR is given without {name}")
    if "SII6717_31" not in lines and ("SII6717" in lines) != ("SII6731" in lines):
        one = "SII6717" if "SII6717" in lines else "SII6731"
        raise InputError(f"TABLE: only {one} of the [SII] doublet is given; give both, or their sum as SII6717_31")
    # an undetected line: flux NaN with an error means "0 ± err" (an upper limit)
    for name, (f, e) in list(lines.items()):
        if e is not None:
            lines[name] = (np.where(np.isnan(f) & np.isfinite(e), 0.0, f), e)
    for extra in ("SIGMA", "EW_HA6563"):
        if extra in table:
            lines[extra] = (table[extra], None)
    return lines, n, passthrough


def classify_table(path, out, model_dir=None, seed: int = 0) -> dict:
    """Classify every row of a line table; write ``out`` (CSV, FITS or ECSV) atomically."""
    from astropy.table import Table

    from ..tables import write_table

    out = Path(out)
    if out.suffix.lower() not in (".csv", ".fits", ".ecsv"):
        raise InputError(f"--out: {out.name} must end in .csv, .fits or .ecsv")
    table, n, passthrough = read_line_table(path)
    pipe = NebulaPipeline(model_dir)
    res = pipe.predict(table, n, seed=seed)
    cols = dict(passthrough)
    for k, c in enumerate(pipe.classes):
        cols[f"p_{c}"] = np.round(res["proba"][:, k], 5)
    cols["class"] = res["label"].astype(str)
    cols["flag"] = res["flag"].astype(str)
    cols["ood_distance"] = np.round(res["distance"], 3)
    for j, name in enumerate(pipe.param_names):
        cols[f"{_param_column(name)}_mean"] = np.round(res["param_mean"][:, j], 4)
        cols[f"{_param_column(name)}_std"] = np.round(res["param_std"][:, j], 4)
    write_table(Table(cols), out)
    counts = {c: int((res["label"] == c).sum()) for c in (*pipe.classes, UNKNOWN)}
    return {"n": n, "counts": counts, "out": str(out)}


def table_features(path) -> np.ndarray:
    """Features of the rows of a line table that have Hα (for domain adaptation)."""
    table, n, _ = read_line_table(path)
    x, valid = line_features(table, n)
    return x[valid]


def adapt_to_target(x_target, out, model_dir=None, n_per_class: int = 8000, epochs: int = 25, seed: int = 0,
                    progress: bool = False, log=print) -> Path:
    """DANN-adapt the nebula classifier to unlabelled target features; write a model folder.

    The folder holds the adapted ``classifier/`` and a copy of the base ``hii_params/``.
    """
    import shutil

    from ..cases.nebulae import CLASSES, simulate_set, theory_domain
    from ..learn.classifier import ClassifierConfig
    from ..learn.dann import DANNConfig, fit_dann
    from ..learn.features import FEATURE_NAMES

    base = Path(model_dir) if model_dir is not None else default_model_dir()
    x_target = np.asarray(x_target, np.float32)
    log(f"simulating {4 * n_per_class} labelled source spectra...")
    src = simulate_set(theory_domain(), n_per_class, seed)
    cal = simulate_set(theory_domain(), max(n_per_class // 5, 500), seed + 1, augment=False)
    ref = simulate_set(theory_domain(), max(n_per_class // 5, 500), seed + 4)
    log(f"DANN training on {int(src['valid'].sum())} source and {len(x_target)} target rows...")
    clf = CalibratedClassifier(CLASSES, ClassifierConfig(epochs=epochs, seed=seed), FEATURE_NAMES)
    v, vc = src["valid"], cal["valid"]
    fit_dann(clf, src["x"][v], src["y"][v], x_target, cal["x"][vc], cal["y"][vc], DANNConfig(epochs=epochs, seed=seed),
             progress=progress, x_ref=ref["x"][ref["valid"]], y_ref=ref["y"][ref["valid"]])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clf.save(out / "classifier", provenance={"command": "sim2sky nebulae adapt", "method": "DANN",
                                             "n_target": int(len(x_target)), "seed": seed})
    if (base / "hii_params").is_dir():
        tmp = out / ".hii_params.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(base / "hii_params", tmp)
        shutil.rmtree(out / "hii_params", ignore_errors=True)
        tmp.rename(out / "hii_params")
    return out
