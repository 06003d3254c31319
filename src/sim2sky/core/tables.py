"""Read simulation and observation tables: ``.npz``, FITS tables, Parquet, CSV.

``.npz`` files carry arrays (``theta`` (n, d) and ``x`` (n, k)); the table formats carry named
columns chosen with ``theta_cols`` / ``x_cols``. Errors name the file, the column and the fix.
:func:`qtable` is the one place output tables get a unit on every numeric column.

astropy is imported inside the functions: ``sim2sky.core`` is loaded by ``sim2sky --help``,
which stays under 1 s without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_file
from .errors import InputError, suggest
from .extras import require

__all__ = ["qtable", "read_table", "read_long_table", "iter_long_table", "per_object", "long_table", "read_arrays", "is_array_file", "read_table_columns", "table_columns", "write_table", "table_suffix", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".parquet", ".pq", ".csv", ".ecsv")


def table_suffix(path: Path) -> str:
    """Lower-case suffix, with ``.fits.gz`` / ``.fit.gz`` kept whole."""
    name = path.name.lower()
    for s in (".fits.gz", ".fit.gz"):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def read_table(path):
    """Read a FITS (first table HDU), Parquet, CSV or ECSV table as an astropy Table.

    Raises :class:`InputError` naming the file when it is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"table {path} does not exist")
    from astropy.table import Table

    suffix = table_suffix(path)
    try:
        if suffix in (".parquet", ".pq"):
            # astropy's reader (pyarrow + pandas, both installed with the 'parquet' extra or shap):
            # it keeps the units and metadata that astropy wrote
            return Table.read(path, format="parquet")
        if suffix == ".csv":
            return Table.read(path, format="ascii.csv")
        if suffix == ".ecsv":
            return Table.read(path, format="ascii.ecsv")
        return Table.read(path, hdu=1) if suffix.startswith(".fit") else Table.read(path)
    except ImportError as exc:
        raise InputError(f"cannot read {path}: {exc}; install the 'parquet' extra for Parquet files") from None
    except Exception as exc:  # astropy raises many types for unreadable files
        # the first line only: astropy appends its whole table of formats to some of these
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot read table {path}: {first}") from None


def table_columns(path) -> list[str]:
    return list(read_table(Path(path)).colnames)


def read_table_columns(path, columns: list[str], what: str) -> np.ndarray:
    """Columns of a table as a float array (n, len(columns))."""
    path = Path(path)
    table = read_table(path)
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        c = missing[0]
        raise InputError(f"{what}: column {c!r} is not in {path.name}{suggest(c, table.colnames)}; "
                         f"available columns: {', '.join(table.colnames)}")
    try:
        cols = [np.ma.filled(np.ma.asarray(table[c], dtype=float), np.nan) for c in columns]
    except (TypeError, ValueError):
        bad = next(c for c in columns if not np.issubdtype(np.asarray(table[c]).dtype, np.number))
        raise InputError(f"{what}: column {bad!r} of {path.name} is not numeric") from None
    return np.stack(cols, axis=1).astype(np.float32)


class _Arrays:
    """Named arrays of an .npz or HDF5 file, or of a FITS field file (image HDU ``X`` + table ``THETA``)."""

    def __init__(self, path: Path):
        suffix = table_suffix(path)
        self.arrays = {}
        if suffix == ".npz":
            data = np.load(path, allow_pickle=False)
            self.arrays = {k: data[k] for k in data.files}
        elif suffix in (".h5", ".hdf5"):
            h5py = require("h5py")

            with h5py.File(path, "r") as fh:
                for k in fh.keys():
                    a = fh[k][()]
                    self.arrays[k] = a.astype(str) if a.dtype.kind in "SO" else a
        else:                                           # FITS field file
            from astropy.io import fits

            with fits.open(path, memmap=False) as hdul:
                self.arrays["x"] = np.asarray(hdul["X"].data)
                theta = hdul["THETA"].data
                self.arrays["theta"] = np.stack([np.asarray(theta[c], float) for c in theta.columns.names], 1)
                self.arrays["theta_names"] = np.array(theta.columns.names)


