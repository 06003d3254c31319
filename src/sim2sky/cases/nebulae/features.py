"""Classifier / NPE input features from emission-line fluxes (measured or from a table).

Fluxes enter as ratios to Hα (so the absolute flux scale and distance drop out) through
``asinh(r / 0.02)``: logarithmic for detected lines, linear and sign-preserving around zero so
an undetected line (measured flux ≈ 0 ± err) is a valid input rather than a log of a negative
number. Each line family has (value, error, missing-mask) features; missing lines (NaN, out
of the spectral range, not in the table) are masked, never imputed, and training drops lines
at random so the networks learn to work without them.
"""

from __future__ import annotations

import numpy as np

from .lines import LINE_NAMES

__all__ = ["FEATURE_LINES", "FEATURE_NAMES", "line_features", "measured_to_table", "augment_table"]

FEATURE_LINES = ("HB4861", "OIII5007", "NI5200", "HEI5876", "OI6300", "NII6584", "HEI6678",
                 "SII6717_31", "ARIII7135", "SIII9069")
FEATURE_NAMES = tuple(
    [f"{l}_{k}" for l in FEATURE_LINES for k in ("ratio", "err", "missing")]
    + ["SII_6717_6731", "SII_6717_6731_err", "SII_6717_6731_missing",
       "log_snr_HA", "log_snr_HA_missing", "sigma_100kms", "sigma_missing", "errors_missing",
       "log_ew_HA", "ew_missing"]
)
_SCALE = 0.02


def measured_to_table(measured: dict) -> dict:
    """Convert :func:`measure_lines` output to the table form ``{name: (flux, err)}`` + ``SIGMA``."""
    f, e = measured["flux"], measured["err"]
    table = {name: (f[:, i], e[:, i]) for i, name in enumerate(LINE_NAMES)}
    a, b = table["SII6717"], table["SII6731"]
    table["SII6717_31"] = (a[0] + b[0], np.sqrt(a[1] ** 2 + b[1] ** 2))
    table["SIGMA"] = (measured["sigma"], None)
    # emission EW(Hα) [Å, observed frame]; a continuum below its own error counts as its error
    # (a lower limit on the EW), so faint-continuum spectra do not get infinite or negative EWs
    cont = np.maximum(measured["continuum_ha"], measured["continuum_ha_err"])
    with np.errstate(divide="ignore", invalid="ignore"):
        table["EW_HA6563"] = (np.where(cont > 0, f[:, LINE_NAMES.index("HA6563")] / cont, np.nan), None)
    return table


def _get(table, name, n):
    flux, err = table.get(name, (None, None))
    flux = np.full(n, np.nan) if flux is None else np.asarray(flux, float)
    err = np.full(n, np.nan) if err is None else np.asarray(err, float)
    return flux, err


