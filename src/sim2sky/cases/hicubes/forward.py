"""Mock HI survey cubes: rotating HI discs with a truth catalogue, a beam, noise and artefacts.

Each galaxy is an exponential HI disc whose scale length is set by its mass and the HI mass-size
relation (Wang et al. 2016, arXiv:1605.01489: the diameter where the surface density is 1
Msun/pc^2), a rotation curve V(R) = V_flat (1 - exp(-R / R_t)) with a Tully-Fisher-like V_flat,
a gas dispersion, an inclination and a position angle (east of north, of the receding side).
Sky models are rendered 3x supersampled in Jy/pixel, convolved with the Gaussian beam (-> Jy/beam)
and summed. Noise is white per voxel convolved with the beam; artefacts are continuum-subtraction
residuals (point sources with a rippled spectrum of both signs) and RFI-like channels of higher
noise. Fluxes follow M_HI = 2.356e5 / (1 + z) D_L^2 S (Meyer et al. 2017, arXiv:1705.04210).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize, special
from astropy.cosmology import Planck18
from astropy.io import fits
from astropy.wcs import WCS

from ...core.errors import InputError
from .measure import w20_edges
from .schema import C_KMS, HI_REST_HZ, INSTRUMENT, POPULATION, Instrument

__all__ = ["draw_population", "render_source", "simulate_cube", "cube_header", "source_stamps", "beam_noise",
           "STAMP_SHAPE", "NEIGHBOURS_PER_STAMP"]

#: Characterisation stamps: (channels, y, x) after binning channels by 4 (192 raw channels).
STAMP_SHAPE = (48, 24, 24)
#: Other galaxies expected in a stamp at the default cube density (100 per 128 x 192 x 192 voxels).
NEIGHBOURS_PER_STAMP = 100 * (192 * 24 * 24) / (128 * 192 * 192)
_STAMP_BIN = 4
_OVERSAMPLE = 3


def _distances(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:

    return Planck18.luminosity_distance(z).value, Planck18.angular_diameter_distance(z).value


def _scale_length_kpc(mhi: np.ndarray, d_hi_kpc: np.ndarray) -> np.ndarray:
    """Exponential scale length r_s with Sigma(D_HI / 2) = 1 Msun/pc^2 for a disc of mass M.

    Of the two solutions the extended one (r_s >= D_HI / 4, central density ~ 2-10 Msun/pc^2, as
    HI discs saturate); where the scatter leaves none, r_s = D_HI / 4 (the closest disc).
    """
    out = np.empty_like(d_hi_kpc)
    for k, (m, d) in enumerate(zip(mhi, d_hi_kpc)):
        r_half = d * 1e3 / 2                            # pc
        f = lambda lr: np.log(m / (2 * np.pi)) - 2 * lr - r_half / np.exp(lr)  # noqa: E731  log Sigma(R) = 0
        a, b = np.log(r_half / 2), np.log(r_half * 5)
        out[k] = (np.exp(optimize.brentq(f, a, b)) if f(a) > 0 > f(b) else r_half / 2) / 1e3
    return out


def draw_population(n: int, freq_hz, rng: np.random.Generator, population: dict = POPULATION) -> dict:
    """Physical and observed properties of ``n`` galaxies at central frequencies ``freq_hz`` (n,).

    Returns a dict of (n,) arrays: log10_mhi, z, line_flux_integral [Jy km/s], hi_size [arcsec],
    scale_arcsec, vflat [km/s], i [deg], pa [deg], central_freq [Hz].
    """
    p = population
    freq = np.broadcast_to(np.asarray(freq_hz, float), (n,)).copy()
    if n == 0:
        return {k: np.zeros(0) for k in ("log10_mhi", "z", "line_flux_integral", "hi_size", "scale_arcsec", "vflat",
                                         "i", "pa", "central_freq")}
    logm = rng.uniform(*p["log10_mhi"], n)
    z = HI_REST_HZ / freq - 1
    d_l, d_a = _distances(z)
    d_hi = 10 ** (p["size_slope"] * logm + p["size_intercept"] + rng.normal(0, p["size_scatter_dex"], n))
    kpc_per_arcsec = d_a * 1e3 * np.pi / 180 / 3600
    r_s = _scale_length_kpc(10 ** logm, d_hi)
    vflat = p["vflat_at_1e10"] * 10 ** (p["vflat_slope"] * (logm - 10) + rng.normal(0, p["vflat_scatter_dex"], n))
    cos_i = rng.uniform(*p["cos_i"], n)
    flux = 10 ** logm * (1 + z) / (2.356e5 * d_l ** 2)
    return {"log10_mhi": logm, "z": z, "line_flux_integral": flux, "hi_size": d_hi / kpc_per_arcsec,
            "scale_arcsec": r_s / kpc_per_arcsec, "vflat": vflat, "i": np.degrees(np.arccos(cos_i)),
            "pa": rng.uniform(0, 360, n), "central_freq": freq}


def render_source(props: dict, k: int, inst: Instrument, dx: float = 0.0, dy: float = 0.0):
    """Beam-convolved model of galaxy ``k`` on a stamp: ``(stamp (c, h, w) Jy/beam, c0, w20_kms)``.

    The stamp is centred on the pixel nearest the galaxy (sub-pixel offsets ``dx``, ``dy``);
    ``c0`` is the channel offset of the stamp's first channel from the central channel (negative),
    ``w20_kms`` the width of the noiseless integrated line at 20% of its peak.
    """
    f_c = props["central_freq"][k]
    dv = C_KMS * inst.channel_hz / f_c
    inc, pa = np.radians(props["i"][k]), np.radians(props["pa"][k])
    vmax = props["vflat"][k] * np.sin(inc) + 4 * POPULATION["dispersion_kms"]
    half_c = int(np.ceil(vmax / dv)) + 2
    r_s = props["scale_arcsec"][k] / inst.pixel_arcsec                       # pixels
    half = int(np.ceil(max(props["hi_size"][k] / inst.pixel_arcsec * 0.75, 3 * r_s) + 3 * inst.beam_sigma_px)) + 1
    n = 2 * half + 1
    sub = (np.arange(n * _OVERSAMPLE) + 0.5) / _OVERSAMPLE - half - 0.5      # sub-pixel centres
    yy, xx = np.meshgrid(sub - dy, sub - dx, indexing="ij")
    # receding major axis at PA east (-x) of north (+y); minor axis deprojected by cos i
    x_maj = -xx * np.sin(pa) + yy * np.cos(pa)
    x_min = -xx * np.cos(pa) - yy * np.sin(pa)
    radius = np.hypot(x_maj, x_min / max(np.cos(inc), 0.05))
    surface = np.exp(-radius / r_s)
    v_t = 0.2 * props["hi_size"][k] / inst.pixel_arcsec / 2 + 1e-3         # rotation-curve turnover [px]
    v_los = props["vflat"][k] * (1 - np.exp(-radius / v_t)) * np.sin(inc) * x_maj / np.maximum(radius, 1e-6)
    edges = (np.arange(-half_c, half_c + 2) - 0.5) * dv                      # channel edges [km/s]
    sigma = POPULATION["dispersion_kms"] * np.sqrt(2)
    cdf = special.erf((edges[:, None, None] - v_los[None]) / sigma)
    cube = (cdf[1:] - cdf[:-1]) * surface[None]
    # channels run up in frequency, i.e. down in velocity: the receding side sits at low channels
    cube = cube.reshape(len(edges) - 1, n, _OVERSAMPLE, n, _OVERSAMPLE).sum((2, 4))[::-1]
    cube *= props["line_flux_integral"][k] / (cube.sum() * dv)              # Jy per pixel per channel
    cube = ndimage.gaussian_filter(cube, (0, inst.beam_sigma_px, inst.beam_sigma_px), mode="constant")
    cube *= inst.beam_area_px                                                 # -> Jy/beam
    left, right = w20_edges(cube.sum((1, 2)))
    return cube.astype(np.float32), -half_c, float((right - left) * dv)


def beam_noise(shape, inst: Instrument, rng: np.random.Generator) -> np.ndarray:
    """Unit-rms white noise convolved with the beam over the last two axes (float32)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    s = inst.beam_sigma_px
    out = ndimage.gaussian_filter(white, (0,) * (len(shape) - 2) + (s, s), mode="wrap")
    return out / np.sqrt(1 / (4 * np.pi * s * s))


