"""Output tables written chunk by chunk, so that a catalogue of 10^6+ rows never sits in memory.

Why: ``spectra predict`` on 10^6 spectra kept every chunk's columns, then the joined table, then
astropy's FITS copy of it: 1.94-2.17 GB peak RSS, growing ~1.2 kB per spectrum, while the input
is read in bounded chunks. :class:`TableStream` spills each chunk's columns to ``.npy`` files in
a temporary folder beside the output (no pickle), and on close writes the table in one pass over
them: the union of the columns, each with the dtype that joining the chunks would give it
(numpy's promotion; a column missing from a chunk is NaN there, ``"nan"`` in a text column),
then the temporary sibling renamed over the output. The file is the one ``write_table`` writes from
the joined table (tested for CSV, ECSV and FITS).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .atomic import OutputExistsError, atomic_file
from .errors import InputError

__all__ = ["TableStream"]

_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}       # as write_table
_BLOCK = 2880                       # FITS record


def _text(a: np.ndarray) -> np.ndarray:
    return a if a.dtype.kind == "U" else np.asarray(a, dtype=object).astype(str)


class TableStream:
    """Append column dicts (or tables) with :meth:`append`; the table is written when the ``with``
    block ends without an error (and nothing is written when it raises).

    Parameters
    ----------
    out : path
        Output file: ``.csv``, ``.ecsv`` or ``.fits``.
    units : dict, optional
        Unit (string or astropy unit) of named columns, written to the ECSV and FITS headers.
    table : callable, optional
        Builds each chunk's table from its dict of columns (e.g. ``core.tables.qtable`` with the
        case's units, for the same file as ``write_table(qtable(...))``); default: a ``Table``
        with ``units``.
    """

    def __init__(self, out, units: dict | None = None, table=None):
        self.out = Path(out)
        if self.out.suffix.lower() not in _FORMATS:
            raise InputError(f"--out: {self.out.name} must end in {', '.join(_FORMATS)}")
        self.units = dict(units or {})
        self.table = table
        self.n_rows = 0
        self._chunks: list[tuple[int, dict]] = []
        self._kinds: dict[str, set] = {}
        self._dir: Path | None = None

    def __enter__(self):
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        except (FileExistsError, NotADirectoryError, PermissionError) as exc:
            raise OutputExistsError(f"cannot write {self.out}: {exc.strerror or exc}") from None
        return self

    def append(self, columns) -> None:
        """One chunk: a dict of equal-length 1-d arrays, or an astropy table."""
        names = list(columns.colnames if hasattr(columns, "colnames") else columns)
        arrays = {k: np.asarray(columns[k]) for k in names}
        n = len(next(iter(arrays.values()))) if arrays else 0
        files = {}
        for j, (name, a) in enumerate(arrays.items()):
            if a.shape != (n,):
                raise ValueError(f"column {name!r}: shape {a.shape}, expected ({n},)")
            if a.dtype.kind in "OSU":
                a = _text(a)
            files[name] = self._dir / f"{len(self._chunks)}_{j}.npy"
            np.save(files[name], a, allow_pickle=False)
            self._kinds.setdefault(name, set()).add(a.dtype)
        self._chunks.append((n, files))
        self.n_rows += n

    def _dtypes(self) -> dict:
        """Final dtype of each column: numpy's promotion of its chunks' dtypes (and float64 where a
        chunk lacks it), as concatenating the chunks would give; text where they do not promote."""
        dtypes = {}
        for name, kinds in self._kinds.items():
            missing = any(name not in files for _, files in self._chunks)
            try:
                dtypes[name] = np.result_type(*kinds, *([np.float64] if missing else []))
            except TypeError:
                width = max(_text(np.load(f[name]) if name in f else np.full(n, np.nan)).dtype.itemsize // 4
                            for n, f in self._chunks)
                dtypes[name] = np.dtype(f"U{width}")
        return dtypes

    def _chunk(self, k: int, dtypes: dict):
        from astropy.table import Table

        n, files = self._chunks[k]
        cols = {}
        for name, dtype in dtypes.items():
            a = np.load(files[name], allow_pickle=False) if name in files else np.full(n, np.nan)
            cols[name] = (_text(a) if dtype.kind == "U" else a).astype(dtype, copy=False)
        if self.table is not None:
            return self.table(cols)
        table = Table(cols, copy=False)
        for name, unit in self.units.items():
            if name in table.colnames:
                table[name].unit = unit
        return table

    def _write(self, tmp: Path) -> None:
        from astropy.table import QTable, Table

        dtypes = self._dtypes()
        fmt = _FORMATS[self.out.suffix.lower()]
        chunks = range(len(self._chunks)) if self._chunks else [None]
        with open(tmp, "wb") as f:
            if fmt == "fits":
                self._write_fits(f, dtypes)
                return
            for k in chunks:
                table = self._chunk(k, dtypes) if k is not None else _empty(dtypes)
                if isinstance(table, QTable):                    # as write_table: the same text, faster
                    table = Table(table, copy=False)
                buf = io.StringIO()
                table.write(buf, format=fmt)
                text = buf.getvalue()
                if k:                                        # the header once, from the first chunk
                    lines = text.splitlines(keepends=True)
                    skip = sum(1 for line in lines if line.startswith("#")) + 1 if fmt == "ascii.ecsv" else 1
                    text = "".join(lines[skip:])
                f.write(text.encode())

    def _write_fits(self, f, dtypes) -> None:
        from astropy.io import fits

        header, pieces = None, 0
        for k in range(max(1, len(self._chunks))):
            table = self._chunk(k, dtypes) if self._chunks else _empty(dtypes)
            buf = io.BytesIO()
            table.write(buf, format="fits")                        # as write_table (mixin columns serialised)
            raw = buf.getvalue()
            with fits.open(io.BytesIO(raw)) as hdul:
                hdu, where = hdul[1], hdul.fileinfo(1)
                if hdu.header.get("PCOUNT", 0):
                    raise ValueError("variable-length columns cannot be streamed")
                data = raw[where["datLoc"]:where["datLoc"] + len(table) * hdu.header["NAXIS1"]]
                if header is None:                                  # the first chunk's, with every row
                    header = hdu.header.copy()
                    header["NAXIS2"] = self.n_rows
                    f.write(raw[:where["hdrLoc"]] + header.tostring().encode("ascii"))
            f.write(data)
            pieces += len(data)
        f.write(b"\0" * (-pieces % _BLOCK))

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                with atomic_file(self.out) as tmp:
                    self._write(tmp)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
        return False


def _empty(dtypes: dict):
    from astropy.table import Table

    return Table({name: np.zeros(0, d) for name, d in dtypes.items()})
