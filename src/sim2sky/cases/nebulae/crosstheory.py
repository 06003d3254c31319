"""Cross-theory checks of the nebula classifier: line tables made straight from theory families,
empirical AGN/LINER test families, leave-one-grid-out training, calibration across theories.

The question is the one of the whole product: trained on some theory grids, does the classifier
still say the right thing (or "unknown") on a grid it has never seen?
"""

from __future__ import annotations

import numpy as np
import torch

from .base import NebulaModel, argon_from_sulphur, fill_doublets, helium_from_abundance
from ...learn.calibrate import expected_calibration_error
from ...learn.classifier import fit_temperature
from .features import line_features
from .lines import LINE_NAMES, atomic
from .schema import CLASSES
from .training import fit_classifier, simulate_set, theory_domain

__all__ = ["STRONG_LINES", "EmpiricalSeyfert", "EmpiricalLINER", "theory_line_table", "five_line_table",
           "leave_one_grid_out",
           "bpt_coverage_figure", "kauffmann03", "kewley01"]


_I = {n: i for i, n in enumerate(LINE_NAMES)}

#: The five strong lines most surveys tabulate (Hβ, [OIII]5007, Hα, [NII]6584, [SII]6717+31).
STRONG_LINES = ("HB4861", "OIII5007", "HA6563", "NII6584", "SII6717_31")


class _EmpiricalBPT(NebulaModel):
    """Line ratios drawn around an observed locus of the SDSS BPT diagrams (Kewley et al. 2006,
    MNRAS 372, 961, arXiv:astro-ph/0605681, Fig. 4 and Table 3; Ho, Filippenko & Sargent 1997 for
    LINER [OI]/Hα): a test family *independent of every training grid*, never used for training.

    ``centre`` and ``scatter`` are (log [OIII]/Hβ, log [NII]/Hα, log [SII]/Hα, log [OI]/Hα)."""

    centre = (0.0, 0.0, 0.0, 0.0)
    scatter = (0.2, 0.15, 0.15, 0.2)
    corr_o3_n2 = 0.3
    log_ne = (2.0, 3.0)
    sigma_kms = (100.0, 300.0)
    ew_halpha = (3.0, 100.0)
    parameters = ()

    def sample(self, n, rng):
        c = np.array(self.centre)
        s = np.array(self.scatter)
        cov = np.diag(s**2)
        cov[0, 1] = cov[1, 0] = self.corr_o3_n2 * s[0] * s[1]
        cov[1, 2] = cov[2, 1] = 0.6 * s[1] * s[2]
        cov[2, 3] = cov[3, 2] = 0.6 * s[2] * s[3]
        o3, n2, s2, o1 = rng.multivariate_normal(c, cov, n).T
        T = rng.uniform(10000.0, 15000.0, n)
        n_e = 10 ** rng.uniform(*self.log_ne, n)
        a = atomic()
        ha = a("ha_hb", T, n_e) * 10 ** rng.normal(0.03, 0.02, n)     # collisional Hα enhancement
        f = np.zeros((n, len(LINE_NAMES)))
        f[:, _I["HB4861"]], f[:, _I["HA6563"]] = 1.0, ha
        f[:, _I["OIII5007"]] = 10**o3
        f[:, _I["NII6584"]] = ha * 10**n2
        r = a("sii_6717_6731", T, n_e)
        f[:, _I["SII6731"]] = ha * 10**s2 / (1 + r)
        f[:, _I["SII6717"]] = ha * 10**s2 - f[:, _I["SII6731"]]
        f[:, _I["OI6300"]] = ha * 10**o1
        f[:, _I["NI5200"]] = f[:, _I["NII6584"]] * 10 ** rng.normal(-1.3, 0.3, n)
        helium_from_abundance(f, rng.uniform(0.06, 0.10, n), T, n_e)
        f[:, _I["SIII9069"]] = ha * 10 ** rng.normal(-1.0, 0.2, n)
        f[:, _I["ARIII7135"]] = argon_from_sulphur(f[:, _I["SIII9069"]], T, n_e, rng)
        return {"o3": o3, "n2": n2, "s2": s2, "o1": o1}, fill_doublets(f, T, n_e)


