"""``sim2sky <case> simulate|train|predict|check|calibrate``: one grammar for every case.

Each case gets a sub-app with the five verbs of the case contract (:mod:`sim2sky.core.contract`)
plus its own extra verbs. Where a case already had a file-level command for a verb (``nebulae
classify`` is ``nebulae predict``), that command is the verb; the others are built here from the
contract. Old spellings stay one release as hidden aliases that print the new one. Case
packages are imported inside the commands so that ``--help`` imports neither torch nor them.
"""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Optional

import typer

from .common import OVERWRITE, file_out, model_out, notice, out, user_errors

__all__ = ["case_app", "parse_settings", "alias", "CASE_HELP", "SETTINGS_HELP"]

#: One line per case: what it does (the ``sim2sky --help`` listing).
CASE_HELP = {
    "nebulae": "Ionised nebulae (HII/PN/SNR/DIG/AGN/unknown) and HII-region parameters from emission-line tables.",
    "spectra": "1-D survey spectra: stars, galaxies, quasars or unknown, with redshift and stellar-parameter "
               "posteriors.",
    "supernovae": "Supernova spectra: subtype (or unknown), broad type and age from SNID/DASH templates.",
    "lightcurves": "Variable-star light curves: classes with unknown and periods, trained on simulations.",
    "transits": "Transit candidates: search light curves and vet planets against eclipsing binaries and systematics.",
    "hicubes": "HI source finding in radio cubes: detection, masks, moments and per-source posteriors.",
    "blends": "Galaxy images: detection and deblending, fluxes with errors, shapes, segmentation.",
    "fields": "Cosmological and 21-cm fields: simulate, emulate p(field | parameters), check summary statistics.",
    "sbibm": "The sbibm benchmark tasks: simulate, NPE, posterior summaries and calibration checks.",
    "radio": "Radio-galaxy images: FRI, FRII, bent tails, compact or unknown, from theory and MiraBest labels.",
}

#: The ``--set KEY=VALUE`` names of each case's ``simulate`` and ``train`` (kept here, not
#: imported, so that ``--help`` stays fast; tests/test_cli_grammar.py checks them against the API).
SETTINGS_HELP = {
    "nebulae": ("domain=theory|source|shifted, sn_halpha=LO,HI",
                "n_per_class, n_hii_params, epochs, seed, cross_theory"),
    "spectra": ("(none)", "n_per_class, n_stars, epochs, seed, normalise=mean|continuum, model_error=miles|none|FILE"),
    "supernovae": ("split=test|calibration|train|all, z_range=LO,HI, snr_range=LO,HI",
                   "augment_copies, epochs, seed"),
    "lightcurves": ("survey=eros1|s82|kepler", "survey, n_per_class, epochs, seed, n_jobs, encoder=mlp|cnn"),
    "transits": ("(none)", "n_per_scenario, epochs, seed, n_jobs"),
    "hicubes": ("shape=C,Y,X, noise_jy, artefacts=true|false",
                "n_cubes, detector_epochs, n_stamps, characteriser_epochs, n_calibration_cubes, seed"),
    "blends": ("size, pair_fraction", "n_stamps, epochs, seed"),
    "fields": ("kind=gaussian|lognormal|reion21cm|21cmfast, size, dim, box, noise", ""),
    "sbibm": ("task=two_moons|slcp|...", ""),
    "radio": ("survey=FIRST|NVSS|VLASS|LOTSS, hybrid_fraction, neighbours",
              "n_sims, epochs, n_calibration, real=mirabest|none, finetune_epochs, invariant, views=c2|c4|d4|none, seed"),
}

_SIMULATED_N = {"nebulae": 1000, "spectra": 1300, "supernovae": 200, "lightcurves": 700, "transits": 8,
                "hicubes": 100, "blends": 100, "fields": 1000, "sbibm": 10_000, "radio": 200}