def cube_header(shape, inst: Instrument = INSTRUMENT):
    """FITS header of a (c, y, x) cube: RA---SIN/DEC--SIN, FREQ [Hz], beam, Jy/beam."""

    c, ny, nx = shape
    h = fits.Header()
    for key, value in (("CTYPE1", "RA---SIN"), ("CUNIT1", "deg"), ("CRVAL1", inst.ra0_deg), ("CRPIX1", nx / 2 + 0.5),
                       ("CDELT1", -inst.pixel_arcsec / 3600), ("CTYPE2", "DEC--SIN"), ("CUNIT2", "deg"),
                       ("CRVAL2", inst.dec0_deg), ("CRPIX2", ny / 2 + 0.5), ("CDELT2", inst.pixel_arcsec / 3600),
                       ("CTYPE3", "FREQ"), ("CUNIT3", "Hz"), ("CRVAL3", inst.freq0_hz), ("CRPIX3", 1.0),
                       ("CDELT3", inst.channel_hz), ("SPECSYS", "BARYCENT"), ("RESTFRQ", HI_REST_HZ),
                       ("BMAJ", inst.beam_fwhm_arcsec / 3600), ("BMIN", inst.beam_fwhm_arcsec / 3600), ("BPA", 0.0),
                       ("BUNIT", "Jy/beam")):
        h[key] = value
    return h


