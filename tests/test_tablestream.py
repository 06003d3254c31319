"""TableStream: a table written chunk by chunk is byte for byte the file write_table writes from the
joined table (CSV, ECSV, FITS), with columns missing from some chunks, text of growing width and a
column that is numeric in one chunk and text in another; nothing is left behind when a run fails."""

import numpy as np
import pytest
from astropy.table import Table

from sim2sky.core.errors import InputError
from sim2sky.core.tablestream import TableStream
from sim2sky.core.tables import qtable, write_table


def _joined(parts) -> Table:
    """The joined table the spectra commands wrote before they streamed (their former _collect)."""
    keys = list(dict.fromkeys(k for p in parts for k in p))
    cols = {}
    for k in keys:
        vals = [p[k] if k in p else np.full(len(next(iter(p.values()))), np.nan) for p in parts]
        try:
            cols[k] = np.concatenate(vals)
        except ValueError:
            cols[k] = np.concatenate([np.asarray(v, dtype=object).astype(str) for v in vals])
    return Table(cols)


def _parts():
    rng = np.random.default_rng(0)
    return [{"source": np.full(5, "a.fits"), "row": np.arange(5), "p": rng.random(5), "cls": np.array(["QSO"] * 5),
             "objid": np.arange(5) * 10, "mixed": np.arange(5.0)},
            {"source": np.full(3, "a_longer_name.fits"), "row": np.arange(3), "p": rng.random(3),
             "cls": np.array(["GALAXY_AGN", "STAR_M", "unknown"]), "mixed": np.array(["x", "yy", "zzz"])},
            {"source": np.full(4, "b.fits"), "row": np.arange(4), "p": rng.random(4), "cls": np.array(["STAR_B"] * 4),
             "objid": np.arange(4), "mixed": np.arange(4.0)}]


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits"])
def test_streamed_table_is_the_joined_tables_file(tmp_path, suffix):
    ref, out = tmp_path / f"ref{suffix}", tmp_path / f"out{suffix}"
    write_table(_joined(_parts()), ref)
    with TableStream(out) as stream:
        for part in _parts():
            stream.append(part)
    assert stream.n_rows == 12
    assert out.read_bytes() == ref.read_bytes()
    t = Table.read(out)
    assert np.isnan(np.ma.filled(np.ma.asarray(t["objid"][5:8], float), np.nan)).all()
    assert [str(v) for v in t["mixed"][5:8]] == ["x", "yy", "zzz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ref.name, out.name])      # no spill left


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits"])
def test_chunks_built_as_qtables_give_the_qtables_file(tmp_path, suffix):
    """What the light-curve command writes: qtable() chunks (dimensionless numbers, integer counts,
    boolean flags) give the bytes of write_table(qtable(joined columns))."""
    parts = [{"id": np.array([f"s{k}" for k in range(n)]), "period": np.linspace(1, 2, n), "flag": np.arange(n) % 2 == 0,
              "p_a": np.full(n, 0.25), "set_size": np.arange(n) % 3} for n in (4, 7)]
    ref, out = tmp_path / f"ref{suffix}", tmp_path / f"out{suffix}"
    write_table(qtable({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, {"period": "d"}), ref)
    with TableStream(out, table=lambda cols: qtable(cols, {"period": "d"})) as stream:
        for part in parts:
            stream.append(part)
    assert out.read_bytes() == ref.read_bytes()


def test_units_and_an_empty_stream(tmp_path):
    with TableStream(tmp_path / "u.ecsv", units={"p": "deg"}) as stream:
        stream.append({"p": np.arange(3.0), "name": np.array(["a", "b", "c"])})
    assert str(Table.read(tmp_path / "u.ecsv")["p"].unit) == "deg"
    with TableStream(tmp_path / "u.fits", units={"p": "deg"}) as stream:
        for k in range(3):
            stream.append({"p": np.arange(10000.0) + k, "name": np.full(10000, "x" * (k + 1))})
    t = Table.read(tmp_path / "u.fits")
    assert len(t) == 30000 and str(t["p"].unit) == "deg" and t["name"][-1] == "xxx" and t["p"][-1] == 10001.0
    with TableStream(tmp_path / "e.csv") as stream:
        pass
    write_table(Table(), tmp_path / "e_ref.csv")
    assert (tmp_path / "e.csv").read_text() == (tmp_path / "e_ref.csv").read_text()


def test_a_failed_run_writes_nothing_and_leaves_no_spill(tmp_path):
    (tmp_path / "old.csv").write_text("kept\n")
    with pytest.raises(RuntimeError):
        with TableStream(tmp_path / "old.csv") as stream:
            stream.append({"a": np.arange(3)})
            raise RuntimeError("interrupted")
    assert (tmp_path / "old.csv").read_text() == "kept\n" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(InputError, match="must end in"):
        TableStream(tmp_path / "x.txt")