def _case(name: str):
    from ..cases import CASES

    return importlib.import_module(f"sim2sky.cases.{CASES[name]}")


def parse_settings(pairs: Optional[list[str]]) -> dict:
    """``["a=1", "b=x", "c=3,300"]`` -> ``{"a": 1, "b": "x", "c": [3, 300]}`` (JSON values where they parse)."""
    from ..core.errors import InputError

    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set: expected KEY=VALUE, got {pair!r}")
        value = value.strip()
        try:
            parsed = json.loads(value)
        except ValueError:
            parts = value.split(",")
            try:
                parsed = [json.loads(p) for p in parts] if len(parts) > 1 else value
            except ValueError:
                parsed = value
        settings[key.strip()] = tuple(parsed) if isinstance(parsed, list) else parsed
    return settings


def alias(fn, new: str):
    """``fn`` under an old spelling: the same options, and a notice naming ``sim2sky NEW``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        notice(f"this spelling is deprecated and goes in the next release; use 'sim2sky {new}'")
        return fn(*args, **kwargs)

    return wrapper


def _simulate(name: str):
    sim_keys = SETTINGS_HELP[name][0]

    @user_errors
    def simulate(
        out_path: Path = typer.Option(..., "--out", help="Output: a table (.ecsv keeps units, .fits, .csv for flat "
                                      "tables) or, for images and cubes, a .fits file plus <stem>_truth.csv."),
        n: int = typer.Option(_SIMULATED_N[name], "--n", help="Objects (rows, sources, galaxies or fields).", min=1),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same output).", min=0),
        settings: Optional[list[str]] = typer.Option(None, "--set", help=f"Simulator setting KEY=VALUE, repeatable: "
                                                     f"{sim_keys}."),
    ):
        from ..core.contract import Dataset, check_settings
        from ..core.errors import InputError
        from ..core.tables import write_table

        file_out(out_path)
        mod = _case(name)
        config = parse_settings(settings)
        check_settings(config, mod.simulate, f"{name} simulate --set", exclude=("seed",))
        result = mod.simulate(n, seed=seed, **config)
        if isinstance(result, Dataset):
            written = result.write(out_path)
            out.print(f"wrote {', '.join(str(v) for k, v in written.items() if k in ('cube', 'image', 'out', 'truth'))}")
            return
        if out_path.suffix.lower() == ".csv" and any(result[c].ndim > 1 for c in result.colnames):
            raise InputError(f"--out: {out_path.name}: these tables hold one array per row; write .fits or .ecsv")
        write_table(result, out_path)
        out.print(f"wrote {len(result)} rows -> {out_path}")

    simulate.__doc__ = f"Simulate {name} from theory with their truth (the contract's {name}.simulate)."
    return simulate


#: What ``<case> train`` does where it is more than "simulations only".
TRAIN_HELP = {
    "radio": ("Train the radio classifier on simulations, then (real=mirabest, the default, where the dataset is "
              "available) fine-tune it on the MiraBest training split and calibrate it on the calibration split; "
              "write a sealed model folder recording both. real=none: simulations only. views=c2 (the default): "
              "the network then averages each cutout and its 180-degree turn (c4: the four rotations, d4: and "
              "their reflections, none: one pass), recalibrated."),
}


def _train(name: str):
    train_keys = SETTINGS_HELP[name][1]

    @user_errors
    def train(
        out_path: Path = typer.Option(..., "--out", help="Model folder to write (sealed with checksums.sha256)."),
        settings: Optional[list[str]] = typer.Option(None, "--set", help=f"Training setting KEY=VALUE, repeatable: "
                                                     f"{train_keys}."),
        overwrite: bool = OVERWRITE,
    ):
        model_out(out_path, overwrite)
        out.print(f"training the {name} models on simulations (the defaults reproduce the shipped models)...")
        folder = _case(name).train(parse_settings(settings), out_path, overwrite=overwrite)
        out.print(f"wrote {folder}")

    train.__doc__ = TRAIN_HELP.get(name, f"Train the {name} models on simulations only; write a sealed model folder.")
    return train


def _check(name: str):
    @user_errors
    def check(
        data: Optional[Path] = typer.Argument(None, help="Labelled data (a table or file with truth columns, as "
                                              "'simulate' writes them); default: fresh simulations."),
        model: Optional[Path] = typer.Option(None, "--model", help="Model folder (default: the shipped one)."),
        n: int = typer.Option(200, "--n", help="Simulated objects when DATA is not given.", min=1),
        seed: int = typer.Option(1, "--seed", help="Seed of the simulations and of any sampling.", min=0),
        out_path: Optional[Path] = typer.Option(None, "--out", help="Also write the report as JSON."),
    ):
        from ..core.atomic import write_text

        if out_path is not None:
            file_out(out_path)
        labelled = _read(name, data) if data is not None else None      # a bad file fails before any model loads
        pipe = _case(name).load(model)
        report = pipe.check(labelled, n=n, seed=seed) if labelled is not None else pipe.check(n=n, seed=seed)
        for key, value in report.items():
            if isinstance(value, (int, float)):
                out.print(f"{key:>28s}  {value:.4g}" if isinstance(value, float) else f"{key:>28s}  {value}")
        if out_path is not None:
            write_text(out_path, json.dumps(report, indent=1, default=float))
            out.print(f"wrote {out_path}")

    check.__doc__ = f"The {name} diagnostics on labelled data: held-out scores against the truth."
    return check


#: What ``<case> calibrate`` fits and reads (cases without an entry say "not available yet").
CALIBRATE_HELP = {
    "spectra": ("a posterior. target=stars (default): the stellar-parameter posterior, per-T_eff-group shift, "
                "model-error floor and conformal widths at 68%/95%, and the unlike_training trust score; DATA: "
                "spectra of stars with catalogue TEFF, LOGG, FEH (e.g. one half of MILES). target=redshift: the "
                "redshift posterior, shift and conformal widths per S/N group; DATA: spectra with TRUE_Z or z "
                "(e.g. 'spectra simulate' with another seed). Settings: target=stars|redshift, method=scale|cqr, "
                "reference=N, seed=N."),
    "lightcurves": ("the class probabilities (temperature or vector scaling) and conformal sets, at the level the "
                    "labels give: survey groups (EB/Cep/RRL/LPV) or model classes. DATA: a long table (id, t, mag, "
                    "err) with a per-star truth column (e.g. the EROS-1 train split). Settings: kind=vector|"
                    "temperature, alpha=0.1, method=aps|raps|lac, truth=COLUMN, n_jobs=N."),
    "nebulae": ("the class probabilities for one kind of line table (temperature or vector scaling, conformal "
                "sets), applied to rows with the same measured lines. DATA: a labelled line table with TRUE_CLASS "
                "(e.g. 5-line tables of theory grids, or regions of known class). Settings: kind=temperature|vector, "
                "alpha=0.1, method=aps|raps|lac, truth=COLUMN, preset=NAME."),
    "hicubes": ("the per-source HI posteriors (shift and conformal widths at 68%/95% per property). DATA: a FITS "
                "cube with <stem>_truth.csv beside it, or a folder of them (as 'hicubes simulate' writes). "
                "Settings: method=scale|cqr, floor=true|false, samples=N, seed=N."),
    "radio": ("the classifier's temperature and 'unknown' threshold. DATA: a stacked FITS (or .npz) of labelled "
              "cutouts with <stem>_truth.csv beside it (column 'class': FRI, FRII, Bent or Compact). Settings: "
              "truth=COLUMN, pixel_scale=ARCSEC, beam=ARCSEC."),
    "supernovae": ("the subtype probabilities (temperature or vector scaling) and conformal class sets. DATA: "
                   "spectra with TRUE_SUBTYPE (and SN, to keep each supernova in one fold). Settings: "
                   "kind=temperature|vector, alpha=0.1, method=aps|raps|lac, truth=COLUMN."),
}


def _calibrate(name: str):
    @user_errors
    def calibrate(
        model: str = typer.Argument(..., help="Model folder to calibrate, or 'shipped' for the shipped one."),
        data: Path = typer.Argument(..., help="Labelled real data (a development split, never the one you report)."),
        out_path: Path = typer.Option(..., "--out", help="New model folder: a copy of MODEL plus calibration.json "
                                      "(calibration set SHA-256 and size, what was fitted, cross-validated coverage)."),
        settings: Optional[list[str]] = typer.Option(None, "--set", help="Calibration setting KEY=VALUE, repeatable "
                                                     "(e.g. method=scale|cqr for posteriors, alpha=0.1 for "
                                                     "classifier sets)."),
        overwrite: bool = OVERWRITE,
    ):
        from ..core.contract import check_settings

        model_out(out_path, overwrite)
        labelled = _read(name, data)                # a bad file fails before any model loads
        pipe = _case(name).load(None if model == "shipped" else Path(model))
        config = parse_settings(settings)
        check_settings(config, pipe.calibrate, f"{name} calibrate --set", exclude=("data",))
        record = pipe.calibrate(labelled, out_path, overwrite=overwrite, **config)
        for key, value in _summary(record).items():
            out.print(f"{key:>34s}  {value}")
        out.print(f"wrote {out_path}")

    calibrate.__doc__ = (f"Calibrate {CALIBRATE_HELP[name]} Writes a new model folder; --model NEW then gives "
                         "calibrated results." if name in CALIBRATE_HELP else
                         f"Calibrate the {name} model on labelled real data (not available for this case yet: "
                         "it says so and exits 2).")
    return calibrate


def _summary(record: dict) -> dict:
    """The lines ``calibrate`` prints: calibration set and cross-validated coverage / ECE."""
    lines = {"calibration set": f"{record['dataset']['n']} objects, sha256 {record['dataset']['sha256'][:12]}..."}
    cv = record.get("cross_validated", {})
    for key in ("coverage_before", "coverage_after", "ece_before", "ece_after", "set_coverage", "set_size"):
        if key in cv:
            v = cv[key]
            lines[f"cross-validated {key.replace('_', ' ')}"] = (
                "; ".join(f"{k}: {' '.join(f'{x:.2f}' for x in (val if isinstance(val, list) else [val]))}" for k, val in v.items())
                if isinstance(v, dict) else f"{v:.3f}")
    return lines


def _read(name: str, path: Path):
    """What ``check``/``calibrate`` pass to the case: a path where the case reads files itself, a table otherwise."""
    if name in ("spectra", "supernovae", "hicubes", "blends", "fields", "radio"):
        return path
    from ..core.tables import read_table

    return read_table(path)


def case_app(name: str, existing: Optional[typer.Typer] = None, verbs: Optional[dict] = None,
             hidden: Optional[dict] = None) -> typer.Typer:
    """The ``sim2sky NAME`` sub-app: ``verbs`` maps a verb to an existing command function; the
    contract verbs not given are built here; ``hidden`` maps old verb spellings to functions."""
    app = existing or typer.Typer(help=CASE_HELP[name], no_args_is_help=True)
    app.info.help = CASE_HELP[name]
    verbs = dict(verbs or {})
    built = {"simulate": _simulate, "train": _train, "check": _check, "calibrate": _calibrate}
    for verb in ("simulate", "train", "predict", "check", "calibrate"):
        fn = verbs.pop(verb, None) or built[verb](name)
        app.command(verb)(fn)
    for verb, fn in verbs.items():                       # the case's extra verbs
        app.command(verb)(fn)
    for old, fn in (hidden or {}).items():
        app.command(old, hidden=True)(fn)
    return app
