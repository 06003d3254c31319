"""Class probabilities calibrated on real labels, and conformal prediction sets.

A classifier trained on theory is usually over-confident on the sky (EROS-1 ECE 0.13 where
simulations give 0.015). Two remedies, both fitted on a labelled real *calibration* set and
applied to new objects:

* :class:`ProbabilityScaling`: temperature scaling (one parameter) or vector scaling (a weight
  and a bias per class) of the log-probabilities, by minimum cross-entropy (Guo et al. 2017).
* :class:`ConformalSets`: the smallest sets of classes that contain the true class with
  probability >= 1 - alpha, whatever the classifier: LAC (threshold on the true class's
  probability, Sadinle et al. 2019), APS (Romano et al. 2020) or RAPS (Angelopoulos et al. 2021).
  Finite-sample guarantee: marginal coverage >= 1 - alpha for exchangeable data.

Ours rather than crepes/MAPIE: crepes 0.9.1 gives the same LAC sets (tested to agree object by
object, `tests/test_calibrate.py`) but has no APS/RAPS scores; MAPIE 1.6 wants a fitted
scikit-learn estimator, while our classifiers are torch networks whose probabilities are stored.

References
----------
Guo, C. et al. (2017), "On calibration of modern neural networks", arXiv:1706.04599.
Romano, Y., Sesia, M. & Candès, E. (2020), "Classification with valid and adaptive coverage", arXiv:2006.02544.
Angelopoulos, A. et al. (2021), "Uncertainty sets for image classifiers using conformal prediction", arXiv:2009.14193.
Sadinle, M., Lei, J. & Wasserman, L. (2019), "Least ambiguous set-valued classifiers", arXiv:1609.00451.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from ..core.errors import InputError
from ..core.calibration import conformal_quantile
from ..core.estimator import Estimator

__all__ = ["ProbabilityScaling", "ConformalSets", "check_proba", "calibrate_classes", "ClassCalibration",
           "expected_calibration_error", "parse_class_priors"]


def check_proba(proba, y=None, what: str = "proba") -> tuple[np.ndarray, np.ndarray | None]:
    """``proba`` (n, K) as float64 rows summing to 1, ``y`` (n,) as class indices; one-line errors."""
    p = np.asarray(proba, float)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"{what}: expected (n, K >= 2) class probabilities, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise InputError(f"{what}: probabilities must be finite and >= 0")
    p = p / np.maximum(p.sum(1, keepdims=True), 1e-300)
    if y is None:
        return p, None
    y = np.asarray(y)
    if y.shape != (len(p),) or not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= p.shape[1])):
        raise InputError(f"y: expected {len(p)} class indices in 0..{p.shape[1] - 1}")
    return p, y


class ProbabilityScaling(Estimator):
    """Temperature or vector scaling of class probabilities, fitted on labelled real data.

    Parameters
    ----------
    kind : {"temperature", "vector"}
    l2 : float
        Ridge on the vector-scaling biases and log-weights (keeps classes absent from a small
        calibration set finite).

    Attributes
    ----------
    weight_, bias_ : ndarray (K,)
        Calibrated logits are ``weight_ * log(p) + bias_``.
    nll_before_, nll_after_ : float  mean cross-entropy on the calibration set
    """

    def __init__(self, kind: str = "temperature", l2: float = 1e-3):
        self.kind, self.l2 = kind, l2

    def _unpack(self, v, k):
        if self.kind == "temperature":
            return np.full(k, np.exp(-v[0])), np.zeros(k)
        return np.exp(v[:k]), v[k:]

    def fit(self, proba, y) -> "ProbabilityScaling":
        if self.kind not in ("temperature", "vector"):
            raise InputError(f"kind: expected temperature or vector, got {self.kind!r}")
        p, y = check_proba(proba, y)
        logp = np.log(np.clip(p, 1e-12, None))
        n, k = p.shape

        def nll(v):
            w, b = self._unpack(v, k)
            ll = log_softmax(logp * w + b, axis=1)[np.arange(n), y]
            return -ll.mean() + (self.l2 * np.sum(v**2) if self.kind == "vector" else 0.0)

        from scipy.optimize import minimize  # noqa: PLC0415  (0.15 s import; fitting only, not prediction)

        v0 = np.zeros(1 if self.kind == "temperature" else 2 * k)
        self.nll_before_ = float(nll(v0))
        res = minimize(nll, v0, method="L-BFGS-B")
        self.weight_, self.bias_ = self._unpack(res.x, k)
        self.nll_after_ = float(res.fun)
        return self

    def transform(self, proba) -> np.ndarray:
        """Calibrated probabilities (n, K)."""
        p, _ = check_proba(proba)
        if p.shape[1] != len(self.weight_):
            raise InputError(f"proba: fitted on {len(self.weight_)} classes, got {p.shape[1]}")
        return np.exp(log_softmax(np.log(np.clip(p, 1e-12, None)) * self.weight_ + self.bias_, axis=1))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "l2": self.l2, "weight": self.weight_.tolist(), "bias": self.bias_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "ProbabilityScaling":
        m = cls(d["kind"], d["l2"])
        m.weight_, m.bias_ = np.asarray(d["weight"], float), np.asarray(d["bias"], float)
        return m


class ConformalSets(Estimator):
    """Split-conformal prediction sets of classes at miscoverage ``alpha``.

    Parameters
    ----------
    alpha : float in (0, 1)
        Target miscoverage: sets contain the true class with probability >= 1 - alpha.
    method : {"aps", "raps", "lac"}
    k_reg, lam : int, float
        RAPS penalty ``lam * max(0, rank - k_reg)`` on deep classes (rank 1-based).
    randomized : bool
        APS/RAPS with the uniform tie-breaking draw (exact coverage rather than conservative).
    seed : int

    Attributes
    ----------
    qhat_ : float   the conformal threshold on the score
    n_cal_ : int
    """

    def __init__(self, alpha: float = 0.1, method: str = "aps", k_reg: int = 1, lam: float = 0.01,
                 randomized: bool = True, seed: int = 0):
        self.alpha, self.method, self.k_reg, self.lam, self.randomized, self.seed = alpha, method, k_reg, lam, randomized, seed

    def _all_scores(self, p: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Score of every class for every object (n, K)."""
        if self.method == "lac":
            return 1.0 - p
        order = np.argsort(-p, axis=1, kind="stable")
        ps = np.take_along_axis(p, order, 1)
        cum = np.cumsum(ps, 1) - (u[:, None] * ps if self.randomized else 0.0)
        if self.method == "raps":
            cum = cum + self.lam * np.maximum(0, np.arange(1, p.shape[1] + 1) - self.k_reg)[None, :]
        out = np.empty_like(p)
        np.put_along_axis(out, order, cum, 1)
        return out

    def fit(self, proba, y) -> "ConformalSets":
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha: expected a value in (0, 1), got {self.alpha}")
        if self.method not in ("aps", "raps", "lac"):
            raise InputError(f"method: expected aps, raps or lac, got {self.method!r}")
        p, y = check_proba(proba, y)
        u = np.random.default_rng(self.seed).random(len(p))
        self.qhat_ = conformal_quantile(self._all_scores(p, u)[np.arange(len(p)), y], self.alpha)
        self.n_cal_ = len(p)
        return self

    def predict(self, proba, seed: int | None = None, offset: int = 0) -> np.ndarray:
        """Boolean membership (n, K): class k is in object i's set. Never empty (the top class is kept).

        ``offset``: the rows are rows ``offset ..`` of a larger set classified in pieces; the
        randomisation then continues the same stream, so the sets equal those of one call.
        """
        p, _ = check_proba(proba)
        stream = np.random.PCG64(self.seed + 1 if seed is None else seed)
        stream.advance(int(offset))                  # one 64-bit draw per uniform
        u = np.random.Generator(stream).random(len(p))
        sets = self._all_scores(p, u) <= self.qhat_
        sets[np.arange(len(p)), p.argmax(1)] = True
        return sets

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("alpha", "method", "k_reg", "lam", "randomized", "seed")} | {
            "qhat": self.qhat_, "n_cal": self.n_cal_}

    @classmethod
    def from_dict(cls, d: dict) -> "ConformalSets":
        m = cls(d["alpha"], d["method"], d["k_reg"], d["lam"], d["randomized"], d["seed"])
        m.qhat_, m.n_cal_ = float(d["qhat"]), int(d["n_cal"])
        return m


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins (Guo et al. 2017)."""
    proba, y = np.asarray(proba), np.asarray(y)
    conf, pred = proba.max(1), proba.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(ece)


def calibrate_classes(proba, y, classes, *, kind: str = "temperature", alpha: float = 0.1, method: str = "aps",
                      folds: int = 5, seed: int = 0, groups=None) -> dict:
    """Fit :class:`ProbabilityScaling` and :class:`ConformalSets` on labelled real objects and
    measure them on ``folds`` cross-validated folds; returns the JSON record a calibrated model
    folder keeps (``fitted``, ``cross_validated``: ECE before/after, set coverage and size).

    ``proba`` (n, K) over ``classes``; ``y`` (n,) class indices (objects whose truth is not a
    model class are left out by the caller). ``groups`` (n,): rows of one group (spectra of one
    supernova) stay in one fold, so the cross-validated numbers are for unseen objects.
    """
    p, y = check_proba(proba, y)
    if len(p) < 5 * folds:
        raise InputError(f"labelled data: {len(p)} objects of the model's classes; calibration needs >= {5 * folds}")
    rng = np.random.default_rng(seed)
    if groups is None:
        fold = np.empty(len(p), int)
        fold[rng.permutation(len(p))] = np.arange(len(p)) % folds
    else:
        _, g = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        fold = (rng.permutation(g.max() + 1) % folds)[g]
    before, after, cover, size = [], [], [], []
    for k in range(folds):
        test, train = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        if not len(test) or len(train) < 5:
            continue                                  # fewer groups than folds
        sc = ProbabilityScaling(kind).fit(p[train], y[train])
        pc_train, pc_test = sc.transform(p[train]), sc.transform(p[test])
        sets = ConformalSets(alpha, method, seed=seed).fit(pc_train, y[train]).predict(pc_test)
        before.append(expected_calibration_error(p[test], y[test]))
        after.append(expected_calibration_error(pc_test, y[test]))
        cover.append(sets[np.arange(len(test)), y[test]].mean())
        size.append(sets.sum(1).mean())
    scaling = ProbabilityScaling(kind).fit(p, y)
    sets = ConformalSets(alpha, method, seed=seed).fit(scaling.transform(p), y)
    return {"classes": list(classes),
            "fitted": {"scaling": scaling.to_dict(), "sets": sets.to_dict()},
            "cross_validated": {"folds": folds, "ece_before": float(np.mean(before)), "ece_after": float(np.mean(after)),
                                "set_coverage": float(np.mean(cover)), "set_size": float(np.mean(size)),
                                "nominal_coverage": 1 - alpha, "grouped": groups is not None}}


class ClassCalibration:
    """A :func:`calibrate_classes` record applied to new probabilities: ``apply(proba)`` gives the
    calibrated probabilities (n, K) and the conformal sets (n, K) bool."""

    def __init__(self, record: dict):
        self.classes = list(record["classes"])
        self.scaling = ProbabilityScaling.from_dict(record["fitted"]["scaling"])
        self.sets = ConformalSets.from_dict(record["fitted"]["sets"])

    def apply(self, proba, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and sets of rows ``offset ..`` (see :meth:`ConformalSets.predict`)."""
        p = self.scaling.transform(proba)
        return p, self.sets.predict(p, offset=offset)

    def set_labels(self, sets: np.ndarray) -> np.ndarray:
        """The sets as strings ``A|B`` (classes in model order)."""
        names = np.asarray(self.classes)
        return np.array(["|".join(names[row]) for row in sets])


