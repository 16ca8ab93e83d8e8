"""read_table: every format and its failure modes (one-line DataError naming the source)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from phoneprice_edge.data.ingest import detect_format, iter_sql_chunks, read_table, write_table
from phoneprice_edge.errors import DataError, UsageError


def _sqlite(tmp_path: Path, df: pd.DataFrame, table: str = "phones") -> Path:
    db = tmp_path / "phones.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    df.to_sql(table, engine, index=False)
    engine.dispose()
    return db


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    np.testing.assert_allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float))


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.json", "t.jsonl"])
def test_file_formats_round_trip(tmp_path: Path, phone_df: pd.DataFrame, name: str) -> None:
    path = write_table(phone_df, tmp_path / name)
    _same(read_table(path), phone_df)


def test_json_array_and_lines_sniffed(tmp_path: Path, phone_df: pd.DataFrame) -> None:
    array = tmp_path / "a.json"
    array.write_text(phone_df.to_json(orient="records"))
    lines = tmp_path / "l.json"  # JSON lines under a .json name
    lines.write_text(phone_df.to_json(orient="records", lines=True))
    _same(read_table(array), phone_df)
    _same(read_table(lines), phone_df)
    _same(read_table(lines, fmt="jsonl"), phone_df)


def test_sqlite_table_and_query(tmp_path: Path, phone_df: pd.DataFrame) -> None:
    db = _sqlite(tmp_path, phone_df)
    _same(read_table(f"sqlite:///{db}", table="phones"), phone_df)
    _same(read_table(db, table="phones"), phone_df)  # a .db path is SQLite too
    q = read_table(f"sqlite:///{db}", query="SELECT * FROM phones WHERE price_range = 3")
    _same(q, phone_df[phone_df.price_range == 3].reset_index(drop=True))


def test_sql_streams_in_chunks(tmp_path: Path, phone_df: pd.DataFrame) -> None:
    db = _sqlite(tmp_path, phone_df)
    sizes = [len(c) for c in iter_sql_chunks(f"sqlite:///{db}", table="phones", chunksize=15)]
    assert sizes == [15, 15, 10]
    sample = read_table(f"sqlite:///{db}", table="phones", max_rows=12)
    _same(sample, phone_df.head(12))


def test_sql_errors_are_one_line(tmp_path: Path, phone_df: pd.DataFrame) -> None:
    db = _sqlite(tmp_path, phone_df)
    url = f"sqlite:///{db}"
    with pytest.raises(DataError, match=r"table 'nope' not found \(tables: phones\)") as e:
        read_table(url, table="nope")
    assert str(db) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="database file not found"):
        read_table(f"sqlite:///{tmp_path / 'missing.db'}", table="phones")
    with pytest.raises(DataError, match="cannot read query.*syntax error"):
        read_table(url, query="SELEC nonsense")
    with pytest.raises(DataError, match="not a valid database URL"):
        read_table("not a url://x", table="t")
    with pytest.raises(DataError, match="not a valid database URL"):
        read_table("postgresql://u@h:notaport/db", table="t")
    with pytest.raises(UsageError, match="exactly one of --table"):
        read_table(url)
    with pytest.raises(UsageError, match="exactly one of --table"):
        read_table(url, table="phones", query="SELECT 1")


def test_refused_connection_is_a_data_error() -> None:
    pytest.importorskip("psycopg")
    # Port 1 on the loopback address: nothing listens, the connection is refused at once.
    with pytest.raises(DataError, match=r"postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db") as e:
        read_table("postgresql+psycopg://u:secret@127.0.0.1:1/db", table="phones")
    assert "secret" not in str(e.value) and "\n" not in str(e.value)


def test_unknown_driver(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="driver not available"):
        read_table("nosuchdb://host/db", table="t")


def test_format_detection() -> None:
    assert detect_format("a/b.CSV") == "csv"
    assert detect_format("x.csv.gz") == "csv"
    assert detect_format("x.ndjson") == "jsonl"
    assert detect_format("postgresql://h/db") == "sql"
    assert detect_format("x.dat", "parquet") == "parquet"
    with pytest.raises(UsageError, match="x.dat.*--format"):
        detect_format("x.dat")
    with pytest.raises(UsageError, match="unknown format 'xls'"):
        detect_format("x.csv", "xls")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothere\.csv: file not found"):
        read_table(tmp_path / "nothere.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        read_table(empty)
    dup = tmp_path / "dup.csv"
    dup.write_text("a,b,a,label\n1,2,3,0\n")
    with pytest.raises(DataError, match=r"dup\.csv: duplicated column name\(s\) in the header: a"):
        read_table(dup)
    bad_pq = tmp_path / "bad.parquet"
    bad_pq.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read as Parquet"):
        read_table(bad_pq)
    with pytest.raises(UsageError, match="--table/--query apply only to SQL"):
        read_table(dup, table="t")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_wrong_delimiter_is_named(tmp_path: Path, phone_df: pd.DataFrame, sep: str) -> None:
    path = tmp_path / "semi.csv"
    phone_df.to_csv(path, sep=sep, index=False)
    with pytest.raises(DataError, match=r"semi\.csv: the header is a single column containing "
                       + re.escape(repr(sep))):
        read_table(path)
    _same(read_table(path, delimiter=sep), phone_df)
    if sep == "\t":
        _same(read_table(path, delimiter="\\t"), phone_df)  # as typed on a command line


def test_json_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"a": 1},\n {"a": 2,,}]')
    with pytest.raises(DataError, match=r"bad\.json: invalid JSON at line 2"):
        read_table(bad)
    obj = tmp_path / "obj.json"
    obj.write_text('"just a string"')
    with pytest.raises(DataError, match=r"obj\.json: expected a JSON array of records"):
        read_table(obj)
    lines = tmp_path / "l.jsonl"
    lines.write_text('{"a": 1}\n{"a": 2}\n{"a": oops}\n')
    with pytest.raises(DataError, match=r"l\.jsonl: invalid JSON on line 3"):
        read_table(lines)
    arr = tmp_path / "arr.json"
    arr.write_text('[{"a": 1}, [1, 2]]')
    with pytest.raises(DataError, match=r"arr\.json: record 2 is a list"):
        read_table(arr)


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"\xef\xbb\xbfa, b ,label\r\n1,2,x\r\n3,4,y\r\n")
    df = read_table(path)
    assert list(df.columns) == ["a", "b", "label"]
    assert df["b"].tolist() == [2, 4]


def test_sqlite_via_stdlib_database(tmp_path: Path) -> None:
    """A database written by another tool (stdlib sqlite3), with a view, reads by name."""
    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x REAL, y TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1.5, "a"), (2.5, "b")])
    con.execute("CREATE VIEW v AS SELECT * FROM t WHERE x > 2")
    con.commit()
    con.close()
    assert read_table(db, table="t")["y"].tolist() == ["a", "b"]
    assert read_table(f"sqlite:///{db}", table="v")["x"].tolist() == [2.5]