def line_features(table: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, len(FEATURE_NAMES)) float32 and ``valid`` (n,) = Hα flux finite and > 0.

    ``table`` maps line names (``HA6563``, ``SII6717_31``…) to ``(flux, err)`` arrays (err may
    be None) and optionally ``SIGMA`` to ``(sigma_kms, None)``. An undetected line is a flux of
    0 (or the measured value) with its error; NaN flux means missing.
    """
    ha, ha_err = _get(table, "HA6563", n)
    valid = np.isfinite(ha) & (ha > 0)
    ha_safe = np.where(valid, ha, 1.0)
    cols = []
    any_err = np.zeros(n, bool)
    for line in FEATURE_LINES:
        if line == "SII6717_31" and "SII6717_31" not in table and "SII6717" in table:
            (a, ea), (b, eb) = _get(table, "SII6717", n), _get(table, "SII6731", n)
            flux, err = a + b, np.sqrt(ea**2 + eb**2)
        else:
            flux, err = _get(table, line, n)
        missing = ~np.isfinite(flux)
        any_err |= np.isfinite(err) & ~missing
        cols += [np.where(missing, 0.0, np.arcsinh(np.nan_to_num(flux) / ha_safe / _SCALE)),
                 np.where(missing | ~np.isfinite(err), 0.0, np.arcsinh(np.nan_to_num(err) / ha_safe / _SCALE)),
                 missing.astype(float)]
    (a, ea), (b, eb) = _get(table, "SII6717", n), _get(table, "SII6731", n)
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0) & (a > 0)
    ratio = np.where(ok, a / np.where(ok, b, 1), 0.0)
    rerr = np.where(ok & np.isfinite(ea) & np.isfinite(eb),
                    ratio * np.sqrt((np.nan_to_num(ea) / np.where(ok, a, 1)) ** 2 + (np.nan_to_num(eb) / np.where(ok, b, 1)) ** 2), 0.0)
    cols += [np.where(ok, np.clip(ratio, 0.2, 2.5), 0.0), np.clip(rerr, 0, 3), (~ok).astype(float)]
    snr_ok = np.isfinite(ha_err) & (ha_err > 0) & valid
    cols += [np.where(snr_ok, np.clip(np.log10(ha_safe / np.where(snr_ok, ha_err, 1)), -1, 3), 0.0), (~snr_ok).astype(float)]
    sig, _ = _get(table, "SIGMA", n)
    sig_ok = np.isfinite(sig)
    cols += [np.where(sig_ok, np.nan_to_num(sig) / 100.0, 0.0), (~sig_ok).astype(float)]
    cols.append((~any_err).astype(float))
    # EW(Hα) separates diffuse gas (a few Å) from HII regions and PNe (tens to thousands of Å),
    # e.g. Lacerda et al. 2018 (arXiv:1711.00915)
    ew, _ = _get(table, "EW_HA6563", n)
    ew_ok = np.isfinite(ew) & (ew > 0)
    cols += [np.where(ew_ok, np.log10(np.clip(np.where(ew_ok, ew, 1.0), 0.1, 1e4)), 0.0), (~ew_ok).astype(float)]
    x = np.stack(cols, axis=1).astype(np.float32)
    x[~valid] = 0.0
    return x, valid


#: Lines a "strong lines only" table keeps (Hβ, [OIII]5007, Hα, [NII]6584, [SII]6717+31), as many
#: catalogues publish; [OI]6300 is kept in half of them.
_STRONG = ("HB4861", "OIII5007", "HA6563", "NII6584")


def augment_table(table: dict, n: int, rng, p_line: float = 0.12, p_sigma: float = 0.5,
                  p_sii_sum: float = 0.2, p_no_err: float = 0.1, p_ew: float = 0.3, p_strong: float = 0.25,
                  p_rel_err: float = 0.2) -> dict:
    """Randomly remove lines / dispersion / EW / errors, as tables and high-z cubes do.

    Independent line drops alone almost never leave *only* the strong lines, yet that is the most
    common published table; a fraction ``p_strong`` of rows therefore keeps just those (measured:
    without it, 5-line tables of high-excitation HII regions were all called PN). A fraction
    ``p_rel_err`` of rows gets errors proportional to each flux (1-10%), as catalogues from other
    pipelines or from models quote them: measured errors scale with the line width and the
    continuum, a cue the network must not rely on."""
    out = dict(table)
    strong = rng.random(n) < p_strong
    keep_oi = rng.random(n) < 0.5
    for line in FEATURE_LINES:
        if line in _STRONG or line == "SII6717_31":
            continue
        f, e = _get(out, line, n)
        gone = strong & ~(keep_oi & (line == "OI6300"))
        out[line] = (np.where(gone, np.nan, f), e)
    for name in ("SII6717", "SII6731"):
        f, e = _get(out, name, n)
        out[name] = (np.where(strong, np.nan, f), e)
    for line in FEATURE_LINES:
        if line in ("SII6717_31",):
            continue
        drop = rng.random(n) < (p_line / 3 if line == "HB4861" else p_line)
        f, e = _get(out, line, n)
        out[line] = (np.where(drop, np.nan, f), e)
    drop_sii = rng.random(n) < p_line
    split_only_sum = rng.random(n) < p_sii_sum
    for name in ("SII6717", "SII6731"):
        f, e = _get(out, name, n)
        out[name] = (np.where(drop_sii | split_only_sum, np.nan, f), e)
    s, es = _get(out, "SII6717_31", n)
    out["SII6717_31"] = (np.where(drop_sii, np.nan, s), es)
    sig, _ = _get(out, "SIGMA", n)
    out["SIGMA"] = (np.where(strong | (rng.random(n) < p_sigma), np.nan, sig), None)
    ew, _ = _get(out, "EW_HA6563", n)
    out["EW_HA6563"] = (np.where(strong | (rng.random(n) < p_ew), np.nan, ew), None)
    rel = rng.random(n) < p_rel_err
    frac = 10 ** rng.uniform(-2, -1, n)
    for name in list(out):
        if name not in ("SIGMA", "EW_HA6563"):
            f, e = out[name]
            if e is not None:
                out[name] = (f, np.where(rel, np.abs(np.nan_to_num(f)) * frac + 1e-3 * np.abs(np.nan_to_num(e)), e))
    no_err = rng.random(n) < p_no_err
    for name in list(out):
        if name not in ("SIGMA", "EW_HA6563"):
            f, e = out[name]
            out[name] = (f, np.where(no_err, np.nan, e) if e is not None else None)
    return out