def parse_class_priors(spec, classes, presets=None) -> np.ndarray | None:
    """The class fractions expected in the data (``--class-priors``), in ``classes`` order, or None.

    ``spec``: ``"A=0.7,B=0.2,..."`` with every class named (any positive scale), a name in
    ``presets`` (a dict of name -> {class: fraction} or None for "as trained"), a dict, or numbers
    in ``classes`` order. :meth:`CalibratedClassifier.predict_all` re-weights its probabilities by
    prior / training fraction (Saerens et al. 2002, Neural Computation 14, 21).
    """
    presets = presets or {}
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, str) and spec.strip().lower() in presets:
        spec = presets[spec.strip().lower()]
        if spec is None:
            return None
    if not isinstance(spec, (str, dict)):           # already numbers in class order
        values = np.asarray(spec, float).ravel()
        if values.shape != (len(classes),):
            raise InputError(f"--class-priors: expected {len(classes)} numbers ({', '.join(classes)}), got {len(values)}")
        return values
    if isinstance(spec, str):
        pairs = {}
        for item in spec.split(","):
            name, sep, value = item.partition("=")
            try:
                if not sep:
                    raise ValueError
                pairs[name.strip()] = float(value)
            except ValueError:
                raise InputError(f"--class-priors: {item.strip()!r} is not CLASS=NUMBER; give e.g. "
                                 f"{','.join(f'{c}=1' for c in classes)}"
                                 + (f" or a preset ({', '.join(presets)})" if presets else "")) from None
        spec = pairs
    unknown = [k for k in spec if k not in classes]
    missing = [c for c in classes if c not in spec]
    if unknown or missing:
        raise InputError(f"--class-priors: give a number for every class ({', '.join(classes)})"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                         + (f"; missing: {', '.join(missing)}" if missing else ""))
    return np.array([float(spec[c]) for c in classes])