class EmpiricalSeyfert(_EmpiricalBPT):
    """Seyfert 2 narrow-line regions: the SDSS Seyfert branch above the Kewley et al. (2001) line."""

    name, nebula_class = "empirical_seyfert", "AGN"
    centre = (0.85, -0.05, -0.30, -1.00)
    scatter = (0.18, 0.15, 0.15, 0.20)


class EmpiricalLINER(_EmpiricalBPT):
    """LINERs: low [OIII]/Hβ, strong low-ionisation lines (SDSS LINER branch; [OI]/Hα > 0.08)."""

    name, nebula_class = "empirical_liner", "LINER"
    centre = (0.10, 0.05, -0.05, -0.75)
    scatter = (0.15, 0.12, 0.12, 0.18)


def theory_line_table(fluxes: np.ndarray, rng, lines=STRONG_LINES, rel_err: float = 0.03) -> dict:
    """A line table as a user would make it from model fluxes (n, 15) relative to Hβ: the ``lines``
    only, Gaussian errors of ``rel_err`` × flux, no EW, no dispersion (``{name: (flux, err)}``)."""
    n = len(fluxes)
    table = {}
    for line in lines:
        if line == "SII6717_31":
            f = fluxes[:, _I["SII6717"]] + fluxes[:, _I["SII6731"]]
        else:
            f = fluxes[:, _I[line]]
        err = rel_err * f
        table[line] = (f + rng.standard_normal(n) * err, err)
    return table


def five_line_table(models, n: int, seed: int = 0, rel_err: float = 0.03):
    """A labelled line table of ``n`` objects per theory family in ``models`` with only the five
    strong lines and ``rel_err`` errors (:func:`theory_line_table`): columns ``<LINE>``,
    ``<LINE>_ERR`` (relative to Hβ = 1), truth ``TRUE_CLASS`` and ``FAMILY``."""
    from astropy.table import QTable, vstack

    rng = np.random.default_rng(seed)
    parts = []
    for model in models:
        _, fluxes = model.sample(n, rng)
        table = theory_line_table(fluxes, rng, rel_err=rel_err)
        cols = {}
        for line, (flux, err) in table.items():
            cols[line], cols[f"{line}_ERR"] = flux, err
        cols["TRUE_CLASS"], cols["FAMILY"] = np.full(n, model.nebula_class), np.full(n, model.name)
        parts.append(QTable(cols))
    return vstack(parts)


def leave_one_grid_out(families, n_per_class: int = 6000, epochs: int = 15, seed: int = 0, n_test: int = 2000,
                       log=print) -> dict:
    """Train on every HII grid but one, test on the one left out, for each grid in ``families``.

    Per fold: HII recall and the full confusion on measured spectra of the left-out grid (the other
    classes from fresh draws of their own models), HII recall on 5-line tables of it, and the ECE
    with (a) the temperature fitted within the training theories and (b) the *cross-theory*
    temperature fitted on the other folds' left-out predictions (nested: fold F never sees its own
    grid, not even for calibration). Returns ``{"folds": [...], "temperature_ratio": r}`` where
    ``r`` = median over folds of cross-theory / within-theory temperature, the factor that
    ``train_nebulae`` applies to the shipped model.
    """
    folds = []
    for i, left in enumerate(families):
        train_families = tuple(f for f in families if f is not left)
        dom = theory_domain(hii=train_families)
        clf = fit_classifier(dom, n_per_class, (seed + 10 * i, seed + 10 * i + 1, seed + 10 * i + 2), epochs=epochs,
                             seed=seed)
        test = simulate_set(theory_domain(hii=(left,)), n_test, seed + 10 * i + 3, augment=False)
        vt = test["valid"]
        res = clf.predict_all(test["x"][vt])
        y = test["y"][vt]
        rng = np.random.default_rng(seed + i)
        _, fluxes = left().sample(n_test, rng)
        table = clf.predict_all(_table_features(theory_line_table(fluxes, rng)))["label"]
        hii = y == CLASSES.index("HII")
        fold = {"left_out": left.name, "train": [f.name for f in train_families],
                "hii_recall_spectra": float(np.mean(res["proba"][hii].argmax(1) == y[hii])),
                "hii_unknown_spectra": float(np.mean(res["label"][hii] == "unknown")),
                "hii_recall_5line": float(np.mean(table == "HII")),
                "hii_as_5line": {c: float(np.mean(table == c)) for c in (*CLASSES, "unknown")},
                "accuracy": float(np.mean(res["proba"].argmax(1) == y)),
                "ece_within": expected_calibration_error(res["proba"], y),
                "t_within": clf.temperature_, "logits_raw": res["logits"] * clf.temperature_, "y": y}
        folds.append(fold)
        log(f"  left out {left.name}: HII recall {fold['hii_recall_spectra']:.3f} (spectra), "
            f"{fold['hii_recall_5line']:.3f} (5-line tables), ECE {fold['ece_within']:.3f}")
    for i, fold in enumerate(folds):
        others = [f for j, f in enumerate(folds) if j != i]
        if not others:
            fold["t_cross"], fold["ece_cross"] = fold["t_within"], fold["ece_within"]
            continue
        t = fit_temperature(torch.as_tensor(np.concatenate([f["logits_raw"] for f in others])),
                            torch.as_tensor(np.concatenate([f["y"] for f in others])))
        # the other folds' temperatures are relative to their own models: carry the ratio over
        ratio = t / float(np.median([f["t_within"] for f in others]))
        p = torch.softmax(torch.as_tensor(fold["logits_raw"]) / (fold["t_within"] * ratio), 1).numpy()
        fold["t_cross"], fold["ece_cross"] = fold["t_within"] * ratio, expected_calibration_error(p, fold["y"])
    all_t = fit_temperature(torch.as_tensor(np.concatenate([f["logits_raw"] for f in folds])),
                            torch.as_tensor(np.concatenate([f["y"] for f in folds])))
    ratio = all_t / float(np.median([f["t_within"] for f in folds]))
    for fold in folds:
        fold.pop("logits_raw"), fold.pop("y")
    return {"folds": folds, "temperature_ratio": float(ratio)}


