"""Turn a user's file into the vectors a model sees: feature tables, nebula line tables and
cubes (the nebula case's line-ratio features), and 1-D spectra (the spectra case's model grid).

``kind`` is stored with every representation model so that ``embed`` re-reads new files the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..cases import nebulae, radio, spectra
from ..core.errors import InputError, reading
from ..core.tables import TABLE_SUFFIXES, read_table, table_suffix

__all__ = ["INPUT_KINDS", "Inputs", "read_inputs", "guess_kind", "classifier_inputs", "radio_inputs"]

INPUT_KINDS = ("auto", "table", "lines", "cube", "spectra")


@dataclass
class Inputs:
    """Vectors ``x`` (n, k) or (n, C, L), their ``names`` (features) or ``wave`` (Å), the ``kind``
    read, the columns used and optional per-row ``labels`` (from ``label_column``)."""
    x: np.ndarray
    kind: str
    names: list = field(default_factory=list)
    wave: np.ndarray | None = None
    labels: np.ndarray | None = None
    columns: list | None = None


def _guess(path: Path):
    """(kind, the table when one was read to decide, else None)."""
    if not path.is_file():
        raise InputError(f"INPUT: {path} does not exist")
    suffix = table_suffix(path)
    if suffix.startswith(".fit"):
        if nebulae.is_cube(path):
            return "cube", None
        with fits.open(path) as h:
            image = any(hdu.is_image and hdu.header.get("NAXIS", 0) in (1, 2) for hdu in h)
            names = {hdu.name for hdu in h}
        if image or names & {"COADD", "WAVE", "FLUX"}:
            return "spectra", None
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"INPUT: cannot tell what {path.name} holds (suffix {suffix!r}); expected a table "
                         f"({', '.join(TABLE_SUFFIXES)}), a spectra FITS file or a cube")
    t = read_table(path)
    lines = any(c.upper() == "HA6563" for c in t.colnames) or nebulae.preset_for_columns(t.colnames) is not None
    return ("lines" if lines else "table"), t


def guess_kind(path) -> str:
    """``cube`` for a 3-D FITS image, ``spectra`` for other FITS images / SDSS-like files, ``lines``
    for a table with an Hα column, else ``table``."""
    return _guess(Path(path))[0]


def _numeric(t, name: str) -> bool:
    return np.asarray(t[name]).dtype.kind in "fiub" and np.asarray(t[name]).ndim == 1


def read_inputs(path, kind: str = "auto", columns=None, label_column: str | None = None,
                redshift: float | None = None) -> Inputs:
    """Read ``path`` as model inputs (see :func:`_read_inputs`); a damaged file is an InputError."""
    with reading(path):
        return _read_inputs(path, kind, columns, label_column, redshift)


def _read_inputs(path, kind: str = "auto", columns=None, label_column: str | None = None,
                 redshift: float | None = None) -> Inputs:
    """Read ``path`` as model inputs.

    Parameters
    ----------
    kind : auto, table, lines, cube, spectra
    columns : list of str, optional
        For tables: the feature columns (default: every numeric column but ``label_column``).
    label_column : str, optional
        A column of known labels (kept aside, never used as a feature).
    redshift : float, optional
        For cubes (default: from the header or the nebula case's estimate).
    """
    path = Path(path)
    if kind not in INPUT_KINDS:
        raise InputError(f"--input-kind: expected one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    if not path.is_file():
        raise InputError(f"INPUT: {path} does not exist")
    t = None
    if kind == "auto":
        kind, t = ("table", None) if columns else _guess(path)
    elif columns and kind != "table":
        raise InputError(f"--columns: only for --input-kind table (the {kind} reader chooses its own features)")
    if kind == "cube":
        return Inputs(nebulae.cube_features(path, redshift), kind, list(nebulae.FEATURE_NAMES))
    if kind == "spectra":
        return Inputs(spectra.model_inputs(spectra.read_spectra(path))[0], kind, wave=spectra.model_wave())
    if kind == "lines":
        lt = nebulae.read_line_table(path)
        x, valid = nebulae.line_features(lt.lines, lt.n)
        labels = None
        if label_column:
            if label_column not in lt.passthrough:
                raise InputError(f"--labels: no column {label_column!r} in {path.name} besides the line columns; "
                                 f"columns: {', '.join(lt.passthrough)}")
            labels = np.asarray(lt.passthrough[label_column]).astype(str)[valid]
        return Inputs(x[valid], kind, list(nebulae.FEATURE_NAMES), labels=labels)
    t = read_table(path) if t is None else t
    if label_column and label_column not in t.colnames:
        raise InputError(f"--labels: no column {label_column!r} in {path.name}; columns: {', '.join(t.colnames)}")
    labels = np.asarray(t[label_column]).astype(str) if label_column else None
    if columns:
        missing = [c for c in columns if c not in t.colnames]
        if missing:
            raise InputError(f"--columns: {', '.join(missing)} not in {path.name}; columns: {', '.join(t.colnames)}")
    else:
        columns = [c for c in t.colnames if c != label_column and _numeric(t, c)]
    if not columns:
        raise InputError(f"INPUT: {path.name} has no numeric columns; name them with --columns")
    bad = [c for c in columns if not _numeric(t, c)]
    if bad:
        raise InputError(f"--columns: {', '.join(bad)} in {path.name} are not numeric")
    x = np.column_stack([np.asarray(t[c], np.float64) for c in columns]).astype(np.float32)
    return Inputs(x, "table", list(columns), labels=labels, columns=list(columns))


def classifier_inputs(clf, path, redshift: float | None = None) -> Inputs:
    """Inputs of a sim2sky classifier for ``path``: the nebula features for a nebula classifier
    (line table or cube), the spectra grid for a spectra classifier, else the named columns."""
    in_shape = tuple(clf.network_.in_shape)
    names = list(clf.feature_names or [])
    if names == [radio.IMAGE_FEATURE]:
        return radio_inputs(path)
    if names == list(nebulae.FEATURE_NAMES):
        kind = guess_kind(path)
        if kind not in ("lines", "cube"):
            raise InputError(f"INPUT: the model is a nebula classifier; give a line table or a cube, not {kind}")
        return read_inputs(path, kind, redshift=redshift)
    if len(in_shape) == 2:
        inp = read_inputs(path, "spectra")
        if tuple(inp.x.shape[1:]) != in_shape:
            raise InputError(f"INPUT: the model expects spectra inputs of shape {in_shape}, got {inp.x.shape[1:]}")
        return inp
    if not names:
        raise InputError("MODEL: the classifier has no feature names; it cannot be applied to a table")
    return read_inputs(path, "table", columns=names)


def radio_inputs(path, pixel_scale=None, beam=None) -> Inputs:
    """Radio cutouts (FITS cutouts or a stack) on the radio classifier's grid: ``x`` (n, 64, 64)."""
    xs = [radio.to_grid(images, pixel, b)[0] for images, pixel, b, _ in
          radio.iter_chunks(radio.read_cutouts(path, pixel_scale, beam))]
    return Inputs(np.concatenate(xs), "image", [radio.IMAGE_FEATURE])
