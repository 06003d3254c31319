"""The ``sim2sky`` command line: a thin layer over the Python API.

Each case or tool has one module here; this file registers their sub-apps and commands
explicitly. Commands import the API lazily so that ``sim2sky --help`` stays fast (the CLI is
the only layer that imports inside functions for that reason).
"""

from __future__ import annotations

import typer

from .. import __version__
from . import data, demo, detect, fields, lit, model, nebulae, npe, spectra, timeseries, transits, understand
from .common import out

__all__ = ["app", "main"]

app = typer.Typer(
    name="sim2sky",
    help="Train on theory, apply to the sky, with errors.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
simulate_app = typer.Typer(help="Simulate training sets and mock observations from built-in forward models.",
                           no_args_is_help=True)
train_app = typer.Typer(help="Retrain the shipped models from their simulations.", no_args_is_help=True)


def _version(value: bool):
    if value:
        out.print(f"sim2sky {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")):
    """sim2sky: simulation-based inference, calibrated classifiers and cube processing for astronomy."""


# sub-apps, one per case or tool
app.add_typer(npe.app, name="npe")
app.add_typer(nebulae.app, name="nebulae")
app.add_typer(nebulae.cube_app, name="cube")
app.add_typer(spectra.app, name="spectra")
app.add_typer(lit.app, name="lit")
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
app.add_typer(simulate_app, name="simulate")
app.add_typer(train_app, name="train")
app.add_typer(understand.represent_app, name="represent")
app.add_typer(fields.emulate_app, name="emulate")
app.add_typer(detect.detect_app, name="detect")
app.add_typer(timeseries.lightcurves_app, name="lightcurves")
app.add_typer(transits.transits_app, name="transits")
spectra.app.command("sntype")(timeseries.sntype)
app.command("demo")(demo.demo)
app.command("deblend")(detect.deblend)
app.command("explain")(understand.explain)
app.command("tension")(understand.tension)

# simulate / train: one command per case
simulate_app.command("sbibm")(npe.simulate_sbibm)
simulate_app.command("nebulae")(nebulae.simulate_nebulae)
simulate_app.command("cube")(nebulae.simulate_cube)
simulate_app.command("spectra")(spectra.simulate_spectra)
simulate_app.command("fields")(fields.simulate_fields)
simulate_app.command("hicube")(detect.simulate_hicube)
simulate_app.command("blends")(detect.simulate_blends)
train_app.command("nebulae")(nebulae.train_nebulae)
train_app.command("spectra")(spectra.train_spectra)


def main():
    app()


if __name__ == "__main__":
    main()