def _table_features(table: dict) -> np.ndarray:
    n = len(next(iter(table.values()))[0])
    return line_features(table, n)[0]


def kauffmann03(n2):
    """Empirical upper edge of the SDSS star-forming sequence (Kauffmann et al. 2003, arXiv:astro-ph/0304239)."""
    return 0.61 / (n2 - 0.05) + 1.30


def kewley01(n2):
    """Theoretical maximum-starburst line (Kewley et al. 2001, arXiv:astro-ph/0106324)."""
    return 0.61 / (n2 - 0.47) + 1.19


def bpt_coverage_figure(path, families, n: int = 3000, seed: int = 0) -> dict:
    """[NII]-BPT diagram of every model family against the observed star-forming locus; returns the
    highest log [OIII]/Hβ each family reaches (99.5th percentile) at log [NII]/Hα < -1."""
    import matplotlib  # figures only (~0.4 s import)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only

    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    reach = {}
    for model in families:
        _, f = model.sample(n, rng)
        n2 = np.log10(f[:, _I["NII6584"]] / f[:, _I["HA6563"]])
        o3 = np.log10(f[:, _I["OIII5007"]] / f[:, _I["HB4861"]])
        low = n2 < -1
        reach[model.name] = float(np.quantile(o3[low], 0.995)) if low.sum() > 20 else float("nan")
        ax.scatter(n2, o3, s=2, alpha=0.25, label=f"{model.nebula_class}: {model.name}")
    x = np.linspace(-2.5, 0.0, 200)
    ax.plot(x, kauffmann03(x), "k-", lw=1.5, label="SDSS star-forming edge (Kauffmann+03)")
    x = np.linspace(-2.5, 0.4, 200)
    ax.plot(x, kewley01(x), "k--", lw=1.5, label="max. starburst (Kewley+01)")
    ax.fill_between([-1.6, -1.0], 0.7, 1.0, color="none", edgecolor="k", hatch="//",
                    label="tip of the SDSS SF sequence\n(log [OIII]/Hβ 0.7-1 at low [NII]/Hα)")
    ax.set(xlim=(-2.6, 0.7), ylim=(-1.6, 1.5), xlabel="log [NII]6584/Hα", ylabel="log [OIII]5007/Hβ",
           title="Training theory vs the observed star-forming locus")
    ax.legend(fontsize=6, markerscale=4, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return reach