def is_array_file(path) -> bool:
    """True for .npz / HDF5 files and FITS files with an image extension ``X`` (simulated fields)."""
    path = Path(path)
    suffix = table_suffix(path)
    if suffix in (".npz", ".h5", ".hdf5"):
        return True
    if suffix.startswith(".fit") and path.is_file():
        from astropy.io import fits

        try:
            with fits.open(path) as hdul:
                return "X" in hdul and hdul["X"].is_image
        except OSError:
            return False
    return False


def read_arrays(path, keys: tuple[str, ...], cols: dict[str, list[str] | None]) -> tuple[dict, dict]:
    """Read arrays ``keys`` from an ``.npz``/HDF5 file (or FITS field file), or named columns from a table.

    Returns ``(arrays, names)``: arrays keyed like ``keys``, and column names per key.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file {path} does not exist")
    if is_array_file(path):
        try:
            data = _Arrays(path).arrays
        except Exception as exc:
            raise InputError(f"cannot read arrays from {path}: {exc}") from None
        arrays, names = {}, {}
        for k in keys:
            if k not in data:
                raise InputError(f"{path.name} has no array {k!r}{suggest(k, list(data))}; arrays present: {list(data)}")
            a = data[k]
            if a.dtype == object or not np.issubdtype(a.dtype, np.number):
                raise InputError(f"array {k!r} in {path.name} is not numeric (dtype {a.dtype})")
            arrays[k] = a[:, None] if a.ndim == 1 else a
            name_key = f"{k}_names"
            names[k] = [str(s) for s in data[name_key]] if name_key in data else None
        return arrays, names
    if table_suffix(path) in TABLE_SUFFIXES:
        arrays, names = {}, {}
        for k in keys:
            if not cols.get(k):
                raise InputError(f"{path.name} is a table: name the {k} columns with --{k.replace('_', '-')}-cols A,B,...")
            arrays[k] = read_table_columns(path, cols[k], f"--{k}-cols")
            names[k] = list(cols[k])
        return arrays, names
    raise InputError(f"unsupported file type {path.name}: use .npz, .h5, FITS table, Parquet or CSV")


_WRITE_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}


def read_long_table(path, id_col: str, value_cols: tuple[str, ...], hint: str = "", units=None) -> tuple:
    """A long table (one row per epoch/cadence) grouped by ``id_col``: ``(ids, *lists of arrays)``.

    ``path`` is a table file or an astropy Table/QTable. Rows of each id stay in file order; ids
    come in the order they first appear. ``units`` (one per value column, None for any) converts
    columns that carry a unit and refuses incompatible ones. ``hint`` is added to the error for
    missing columns (e.g. the CLI options that rename them).
    """
    from astropy import units as u
    from astropy.table import Table

    tab = path if isinstance(path, Table) else read_table(path)
    name = "data" if isinstance(path, Table) else Path(path).name
    missing = [c for c in (id_col, *value_cols) if c not in tab.colnames]
    if missing:
        raise InputError(f"{name}: columns {missing} not found (has {tab.colnames}){hint}")
    ids = np.asarray(tab[id_col]).astype(str)
    cols = []
    for c, unit in zip(value_cols, units or (None,) * len(value_cols)):
        col = tab[c]
        try:
            if unit is not None and getattr(col, "unit", None) is not None:
                values = u.Quantity(col).to_value(unit)
            else:
                values = np.asarray(getattr(col, "value", col), float)
        except u.UnitConversionError:
            raise InputError(f"{name}: column {c!r} is in {col.unit}, expected {u.Unit(unit)} or a unit "
                             "convertible to it") from None
        except (TypeError, ValueError):
            raise InputError(f"{name}: column {c!r} is not numeric") from None
        cols.append(np.asarray(values, float))
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rows = np.argsort(inverse, kind="stable")      # rows of each id together, in file order
    groups = np.split(rows, np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1])
    order = np.argsort(first)
    return uniq[order], *([col[groups[k]] for k in order] for col in cols)


def iter_long_table(path, id_col: str, value_cols: tuple[str, ...], hint: str = "", units=None,
                    chunk_rows: int = 500_000):
    """:func:`read_long_table` in pieces of whole objects, for tables larger than memory.

    A FITS binary table with more than ``chunk_rows`` rows is read from the file ``chunk_rows``
    rows at a time (only that block is in memory); the last object of each block waits for the
    next one, so every object arrives whole. Its rows must then be contiguous (an id seen again
    after other ids is an :class:`InputError` naming it: sort the table by id). Other formats,
    smaller tables and scaled or variable-length columns come as one piece, exactly as
    :func:`read_long_table` reads them.
    """
    path = path if not isinstance(path, (str, Path)) else Path(path)
    if not (isinstance(path, Path) and path.is_file() and table_suffix(path) in (".fits", ".fit")):
        yield read_long_table(path, id_col, value_cols, hint, units)
        return
    from astropy import units as u
    from astropy.io import fits
    from astropy.table import Table

    try:
        hdul = fits.open(path, memmap=True)
    except (OSError, ValueError):                     # not FITS after all: read_table names the problem
        yield read_long_table(path, id_col, value_cols, hint, units)
        return
    with hdul:
        k = next((i for i, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU)), None)
        hdu = None if k is None else hdul[k]
        wanted = (id_col, *value_cols)
        plain = hdu is not None and all(
            c.bscale in (None, 1) and c.bzero in (None, 0) and "P" not in c.format and "Q" not in c.format
            for c in hdu.columns if c.name in wanted)
        if hdu is None or hdu.header["NAXIS2"] <= chunk_rows or not plain:
            yield read_long_table(path, id_col, value_cols, hint, units)
            return
        names = hdu.columns.names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise InputError(f"{path.name}: columns {missing} not found (has {names}){hint}")
        unit_of = {c.name: c.unit for c in hdu.columns if c.unit}
        # the raw records, read block by block from the file (astropy's column access would convert
        # and cache whole columns: 2.5 GB for 12 million rows)
        try:
            dtype, offset = np.dtype(hdu.data.dtype), hdul.fileinfo(k)["datLoc"]
        except (TypeError, ValueError, OSError) as exc:   # e.g. a truncated file: its data cannot be mapped
            raise InputError(f"{path.name}: unreadable FITS table ({exc})") from None
        n = hdu.header["NAXIS2"]

    def block(a, b):
        rows = np.fromfile(path, dtype=dtype, count=b - a, offset=offset + a * dtype.itemsize)
        if len(rows) != b - a:
            raise InputError(f"{path.name}: the table is truncated (its header promises {n:,} rows, the file "
                             f"ends after {a + len(rows):,})")
        return rows

    def text(values):
        return np.char.rstrip(values).astype(str) if values.dtype.kind == "S" else np.asarray(values).astype(str)

    start, done = 0, set()
    while start < n:
        stop = min(n, start + chunk_rows)
        rows = block(start, stop)
        if stop < n:                                  # hold back the last object: it may go on
            ids = text(rows[id_col])
            while stop < n and not (ids != ids[-1]).any():      # one object longer than a block
                stop = min(n, stop + chunk_rows)
                rows = block(start, stop)
                ids = text(rows[id_col])
            other = np.flatnonzero(ids != ids[-1])
            if stop < n and len(other):
                stop = start + int(other[-1]) + 1
                rows = rows[:stop - start]
        part = Table({c: text(rows[c]) if c == id_col else rows[c].astype(rows[c].dtype.newbyteorder("="))
                      for c in wanted})
        for c in value_cols:
            if c in unit_of:
                part[c].unit = u.Unit(unit_of[c], parse_strict="silent")
        piece = read_long_table(part, id_col, value_cols, hint, units)
        again = done.intersection(piece[0].tolist())
        if again:
            raise InputError(f"{path.name}: the rows of id {sorted(again)[0]!r} are not together; tables of more "
                             f"than {chunk_rows:,} rows are read in pieces and need each object's rows in one "
                             f"block (sort the table by {id_col})")
        done.update(piece[0].tolist())
        yield piece
        start = stop


def qtable(columns: dict, units: dict | None = None, meta: dict | None = None):
    """A ``QTable`` of ``columns`` where every numeric column carries a unit.

    ``units`` maps column names to units (strings or :class:`~astropy.units.Unit`); a numeric
    column not named there (probabilities, scores, counts, flags as numbers) is dimensionless.
    Columns that are already :class:`~astropy.units.Quantity` keep theirs, and so do input
    :class:`~astropy.table.Column` objects passed through (none if they came without). Text and
    boolean columns carry none.
    """
    from astropy import units as u            # astropy stays out of 'sim2sky --help' (module docstring)
    from astropy.table import Column, QTable

    dimensionless = u.dimensionless_unscaled
    units = units or {}
    t = QTable(meta=meta or {})
    for name, values in columns.items():
        if isinstance(values, u.Quantity):
            t[name] = values
            continue
        if isinstance(values, Column):          # an input column passed through: its own unit or none
            t[name] = values.quantity if values.unit is not None else values
            continue
        values = np.asarray(values)
        if values.dtype.kind in "fiuc":
            unit = u.Unit(units.get(name, dimensionless))
            # integers stay integers (ids, counts); logarithmic units (dex) make their own quantity class
            t[name] = values * unit if isinstance(unit, u.FunctionUnitBase) else u.Quantity(values, unit,
                                                                                             dtype=values.dtype)
        else:
            t[name] = values
    return t


def per_object(table, id_col: str, column: str) -> dict:
    """``{id: value}`` of a per-object ``column`` repeated on every row of a long table (first row wins)."""
    ids, first = np.unique(np.asarray(table[id_col]).astype(str), return_index=True)
    return dict(zip(ids, np.asarray(table[column]).astype(str)[first]))


def long_table(ids, series: dict, per_object: dict | None = None, meta: dict | None = None, units: dict | None = None):
    """Objects' time series as one long ``QTable`` (the layout :func:`read_long_table` reads).

    ``series``: column name -> list of per-object arrays (same lengths per object);
    ``per_object``: column name -> one value per object, repeated on its rows; ``units``: column
    name -> unit (other numeric columns are dimensionless).
    """
    first = next(iter(series.values()))
    rows = np.repeat(np.arange(len(ids)), [len(a) for a in first])
    cols = {"id": np.asarray(ids)[rows], **{k: np.concatenate(v) for k, v in series.items()},
            **{k: np.asarray(v)[rows] for k, v in (per_object or {}).items()}}
    return qtable(cols, units, meta)


def write_table(table, out, default_format: str | None = None) -> Path:
    """Write an astropy ``table`` to ``out`` atomically (temporary sibling, then rename).

    The format follows the suffix (.csv, .ecsv, .fits); another suffix uses ``default_format``
    or, without one, raises :class:`InputError`.
    """
    out = Path(out)
    fmt = _WRITE_FORMATS.get(out.suffix.lower(), default_format)
    if fmt is None:
        raise InputError(f"--out: {out.name} must end in {', '.join(_WRITE_FORMATS)}")
    from astropy.table import QTable, Table

    if isinstance(table, QTable) and fmt != "fits":
        # Quantity columns are formatted one element at a time: 10,000 rows x 21 columns took 1.6 s as a
        # QTable and 0.3 s as a Table, the same text (units go to the ECSV header either way)
        table = Table(table, copy=False)
    with atomic_file(out) as tmp:
        table.write(tmp, format=fmt, overwrite=True)
    return out
