"""The ``sim2sky`` command line: a thin layer over the Python API.

Each case or tool has one module here; this file registers their sub-apps and commands
explicitly. Commands import the API lazily so that ``sim2sky --help`` stays fast (the CLI is
the only layer that imports inside functions for that reason).
"""

from __future__ import annotations

import typer

from .. import __version__
from . import data, demo, detect, fields, lit, model, nebulae, npe, radio, spectra, timeseries, transits, understand
from .cases import alias, case_app
from .common import out

__all__ = ["app", "main"]

app = typer.Typer(
    name="sim2sky",
    help="Train on theory, apply to the sky, with errors.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
simulate_app = typer.Typer(help="Old spellings of '<case> simulate'.",
                           no_args_is_help=True)
train_app = typer.Typer(help="Old spellings of '<case> train'.", no_args_is_help=True)


def _version(value: bool):
    if value:
        out.print(f"sim2sky {__version__}")
        raise typer.Exit()


def _checked(name: str):
    """A typer callback validating ``--device`` / ``--precision`` with :mod:`sim2sky.core.runtime`."""
    def callback(value: str | None):
        from ..core.errors import InputError
        from ..core.runtime import check_device, check_precision

        check = {"device": check_device, "precision": check_precision}[name]
        try:
            return None if value is None else check(value)
        except InputError as exc:
            raise typer.BadParameter(str(exc).partition(": ")[2]) from None

    return callback


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit."),
          device: str = typer.Option(None, "--device", callback=_checked("device"), envvar="SIM2SKY_DEVICE",
                                     help="Where networks train and predict: cpu (default), cuda, cuda:N or auto "
                                          "(cuda when torch sees a GPU). Before the case: sim2sky --device cuda "
                                          "spectra predict ..."),
          precision: str = typer.Option(None, "--precision", callback=_checked("precision"), envvar="SIM2SKY_PRECISION",
                                        help="Classifier inference precision: float32 (default), bfloat16, or "
                                             "float16 (GPU only); posteriors always sample in float32.")):
    """sim2sky: simulation-based inference, calibrated classifiers and cube processing for astronomy."""
    from ..core.runtime import set_runtime

    set_runtime(device, precision)


# the cases: sim2sky <case> simulate|train|predict|check|calibrate (+ the case's own verbs)
CASE_APPS = {
    "nebulae": case_app("nebulae", nebulae.app, {"train": nebulae.train_nebulae, "predict": nebulae.nebulae_classify,
                         "adapt": nebulae.nebulae_adapt},
                        hidden={"classify": alias(nebulae.nebulae_classify, "nebulae predict")}),
    "spectra": case_app("spectra", spectra.app, {"train": spectra.train_spectra, "predict": spectra.spectra_classify,
                         "stars": spectra.spectra_stars},
                        hidden={"classify": alias(spectra.spectra_classify, "spectra predict"),
                                "sntype": alias(timeseries.sntype, "supernovae predict")}),
    "supernovae": case_app("supernovae", None, {"predict": timeseries.sntype}),
    "lightcurves": case_app("lightcurves", timeseries.lightcurves_app,
                            {"simulate": timeseries.simulate, "train": timeseries.train, "predict": timeseries.classify,
                             "vet": timeseries.vet},
                            hidden={"classify": alias(timeseries.classify, "lightcurves predict")}),
    "transits": case_app("transits", transits.transits_app,
                         {"simulate": transits.simulate, "train": transits.train, "predict": transits.vet_lightcurves},
                         hidden={"vet": alias(transits.vet_lightcurves, "transits predict")}),
    "hicubes": case_app("hicubes", None, {"predict": detect.detect_cube}),
    "blends": case_app("blends", None, {"predict": detect.deblend}),
    "fields": case_app("fields", None, {"simulate": fields.simulate_fields, "train": fields.emulate_train,
                                        "predict": fields.emulate_sample, "check": fields.emulate_check}),
    "sbibm": case_app("sbibm", None, {"simulate": npe.simulate_sbibm, "train": npe.npe_train, "predict": npe.npe_sample,
                                      "check": npe.npe_check, "sequential": npe.npe_sequential}),
    "radio": case_app("radio", None, {"predict": radio.radio_predict, "classify": radio.radio_predict}),
}
for _name, _app in CASE_APPS.items():
    app.add_typer(_app, name=_name, rich_help_panel="Cases")

# tools that work across cases
app.add_typer(nebulae.cube_app, name="cube", rich_help_panel="Tools")
app.add_typer(npe.app, name="npe", rich_help_panel="Tools")
app.add_typer(fields.emulate_app, name="emulate", rich_help_panel="Tools")
app.add_typer(understand.represent_app, name="represent", rich_help_panel="Tools")
app.command("explain", rich_help_panel="Tools")(understand.explain)
app.command("tension", rich_help_panel="Tools")(understand.tension)
app.add_typer(lit.app, name="lit", rich_help_panel="Tools")
app.add_typer(data.app, name="data", rich_help_panel="Tools")
app.add_typer(model.app, name="model", rich_help_panel="Tools")
app.command("demo", rich_help_panel="Tools")(demo.demo)

# old spellings, hidden for one release: each prints its new spelling
app.add_typer(simulate_app, name="simulate", hidden=True)
app.add_typer(train_app, name="train", hidden=True)
app.add_typer(detect.detect_app, name="detect", hidden=True)
detect.detect_app.command("cube", hidden=True)(alias(detect.detect_cube, "hicubes predict"))
app.command("deblend", hidden=True)(alias(detect.deblend, "blends predict"))
nebulae.cube_app.command("simulate")(nebulae.simulate_cube)
for _old, _fn, _new in (("sbibm", npe.simulate_sbibm, "sbibm simulate"),
                        ("fields", fields.simulate_fields, "fields simulate"),
                        ("cube", nebulae.simulate_cube, "cube simulate"),
                        # these three now count objects, not objects per class: the new --n differs
                        ("nebulae", nebulae.simulate_nebulae, "nebulae simulate --n ROWS"),
                        ("spectra", spectra.simulate_spectra, "spectra simulate --n SPECTRA"),
                        ("hicube", detect.simulate_hicube, "hicubes simulate --n SOURCES"),
                        ("blends", detect.simulate_blends, "blends simulate --n GALAXIES")):
    simulate_app.command(_old)(alias(_fn, _new))
train_app.command("nebulae")(alias(nebulae.train_nebulae, "nebulae train"))
train_app.command("spectra")(alias(spectra.train_spectra, "spectra train"))


def main():
    app()


if __name__ == "__main__":
    main()
