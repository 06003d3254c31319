"""``sim2sky data list|fetch|path``: the registry of external datasets (see :mod:`sim2sky.core.data`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import out, user_errors

__all__ = ["app"]

app = typer.Typer(help="External datasets (real cubes, spectra, catalogues, benchmark references): list, fetch, locate. "
                       "A local mirror is used through SIM2SKY_DATA or --data-dir.", no_args_is_help=True)

_DATA_DIR = typer.Option(None, "--data-dir", help="Local mirror of the datasets (default: $SIM2SKY_DATA).")


@app.command("list")
@user_errors
def data_list(data_dir: Optional[Path] = _DATA_DIR,
              verbose: bool = typer.Option(False, "-v", "--verbose", help="Also list every file.")):
    """Every registered dataset: size, where it is (mirror / cache / missing), source and licence."""
    from rich.table import Table as RichTable

    from ..core.data import get_dataset, status

    t = RichTable("name", "MB", "files", "where", "description", "licence", title="sim2sky datasets")
    for row in status(data_dir):
        t.add_row(row["name"], f"{row['size'] / 1e6:.1f}", str(row["files"]), row["where"], row["description"],
                  row["licence"])
    out.print(t)
    if verbose:
        for row in status(data_dir):
            for rel, f in get_dataset(row["name"]).files.items():
                out.print(f"{row['name']:14s} {rel}  {f['size']:>10d}  sha256:{f['sha256'][:16]}...")


@app.command("fetch")
@user_errors
def data_fetch(name: str = typer.Argument(..., help="Dataset name (see 'sim2sky data list')."),
               data_dir: Optional[Path] = _DATA_DIR,
               url: Optional[str] = typer.Option(None, help="Base URL to download from (default: $SIM2SKY_DATA_URL "
                                                            "or the project's data release).")):
    """Make a dataset available: verify it in the mirror, or download it (SHA-256 checked) to the user cache."""
    from ..core.data import fetch

    root = fetch(name, data_dir=data_dir, url=url, progress=True)
    out.print(f"{name}: ready in {root}")


@app.command("path")
@user_errors
def data_path(name: str = typer.Argument(..., help="Dataset name."), data_dir: Optional[Path] = _DATA_DIR):
    """Print the folder under which the dataset's files lie (for scripts)."""
    from ..core.data import dataset_root

    print(dataset_root(name, data_dir))
