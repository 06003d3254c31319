"""``sim2sky model seal|verify``: the checksums that seal a model folder (see :mod:`sim2sky.core.modelio`)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import out, user_errors

__all__ = ["app"]

app = typer.Typer(help="Model folders: verify their seal (checksums.sha256), or re-seal one you edited on purpose.",
                  no_args_is_help=True)

_FOLDER = typer.Argument(..., help="A model folder (config.json + weights), or a folder of model folders.")


def _model_folders(folder: Path) -> list[Path]:
    """The folder itself if it is a model folder, else its model sub-folders (then the folder)."""
    if (folder / "config.json").is_file():
        return [folder]
    return sorted(p.parent for p in folder.glob("*/config.json")) + [folder]


@app.command("seal")
@user_errors
def model_seal(folder: Path = _FOLDER):
    """Write checksums.sha256 over every file of FOLDER (and of each model folder inside it).

    A sealed folder loads only while every file matches; re-seal after editing config.json or a
    side file on purpose. The weights must still match weights_sha256 in config.json.
    """
    from ..core.errors import InputError
    from ..core.modelio import seal_folder

    if not folder.is_dir():
        raise InputError(f"FOLDER: {folder} is not a folder")
    for f in _model_folders(folder):
        seal_folder(f)
        out.print(f"sealed {f}")


@app.command("verify")
@user_errors
def model_verify(folder: Path = _FOLDER):
    """Check FOLDER (and each model folder inside it) against its checksums.sha256; exit 2 on a mismatch."""
    from ..core.errors import InputError
    from ..core.modelio import verify_folder

    if not folder.is_dir():
        raise InputError(f"FOLDER: {folder} is not a folder")
    folders = _model_folders(folder)
    for f in folders:
        if f == folder and len(folders) > 1 and not (f / "checksums.sha256").is_file():
            continue            # a plain parent of model folders (e.g. the shipped models/) has no seal of its own
        verify_folder(f)
        out.print(f"ok {f}")