def simulate_cube(n_sources: int, shape=(128, 128, 128), inst: Instrument = INSTRUMENT, seed: int = 0,
                  artefacts: bool = True, footprint: float = 0.15, population: dict = POPULATION):
    """A mock HI cube with ``n_sources`` galaxies.

    Parameters
    ----------
    n_sources : int
    shape : (channels, y, x)
    inst : Instrument
    seed : int
    artefacts : bool
        Add continuum-subtraction residuals and RFI-like noisy channels.
    footprint : float
        A voxel belongs to a source where its beam-convolved model exceeds this fraction of the
        source's peak (the truth mask).

    Returns
    -------
    cube : (c, y, x) float32 [Jy/beam]
    labels : (c, y, x) int32, truth source id (1..n) or 0
    truth : dict of (n,) arrays with the columns of ``schema.CATALOGUE_COLUMNS`` and log10_mhi
    header : astropy.io.fits.Header
    """
    c, ny, nx = (int(v) for v in shape)
    if min(c, ny, nx) < 16:
        raise InputError(f"shape: each axis needs at least 16 pixels/channels, got {shape}")
    rng = np.random.default_rng(seed)
    header = cube_header(shape, inst)
    margin_c = 8
    chan = rng.uniform(margin_c, c - 1 - margin_c, n_sources)
    props = draw_population(n_sources, inst.freq0_hz + chan * inst.channel_hz, rng, population)
    ys, xs = rng.uniform(2, ny - 3, n_sources), rng.uniform(2, nx - 3, n_sources)
    model = np.zeros(shape, np.float32)
    labels = np.zeros(shape, np.int32)
    best = np.zeros(shape, np.float32)          # the brightest model at a voxel owns it
    w20 = np.zeros(n_sources)
    n_vox, sums = np.zeros(n_sources), np.zeros(n_sources)
    for k in range(n_sources):
        iy, ix, ic = int(round(ys[k])), int(round(xs[k])), int(round(chan[k]))
        stamp, c0, w20[k] = render_source(props, k, inst, xs[k] - ix, ys[k] - iy)
        sc, sh, sw = stamp.shape
        half = sh // 2
        z0, y0, x0 = ic + c0, iy - half, ix - half
        cut = tuple(slice(max(0, -o), min(s, n - o)) for o, s, n in zip((z0, y0, x0), (sc, sh, sw), shape))
        dst = tuple(slice(o + a.start, o + a.stop) for o, a in zip((z0, y0, x0), cut))
        part = stamp[cut]
        model[dst] += part
        mask = part > footprint * stamp.max()
        own = mask & (part > best[dst])
        labels[dst][own] = k + 1
        best[dst][own] = part[own]
        n_vox[k], sums[k] = mask.sum(), part[mask].sum()
    noise_scale = np.full(c, inst.noise_jy, np.float32)
    cube = model.copy()
    if artefacts:
        for ch in rng.choice(c, size=max(1, c // 64), replace=False):      # RFI-like channels
            noise_scale[ch] *= rng.uniform(2, 4)
        for _ in range(max(1, ny * nx // 8192)):                           # continuum residuals
            iy, ix = rng.integers(4, ny - 4), rng.integers(4, nx - 4)
            chans = np.arange(c)
            ripple = rng.uniform(2, 5) * inst.noise_jy * np.sin(2 * np.pi * chans / rng.uniform(15, 40) + rng.uniform(0, 6.3))
            point = np.zeros((ny, nx), np.float32)
            point[iy, ix] = 1
            point = ndimage.gaussian_filter(point, inst.beam_sigma_px) * inst.beam_area_px
            cube += ripple[:, None, None].astype(np.float32) * point[None]
    cube += beam_noise(shape, inst, rng) * noise_scale[:, None, None]
    s = inst.beam_sigma_px
    snr = sums / (inst.noise_jy * np.sqrt(np.maximum(n_vox, 1) * 4 * np.pi * s * s))

    ra, dec = WCS(header).celestial.wcs_pix2world(xs, ys, 0)
    truth = {"id": np.arange(1, n_sources + 1), "ra": ra, "dec": dec, "x": xs, "y": ys, "z": chan,
             "central_freq": props["central_freq"], "line_flux_integral": props["line_flux_integral"],
             "w20": w20, "hi_size": props["hi_size"], "pa": props["pa"], "i": props["i"], "snr": snr,
             "log10_mhi": props["log10_mhi"], "flag": np.zeros(n_sources, int)}
    return cube, labels, truth, header


def _paste(out: np.ndarray, stamp: np.ndarray, z0: int, y0: int, x0: int) -> None:
    """Add ``stamp`` into ``out`` (c, y, x) with its first voxel at (z0, y0, x0), clipped at the edges."""
    src = tuple(slice(max(0, -o), min(s, n_ - o)) for o, s, n_ in zip((z0, y0, x0), stamp.shape, out.shape))
    if any(a.start >= a.stop for a in src):
        return
    dst = tuple(slice(o + a.start, o + a.stop) for o, a in zip((z0, y0, x0), src))
    out[dst] += stamp[src]


def source_stamps(n: int, inst: Instrument = INSTRUMENT, seed: int = 0, jitter: float = 1.0, neighbours: float = 0.0):
    """Noisy stamps of galaxies around their (jittered) centre, for the characterisation network.

    Returns ``(stamps (n, *STAMP_SHAPE) float32 in units of the channel noise, properties dict)``;
    channels are binned by 4 (each stamp spans 192 channels), centres offset by up to
    ``jitter`` pixels/channels as a detector's centroid would be. ``neighbours``: mean number of
    other galaxies at random places in each stamp (Poisson), as in a survey cube
    (:data:`NEIGHBOURS_PER_STAMP` at the simulator's default density).
    """
    rng = np.random.default_rng(seed)
    c_raw = STAMP_SHAPE[0] * _STAMP_BIN
    freq = inst.freq0_hz + rng.uniform(0, 256, n) * inst.channel_hz
    props = draw_population(n, freq, rng)
    out = np.zeros((n, c_raw, *STAMP_SHAPE[1:]), np.float32)
    w20 = np.zeros(n)
    h = STAMP_SHAPE[1]
    counts = rng.poisson(neighbours, n) if neighbours > 0 else np.zeros(n, int)
    others = draw_population(int(counts.sum()), inst.freq0_hz + rng.uniform(0, 256, counts.sum()) * inst.channel_hz, rng)
    j = 0
    for k in range(n):
        dx, dy, dc = rng.uniform(-jitter, jitter, 3)
        stamp, c0, w20[k] = render_source(props, k, inst, dx, dy)
        sh = stamp.shape[1]
        _paste(out[k], stamp, c_raw // 2 + c0 + int(round(dc)), h // 2 - sh // 2, h // 2 - sh // 2)
        for _ in range(counts[k]):
            px, py, pc = rng.uniform(0, h), rng.uniform(0, h), rng.uniform(0, c_raw)
            nb, nc0, _ = render_source(others, j, inst, px - int(px), py - int(py))
            nh = nb.shape[1]
            _paste(out[k], nb, int(pc) + nc0, int(py) - nh // 2, int(px) - nh // 2)
            j += 1
    out += beam_noise(out.shape, inst, rng) * inst.noise_jy
    out /= inst.noise_jy
    binned = out.reshape(n, STAMP_SHAPE[0], _STAMP_BIN, *STAMP_SHAPE[1:]).mean(2)
    props["w20"] = w20
    return binned.astype(np.float32), props
