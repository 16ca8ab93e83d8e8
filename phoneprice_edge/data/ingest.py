"""Reading tables: CSV, Parquet, JSON (array or lines) and SQL (SQLAlchemy URL, streamed in chunks)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from phoneprice_edge.errors import BackendUnavailable, DataError, UsageError, one_line

FORMATS: tuple[str, ...] = ("csv", "parquet", "json", "jsonl", "sql")
_EXTENSIONS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".db": "sql", ".sqlite": "sql", ".sqlite3": "sql",
}
_SUSPECT_DELIMITERS: tuple[str, ...] = (";", "\t", "|")
DEFAULT_CHUNKSIZE = 50_000


def is_sql_url(source: str | os.PathLike[str]) -> bool:
    """True for a SQLAlchemy URL such as ``sqlite:///file.db`` or ``postgresql://host/db``."""
    return "://" in str(source)


def detect_format(source: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format to read source with: fmt when given, else from the URL scheme or the extension."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
        return fmt
    if is_sql_url(source):
        return "sql"
    suffixes = [s.lower() for s in Path(source).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst") and len(suffixes) > 1:
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    if ext not in _EXTENSIONS:
        raise UsageError(f"{source}: cannot tell the format from the extension {ext or '(none)'!r}; "
                         f"pass --format ({', '.join(FORMATS)})")
    return _EXTENSIONS[ext]


OUTPUT_FORMATS: tuple[str, ...] = ("csv", "parquet", "json", "jsonl")


def output_format(dest: str | os.PathLike[str], option: str = "") -> str:
    """The format to write dest in, from its extension; UsageError naming the extensions that
    work (not the input's --format). option: how the message names dest, e.g. '--out'."""
    where = f"{option} {dest}" if option else str(dest)
    try:
        kind = detect_format(dest)
    except UsageError:
        kind = None
    if kind not in OUTPUT_FORMATS:
        ext = Path(dest).suffix or "(none)"
        raise UsageError(f"{where}: cannot write a table with the extension {ext!r}: use .csv, "
                         ".parquet, .json or .jsonl")
    return kind


def _check_names(path: Path, columns: list[str], header: bool = False) -> None:
    """DataError naming the first column whose name is empty or only whitespace."""
    for i, name in enumerate(columns, start=1):
        if not str(name).strip():
            where = " of the header" if header else ""
            raise DataError(f"{path}: column {i}{where} has no name (empty or only spaces); name "
                            "it or remove it")


def read_table(source: str | os.PathLike[str], fmt: str | None = None, table: str | None = None,
               query: str | None = None, *, delimiter: str | None = None,
               max_rows: int | None = None) -> pd.DataFrame:
    """Read a whole table (or its first max_rows rows) into a DataFrame; DataError on any problem.

    A file path with a .db/.sqlite extension is read as SQLite (``sqlite:///path``).
    """
    kind = detect_format(source, fmt)
    if kind == "sql":
        url = str(source) if is_sql_url(source) else f"sqlite:///{source}"
        chunks = list(iter_sql_chunks(url, table=table, query=query, max_rows=max_rows))
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if table is not None or query is not None:
        raise UsageError(f"{source}: --table/--query apply only to SQL sources")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    readers = {"csv": _read_csv, "parquet": _read_parquet, "json": _read_json, "jsonl": _read_jsonl}
    kwargs: dict[str, Any] = {"delimiter": delimiter} if kind == "csv" else {}
    try:
        df = readers[kind](path, **kwargs)
    except OSError as exc:  # PermissionError, a file removed or unreadable mid-way, EIO
        raise DataError(f"{path}: cannot read the file: {exc.strerror or one_line(exc)}") from None
    if kind != "csv":
        _check_names(path, [str(c) for c in df.columns])
    return df.head(max_rows).copy() if max_rows is not None else df


def _read_csv(path: Path, delimiter: str | None = None) -> pd.DataFrame:
    sep = {"\\t": "\t", "tab": "\t"}.get(delimiter or ",", delimiter or ",")
    header = _csv_header(path, sep)
    if header is None:
        raise DataError(f"{path}: the file is empty (no header, no rows)")
    if len(header) > 1 or delimiter is not None:
        _check_names(path, header, header=True)
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DataError(f"{path}: duplicated column name(s) in the header: {', '.join(dup)}")
    if len(header) == 1 and delimiter is None:
        for suspect in _SUSPECT_DELIMITERS:
            if suspect in header[0]:
                raise DataError(
                    f"{path}: the header is a single column containing {suspect!r}: the file looks "
                    f"{suspect!r}-separated, not comma-separated (pass --delimiter {suspect!r} to "
                    "pe data or pe train, or save it comma-separated)")
    try:
        df = pd.read_csv(path, sep=sep, skipinitialspace=True, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse as CSV: {one_line(exc)}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _csv_header(path: Path, sep: str) -> list[str] | None:
    """The header fields (stripped), or None for an empty file."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.reader(fh, delimiter=sep):
                if row and any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({one_line(exc)})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse the CSV header: {one_line(exc)}") from None
    return None


def _need_pyarrow(path: str | os.PathLike[str]) -> None:
    """Parquet needs pyarrow, which the device runtime install leaves out (the `parquet` extra)."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise BackendUnavailable(f"{path}: Parquet needs pyarrow, which is not installed here: "
                                 "pip install 'phoneprice_edge[parquet]' (or use .csv/.jsonl)")


def _read_parquet(path: Path) -> pd.DataFrame:
    _need_pyarrow(path)
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {one_line(exc)}") from None


def _read_json(path: Path) -> pd.DataFrame:
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty (no records)")
    if text.lstrip().startswith("{"):
        try:  # a single object on one line is also a valid JSON-lines file
            return _records_frame(path, [json.loads(text)])
        except json.JSONDecodeError:
            return _read_jsonl(path, text)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON array of records (objects), got {type(records).__name__}")
    return _records_frame(path, records)


def _read_jsonl(path: Path, text: str | None = None) -> pd.DataFrame:
    text = _read_text(path) if text is None else text
    records = []
    for lineno, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: invalid JSON on line {lineno}: {exc.msg}") from None
    return _records_frame(path, records, lines=True)


def _records_frame(path: Path, records: list[Any], lines: bool = False) -> pd.DataFrame:
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            where = f"line {i + 1}" if lines else f"record {i + 1}"
            raise DataError(f"{path}: {where} is a {type(rec).__name__}, expected an object of column: value")
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({one_line(exc)})") from None


def iter_sql_chunks(url: str, table: str | None = None, query: str | None = None,
                    chunksize: int = DEFAULT_CHUNKSIZE,
                    max_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """Stream a SQL table or query in DataFrames of at most chunksize rows (server-side cursor)."""
    import sqlalchemy as sa

    if (table is None) == (query is None):
        raise UsageError(f"{safe_url(url)}: give exactly one of --table NAME or --query SQL")
    engine = _engine(url)
    shown = safe_url(url)
    try:
        with engine.connect() as conn:
            if table is not None:
                _check_table(conn, table, shown)
                stmt = sa.select(sa.text("*")).select_from(sa.table(table))
            else:
                stmt = sa.text(query)
            result = conn.execution_options(stream_results=True).execute(stmt)
            columns = list(result.keys())
            seen = 0
            while max_rows is None or seen < max_rows:
                size = chunksize if max_rows is None else min(chunksize, max_rows - seen)
                rows = result.fetchmany(size)
                if not rows and seen:
                    break
                yield pd.DataFrame.from_records(rows, columns=columns)
                seen += len(rows)
                if not rows:
                    break
    except sa.exc.SQLAlchemyError as exc:
        what = f"table {table!r}" if table is not None else "query"
        raise DataError(f"{shown}: cannot read {what}: {one_line(getattr(exc, 'orig', None) or exc)}") from None
    finally:
        engine.dispose()


def _engine(url: str) -> Any:
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)  # no password in the message
        raise DataError(f"{shown!r}: not a valid database URL (expected e.g. sqlite:///file.db)") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_file():
            raise DataError(f"{safe_url(url)}: database file not found: {db}")
    try:
        return sa.create_engine(parsed)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DataError(f"{safe_url(url)}: database driver not available ({one_line(exc)})") from None
    except sa.exc.ArgumentError as exc:
        raise DataError(f"{safe_url(url)}: invalid database URL ({one_line(exc)})") from None


def _check_table(conn: Any, table: str, shown: str) -> None:
    import sqlalchemy as sa

    schema, _, name = table.rpartition(".")
    names = sa.inspect(conn).get_table_names(schema=schema or None)
    views = sa.inspect(conn).get_view_names(schema=schema or None)
    if name not in names and name not in views:
        known = ", ".join(sorted(names + views)) or "none"
        raise DataError(f"{shown}: table {table!r} not found (tables: {known})")


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def write_table(df: pd.DataFrame, dest: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write df atomically as csv, parquet, json (array of records) or jsonl, from fmt or extension."""
    from phoneprice_edge.io_utils import atomic_path

    kind = detect_format(dest, fmt)
    if kind == "sql":
        raise UsageError(f"{dest}: writing SQL is not supported; use .csv, .parquet, .json or .jsonl")
    if kind == "parquet":
        _need_pyarrow(dest)
    with atomic_path(dest) as tmp:
        if kind == "csv":
            df.to_csv(tmp, index=False, lineterminator="\n")
        elif kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", lines=(kind == "jsonl"), double_precision=15)
    return Path(dest)
