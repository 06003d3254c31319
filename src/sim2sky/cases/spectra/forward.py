"""Theory -> survey spectra: every class rendered with real observational effects.

Per spectrum: a rest-frame theory spectrum (star archetype, SSP mixture + nebular emission
lines, quasar eigenspectra), a redshift (radial velocity for stars), dust (Cardelli et al.
1989, R_V = 3.1), the line-spread function of a spectrograph of resolution R (Gaussian,
convolved in log λ together with the stellar velocity dispersion), bin averaging onto the
model grid, a smooth multiplicative flux-calibration error, noise from object + sky-like
variance scaled to a median S/N, masked chunks (bad columns, dichroic gaps) and, for some
spectra, a truncated wavelength coverage (another spectrograph, e.g. MILES ends at 7410 Å).

Galaxy emission lines come from the nebula case's theory: MAPPINGS 5.1 HII-region grid for
star formation, the MAPPINGS AGN narrow-line-region grid and the radiative-shock model for AGN
and LINERs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from ..nebulae import LINE_NAMES as NEB_LINES, ShockSNR, ccm89_k, mappings_grid
from .schema import CLASSES, STARBURST_EW, Z_RANGE, model_wave
from .templates import galaxy_line_waves, qso_spectra, sky_variance, ssp_library, star_spectra

__all__ = ["SurveyConditions", "simulate_spectra", "render"]

C_KMS = 299792.458


@dataclass(frozen=True)
class SurveyConditions:
    """How spectra are observed. Ranges are sampled uniformly (S/N log-uniformly).

    Attributes
    ----------
    resolution : (low, high)      spectral resolution R = λ / FWHM (4MOST-LRS ~ 6500, SDSS ~ 2000)
    snr : (low, high)             median S/N per model-grid pixel
    calibration : float          rms of the smooth multiplicative flux-calibration error
    ebv_star, ebv_galaxy, ebv_qso : (low, high)   dust E(B-V) [mag]
    mask_probability : float     chance of a masked chunk of 20-120 pixels
    coverage_probability : float chance of a truncated blue or red end
    sky_ratio : (low, high)       sky variance / object variance at the median pixel
    """

    resolution: tuple[float, float] = (1500.0, 6500.0)
    snr: tuple[float, float] = (2.0, 100.0)
    calibration: float = 0.05
    ebv_star: tuple[float, float] = (0.0, 0.4)
    ebv_galaxy: tuple[float, float] = (0.0, 0.6)
    ebv_qso: tuple[float, float] = (0.0, 0.15)
    mask_probability: float = 0.3
    coverage_probability: float = 0.3
    sky_ratio: tuple[float, float] = (0.2, 4.0)


def _fine_grid(wave: np.ndarray, oversample: int) -> np.ndarray:
    lw = np.log(wave)
    step = (lw[-1] - lw[0]) / (len(wave) - 1)
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    return np.exp((lw[:, None] + sub[None, :] * step).ravel())


def _convolve_log(flux: np.ndarray, sigma_ln: np.ndarray, step_ln: float) -> np.ndarray:
    """Gaussian convolution of rows of ``flux`` (on a uniform log-λ grid) with per-row widths."""
    n, L = flux.shape
    pad = int(np.ceil(5 * sigma_ln.max() / step_ln)) + 1
    f = np.pad(flux, ((0, 0), (pad, pad)), mode="edge")
    freq = np.fft.rfftfreq(f.shape[1], d=step_ln)
    kern = np.exp(-2 * (np.pi * freq[None, :] * sigma_ln[:, None]) ** 2)
    return np.fft.irfft(np.fft.rfft(f, axis=1) * kern, n=f.shape[1], axis=1)[:, pad:pad + L]


def _add_lines(flux, lnw, centres, sigma_ln, fluxes):
    """Add pixel-integrated Gaussian lines (flux in F_λ·Å) to rows of ``flux`` on the log grid ``lnw``."""
    step = lnw[1] - lnw[0]
    for j in range(centres.shape[1]):
        c, s, f = np.log(centres[:, j]), sigma_ln, fluxes[:, j]
        lo = max(np.searchsorted(lnw, np.min(c - 6 * s)) - 1, 0)
        hi = min(np.searchsorted(lnw, np.max(c + 6 * s)) + 1, len(lnw))
        if hi <= lo:
            continue
        edges = lnw[lo:hi] - step / 2
        a = (edges[None, :] - c[:, None]) / (np.sqrt(2) * s[:, None])
        b = (edges[None, :] + step - c[:, None]) / (np.sqrt(2) * s[:, None])
        prof = 0.5 * (erf(b) - erf(a)) / step          # per unit ln λ
        flux[:, lo:hi] += prof * (f / centres[:, j])[:, None]
    return flux


def _extend(wave, flux):
    """Fill NaN ends of rest-frame spectra with power laws fitted to the first/last 300 Å."""
    out = flux.copy()
    for i in range(len(out)):
        ok = np.isfinite(out[i])
        if ok.all():
            continue
        idx = np.flatnonzero(ok)
        lw, lf = np.log(wave[idx]), np.log(np.maximum(out[i, idx], 1e-6))
        for sel, side in ((wave[idx] < wave[idx[0]] + 300, wave < wave[idx[0]]),
                          (wave[idx] > wave[idx[-1]] - 300, wave > wave[idx[-1]])):
            slope, icpt = np.polyfit(lw[sel], lf[sel], 1)
            out[i, side] = np.exp(icpt + slope * np.log(wave[side]))
    return out


# -- rest-frame theory per class --------------------------------------------------------------
def _galaxy(kind: str, n: int, rng):
    """Rest continuum (SSP mixture) + emission-line list for galaxy class ``kind``."""
    lib = ssp_library()
    age, wave = lib["age_gyr"], lib["wave"]
    old = np.flatnonzero(age >= 1.4)
    young = np.flatnonzero(age < 0.6)
    i_old = old[rng.integers(0, len(old), n)]
    i_young = young[rng.integers(0, len(young), n)]
    # young light fraction at 5500 Å: passive galaxies are old; starbursts are dominated by young stars
    f_young = {"GALAXY_PASSIVE": (0.0, 0.05), "GALAXY_STARFORMING": (0.05, 0.6), "GALAXY_STARBURST": (0.3, 0.95),
               "GALAXY_AGN": (0.0, 0.5)}[kind]
    fy = rng.uniform(*f_young, n)
    cont = (1 - fy)[:, None] * lib["flux"][i_old] + fy[:, None] * lib["flux"][i_young]
    cont = _extend(wave, cont)
    cont /= np.median(cont, axis=1, keepdims=True)
    ha_cont = cont[:, np.searchsorted(wave, 6564.6)]
    names, ratios = _emission(kind, n, rng)                        # ratios: (n, m) relative to Hβ
    ew = {"GALAXY_PASSIVE": (0.0, 1.5), "GALAXY_STARFORMING": (3.0, STARBURST_EW),
          "GALAXY_STARBURST": (STARBURST_EW, 600.0), "GALAXY_AGN": (2.0, 150.0)}[kind]
    ew_ha = np.exp(rng.uniform(np.log(max(ew[0], 0.05)), np.log(ew[1]), n)) if ew[0] > 0 else rng.uniform(*ew, n)
    ha = ratios[:, names.index("Halpha")]
    line_flux = ratios / ha[:, None] * (ew_ha * ha_cont)[:, None]   # F_λ·Å, continuum unit median
    sigma_gas = rng.uniform(30, 80 if kind != "GALAXY_AGN" else 250, n)
    sigma_star = rng.uniform(50, 300, n) if kind in ("GALAXY_PASSIVE", "GALAXY_AGN") else rng.uniform(30, 150, n)
    return wave, cont, names, line_flux, sigma_gas, sigma_star, ew_ha


def _emission(kind: str, n: int, rng) -> tuple[list, np.ndarray]:
    """Emission-line names and fluxes relative to Hβ (intrinsic) for a galaxy class."""
    if kind in ("GALAXY_PASSIVE", "GALAXY_STARFORMING", "GALAXY_STARBURST"):
        g = mappings_grid("HII")
        names, lf = list(g["lines"]), g["log_flux"]
        rows = rng.integers(0, len(lf), n)
        ratios = 10 ** (lf[rows] + rng.normal(0, 0.05, (n, lf.shape[1])))
    else:
        g = mappings_grid("NLR")
        names, lf = list(g["lines"]), g["log_flux"]
        # half Seyfert-like / LINER-like photoionisation (NLR grid), half shocks
        rows = rng.integers(0, len(lf), n)
        ratios = 10 ** (lf[rows] + rng.normal(0, 0.05, (n, lf.shape[1])))
        shock = rng.random(n) < 0.5
        if shock.any():
            ratios[shock] = _shock_ratios(names, int(shock.sum()), rng)
    names = names + ["OIII4959", "NII6548"]
    extra = np.stack([ratios[:, names.index("OIII5007")] / 2.98, ratios[:, names.index("NII6583")] / 3.05], 1)
    return names, np.concatenate([ratios, extra], 1)


def _shock_ratios(names: list, n: int, rng) -> np.ndarray:
    """Shock (LINER-like) spectra from the nebula case's ShockSNR model, completed in the blue:
    [OII]3727/Hβ ~ 2-6 in shock-only models (Allen et al. 2008, arXiv:0805.0204), case-B Hγ, Hδ."""
    _, f = ShockSNR().sample(n, rng)
    idx = {nm: i for i, nm in enumerate(NEB_LINES)}
    out = np.zeros((n, len(names)))
    mapping = {"Hbeta": "HB4861", "OIII5007": "OIII5007", "NI5200": "NI5200", "HeI5876": "HEI5876",
               "OI6300": "OI6300", "OI6364": "OI6364", "Halpha": "HA6563", "NII6583": "NII6584",
               "HeI6678": "HEI6678", "SII6716": "SII6717", "SII6731": "SII6731", "SIII9069": "SIII9069"}
    for gname, nname in mapping.items():
        if gname in names:
            out[:, names.index(gname)] = f[:, idx[nname]]
    oii = 10 ** rng.normal(0.55, 0.2, n)
    for nm, frac in (("OII3726", 0.45), ("OII3729", 0.55)):
        if nm in names:
            out[:, names.index(nm)] = frac * oii
    for nm, ratio in (("Hgamma", 0.468), ("Hdelta", 0.259), ("NeIII3869", None)):
        if nm in names:
            out[:, names.index(nm)] = ratio if ratio is not None else 0.1 * out[:, names.index("OIII5007")]
    return out


# -- rendering --------------------------------------------------------------------------------
def render(classes, rng, conditions: SurveyConditions = SurveyConditions(), wave=None, oversample: int = 6):
    """Simulate one spectrum per entry of ``classes`` (names from :data:`CLASSES`).

    Returns dict: ``flux`` and ``ivar`` (n, L) on ``wave`` (default the model grid; masked pixels
    have ivar 0), ``z`` (n,), ``snr`` (n,), ``ebv``, ``resolution``, ``ew_halpha`` (galaxies, rest
    Å; NaN otherwise), ``class`` (n,) names.
    """
    wave = model_wave() if wave is None else np.asarray(wave, float)
    classes = np.asarray(classes)
    n, L = len(classes), len(wave)
    fine = _fine_grid(wave, oversample)
    lnf = np.log(fine)
    step_ln = lnf[1] - lnf[0]
    flux_f = np.zeros((n, len(fine)))
    z = np.zeros(n)
    ebv = np.zeros(n)
    ew_ha = np.full(n, np.nan)
    res = rng.uniform(*conditions.resolution, n)
    sigma_lsf = C_KMS / (2.3548 * res)                      # km/s
    sigma_cont = sigma_lsf.copy()
    line_jobs = []
    for cls in np.unique(classes):
        sel = np.flatnonzero(classes == cls)
        m = len(sel)
        if cls.startswith("STAR_"):
            zz = rng.uniform(*Z_RANGE["star"], m)
            rw, rf = star_spectra(cls[5:], m, rng)
            e = rng.uniform(*conditions.ebv_star, m)
        elif cls.startswith("QSO"):
            kind = "LOZ" if cls == "QSO_BROADLINE" else "HIZ"
            zz = rng.uniform(*Z_RANGE[cls], m)
            rw, rf = qso_spectra(kind, m, rng)
            e = rng.uniform(*conditions.ebv_qso, m)
        else:
            zz = rng.uniform(*Z_RANGE["galaxy"], m)
            rw, rf, names, lflux, s_gas, s_star, ew = _galaxy(cls, m, rng)
            e = rng.uniform(*conditions.ebv_galaxy, m)
            sigma_cont[sel] = np.sqrt(sigma_lsf[sel] ** 2 + s_star**2)
            ew_ha[sel] = ew
            att = 10 ** (-0.4 * ccm89_k(galaxy_line_waves(names))[None, :] * e[:, None])   # gas: full E(B-V)
            centres = galaxy_line_waves(names)[None, :] * (1 + zz[:, None])
            line_jobs.append((sel, centres, np.sqrt(s_gas**2 + sigma_lsf[sel] ** 2) / C_KMS, lflux * att * (1 + zz[:, None])))   # observed EW = (1 + z) rest EW
            e = 0.44 * e                                                    # stars: Calzetti et al. 2000
        z[sel], ebv[sel] = zz, e
        for k, i in enumerate(sel):
            rest = fine / (1 + zz[k])
            f = np.interp(rest, rw, rf[k], left=np.nan, right=np.nan)
            f = _fill_edges(f)
            flux_f[i] = f * 10 ** (-0.4 * ccm89_k(rest) * e[k])
    flux_f = _convolve_log(flux_f, sigma_cont / C_KMS, step_ln)
    for sel, centres, sig, lflux in line_jobs:
        sub = flux_f[sel]
        flux_f[sel] = _add_lines(sub, lnf, centres, sig, lflux)
    flux = flux_f.reshape(n, L, oversample).mean(2)
    # smooth flux-calibration error: a random cubic in log λ with rms ``calibration``
    x = np.linspace(-1, 1, L)
    poly = np.polynomial.legendre.legvander(x, 3)[:, 1:] @ rng.normal(0, conditions.calibration / 1.5, (3, n))
    flux = flux * np.exp(poly.T)
    flux /= np.maximum(np.median(flux, axis=1, keepdims=True), 1e-12)
    snr = np.exp(rng.uniform(*np.log(conditions.snr), n))
    sky = sky_variance(wave, 2500.0)[None, :] * rng.uniform(*conditions.sky_ratio, n)[:, None]
    var = np.clip(flux, 0, None) + sky            # object (photon) + sky variance, unit median flux
    var *= 1.0 / (snr[:, None] ** 2 * np.median(var, axis=1, keepdims=True))
    noisy = flux + rng.standard_normal(flux.shape) * np.sqrt(var)
    ivar = 1.0 / var
    _mask(ivar, rng, conditions)
    return {"flux": noisy.astype(np.float32), "ivar": ivar.astype(np.float32), "z": z, "snr": snr, "ebv": ebv,
            "resolution": res, "ew_halpha": ew_ha, "class": classes, "wave": wave}


def _fill_edges(f: np.ndarray) -> np.ndarray:
    ok = np.isfinite(f)
    if ok.all() or not ok.any():
        return np.nan_to_num(f)
    idx = np.flatnonzero(ok)
    f[: idx[0]] = f[idx[0]]
    f[idx[-1] + 1:] = f[idx[-1]]
    return f


def _mask(ivar, rng, conditions: SurveyConditions):
    n, L = ivar.shape
    for i in np.flatnonzero(rng.random(n) < conditions.mask_probability):
        w = rng.integers(20, 120)
        s = rng.integers(0, L - w)
        ivar[i, s:s + w] = 0.0
    for i in np.flatnonzero(rng.random(n) < conditions.coverage_probability):
        cut = rng.integers(L // 10, L // 2)
        if rng.random() < 0.5:
            ivar[i, :cut] = 0.0
        else:
            ivar[i, L - cut:] = 0.0


def simulate_spectra(n_per_class: int, seed: int = 0, conditions: SurveyConditions = SurveyConditions(),
                     classes=CLASSES, chunk: int = 2048) -> dict:
    """A labelled set: ``n_per_class`` spectra of every class (see :func:`render`), plus ``y``
    (class indices into ``classes``). Rendered in chunks of ``chunk`` spectra."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    rng.shuffle(labels)
    parts = [render(np.asarray(classes)[labels[i:i + chunk]], rng, conditions)
             for i in range(0, len(labels), chunk)]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "wave"}
    out["y"] = labels
    out["wave"] = parts[0]["wave"]
    return out
