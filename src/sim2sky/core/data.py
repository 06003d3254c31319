"""The data registry: external datasets by name, from a local mirror or a per-user cache.

sim2sky ships what its main commands need inside the package (theory grids, noise spectra,
small models). Larger external datasets (real MUSE cubes, sbibm reference posteriors, the
astro-ph corpus, real stellar spectra, catalogues) are listed in ``datasets.json``: one entry
per dataset with its files (path relative to the data root, SHA-256, size), provenance and
licence. They are found, in this order, in

1. a folder given explicitly (``data_dir=`` / ``--data-dir``),
2. ``$SIM2SKY_DATA`` (a local mirror with the registry's layout, e.g. a shared disk),
3. the per-user cache (``platformdirs.user_cache_dir("sim2sky")/data``, or ``$SIM2SKY_CACHE``),
   filled by :func:`fetch` (``sim2sky data fetch NAME``) with pooch: download from
   ``$SIM2SKY_DATA_URL`` (default :data:`DEFAULT_URL`) + the file's path, SHA-256 checked; a
   file whose entry has its own ``url`` (a published archive such as the sbibm wheel on PyPI)
   is downloaded from there.

A dataset that is in none of them raises :class:`DataError` naming ``sim2sky data fetch NAME``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import InputError, suggest

__all__ = ["DataError", "Dataset", "DEFAULT_URL", "datasets", "get_dataset", "mirror_dir", "cache_dir",
           "dataset_root", "dataset_file", "available", "fetch", "verify", "status"]

#: Where ``fetch`` downloads from: the project's data release, laid out like the mirror.
DEFAULT_URL = "https://github.com/sim2sky/sim2sky-data/raw/v1/"


class DataError(InputError):
    """A dataset that is not available locally (the message says how to get it)."""


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    source: str
    licence: str
    files: dict            # relative path -> {"sha256": str, "size": int, optional "url": str}

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())


@lru_cache(maxsize=1)
def datasets() -> dict[str, Dataset]:
    """All registered datasets, by name."""
    with resources.files("sim2sky.core").joinpath("datasets.json").open("r") as fh:
        raw = json.load(fh)
    return {name: Dataset(name, d["description"], d["source"], d["licence"], d["files"]) for name, d in raw.items()}


def get_dataset(name: str) -> Dataset:
    reg = datasets()
    if name not in reg:
        raise DataError(f"unknown dataset {name!r}{suggest(name, reg)}; 'sim2sky data list' shows them all")
    return reg[name]


def mirror_dir(data_dir=None) -> Path | None:
    """The local mirror: ``data_dir`` if given, else ``$SIM2SKY_DATA``, else None."""
    d = data_dir if data_dir is not None else os.environ.get("SIM2SKY_DATA")
    if not d:
        return None
    d = Path(d).expanduser()
    if not d.is_dir():
        raise DataError(f"data folder {d} (from {'--data-dir' if data_dir is not None else '$SIM2SKY_DATA'}) "
                        "does not exist; point it at a mirror of the sim2sky datasets")
    return d


def cache_dir() -> Path:
    """The per-user download cache (``$SIM2SKY_CACHE`` overrides)."""
    env = os.environ.get("SIM2SKY_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sim2sky")) / "data"


def _complete(root: Path, ds: Dataset) -> bool:
    return all((root / rel).is_file() and (root / rel).stat().st_size == int(f["size"]) for rel, f in ds.files.items())


def dataset_root(name: str, data_dir=None) -> Path:
    """The folder under which all files of dataset ``name`` lie (mirror first, then cache).

    Files are checked for presence and size here (cheap); :func:`verify` checks checksums.
    """
    ds = get_dataset(name)
    roots = [r for r in (mirror_dir(data_dir), cache_dir()) if r is not None]
    for root in roots:
        if _complete(root, ds):
            return root
    where = " or ".join(str(r) for r in roots)
    raise DataError(f"dataset {name!r} ({ds.description}) is not available in {where}: run "
                    f"'sim2sky data fetch {name}' (or set SIM2SKY_DATA to a local mirror)")


def dataset_file(name: str, relpath: str, data_dir=None) -> Path:
    """Path of one file of a dataset (``relpath`` as listed by ``sim2sky data list -v``)."""
    ds = get_dataset(name)
    if relpath not in ds.files:
        raise DataError(f"dataset {name!r} has no file {relpath!r}{suggest(relpath, ds.files)}")
    return dataset_root(name, data_dir) / relpath


def available(name: str, data_dir=None) -> bool:
    try:
        dataset_root(name, data_dir)
        return True
    except DataError:
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(name: str, data_dir=None) -> list[str]:
    """Relative paths of the files of ``name`` whose SHA-256 does not match the registry."""
    ds = get_dataset(name)
    root = dataset_root(name, data_dir)
    return [rel for rel, f in ds.files.items() if _sha256(root / rel) != f["sha256"]]


def fetch(name: str, data_dir=None, url: str | None = None, progress: bool = False) -> Path:
    """Make dataset ``name`` available and return its root folder.

    With a mirror (``data_dir`` / ``$SIM2SKY_DATA``) holding the files, their checksums are
    verified and the mirror is used. Otherwise each missing file is downloaded with pooch into
    the per-user cache from ``url`` (default ``$SIM2SKY_DATA_URL`` or :data:`DEFAULT_URL`).
    """
    ds = get_dataset(name)
    mirror = mirror_dir(data_dir)
    if mirror is not None and _complete(mirror, ds):
        bad = verify(name, mirror)
        if bad:
            raise DataError(f"dataset {name!r} in {mirror}: {len(bad)} file(s) fail their SHA-256 check "
                            f"(first: {bad[0]}); the mirror is corrupt or holds another version")
        return mirror
    import pooch

    base = url or os.environ.get("SIM2SKY_DATA_URL") or DEFAULT_URL
    root = cache_dir()
    for rel, f in ds.files.items():
        target = root / rel
        if target.is_file() and target.stat().st_size == int(f["size"]):
            continue
        try:
            pooch.retrieve(f.get("url") or base.rstrip("/") + "/" + rel, known_hash=f"sha256:{f['sha256']}",
                           fname=target.name, path=target.parent, progressbar=progress)
        except Exception as exc:  # network errors, HTTP errors and hash mismatches all mean "not fetched"
            raise DataError(f"could not fetch {rel} of dataset {name!r} from {base}: {exc}. Without internet, copy "
                            f"the dataset into a folder and set SIM2SKY_DATA to it") from None
    return root


def status(data_dir=None) -> list[dict]:
    """One row per dataset: name, description, files, size, where it is (mirror/cache/missing)."""
    try:
        mirror = mirror_dir(data_dir)
    except DataError:
        mirror = None
    rows = []
    for ds in datasets().values():
        where, root = "missing", None
        if mirror is not None and _complete(mirror, ds):
            where, root = "mirror", mirror
        elif _complete(cache_dir(), ds):
            where, root = "cache", cache_dir()
        rows.append({"name": ds.name, "description": ds.description, "files": len(ds.files), "size": ds.size,
                     "where": where, "root": None if root is None else str(root), "licence": ds.licence,
                     "source": ds.source})
    return rows
