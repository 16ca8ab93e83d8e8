"""The prediction log: a non-blocking SQL sink (SQLite file or any SQLAlchemy URL) and its reader."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.serve.hooks import PredictionBatch, QueueSink

log = logging.getLogger(__name__)

TABLE = "predictions"
_META = sa.MetaData()
PREDICTIONS = sa.Table(
    TABLE, _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False, index=True),
    sa.Column("request_id", sa.String(128), nullable=False, index=True),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("model_id", sa.String(256), nullable=False),
    sa.Column("predicted", sa.Integer, nullable=False),
    sa.Column("features", sa.Text, nullable=False),       # JSON list of floats (null for NaN)
    sa.Column("probabilities", sa.Text, nullable=False),  # JSON list of floats
)


def to_url(target: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (a path means a SQLite file)."""
    s = str(target)
    if "://" in s:
        return s
    return f"sqlite:///{Path(s).expanduser().resolve()}"


def _driver(url: str) -> str:
    """postgresql:// (and postgres://) with psycopg 3 when psycopg2 is not installed."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            try:
                import psycopg2  # noqa: F401
                return "postgresql://" + url[len(scheme):]
            except ImportError:
                return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _safe(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def make_engine(url: str) -> sa.Engine:
    """An engine; SQLite gets WAL and a busy timeout so several writers and a reader coexist."""
    url = _driver(url)
    try:
        engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise UsageError(f"{_safe(url)}: not a usable database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    return engine


def _json_list(a: np.ndarray) -> str:
    return json.dumps([None if not np.isfinite(v) else float(v) for v in a])


def batch_rows(batch: PredictionBatch) -> list[dict[str, Any]]:
    """Flatten one batch into table rows (one per predicted row)."""
    x = np.asarray(batch.features, dtype=np.float64).reshape(len(batch.predicted), -1)
    p = np.asarray(batch.probabilities, dtype=np.float64).reshape(len(batch.predicted), -1)
    pred = np.asarray(batch.predicted).reshape(-1)
    ts, rid, mid = float(batch.timestamp), str(batch.request_id), str(batch.model_id)
    return [{"ts": ts, "request_id": rid, "row": i, "model_id": mid, "predicted": int(pred[i]),
             "features": _json_list(x[i]), "probabilities": _json_list(p[i])}
            for i in range(len(pred))]


@dataclass
class Retention:
    """Bounded log: keep at most max_rows rows and nothing older than max_age_s (None = no bound)."""

    max_rows: int | None = 1_000_000
    max_age_s: float | None = None


def prune(engine: sa.Engine, retention: Retention, now: float | None = None) -> int:
    """Delete rows beyond the retention bounds; return how many were deleted."""
    deleted = 0
    with engine.begin() as conn:
        if retention.max_age_s is not None:
            cutoff = (now or time.time()) - retention.max_age_s
            deleted += conn.execute(PREDICTIONS.delete().where(PREDICTIONS.c.ts < cutoff)).rowcount
        if retention.max_rows is not None:
            top = conn.execute(sa.select(sa.func.max(PREDICTIONS.c.id))).scalar()
            if top is not None:
                keep_from = int(top) - retention.max_rows
                deleted += conn.execute(
                    PREDICTIONS.delete().where(PREDICTIONS.c.id <= keep_from)).rowcount
    return deleted


def create_tables(engine: sa.Engine, attempts: int = 3) -> None:
    """Create the log table if missing. Servers starting together race on CREATE TABLE (PostgreSQL
    answers the loser with a unique violation on its catalog); the loser checks again."""
    for attempt in range(attempts):
        try:
            _META.create_all(engine, checkfirst=True)
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


class SQLPredictionSink(QueueSink):
    """PredictionSink over SQL (serve.hooks.QueueSink): submit() never blocks; the writer thread
    inserts what it takes every flush_interval_s seconds, at most flush_rows rows per transaction.

    The queue holds at most max_queue rows; a full queue drops the batch (counted in `dropped`);
    a failing write is counted in `errors` and logged; serving never sees either. `dropped`,
    `written` and `errors` count batches, as for every QueueSink.
    """

    def __init__(self, target: str | Path = "predictions.db", *, max_queue: int = 100_000,
                 flush_rows: int = 512, flush_interval_s: float = 0.5,
                 retention: Retention | None = None, prune_every: int = 50) -> None:
        self.url = to_url(target)
        self.engine = make_engine(self.url)
        try:
            create_tables(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise DataError(f"{_safe(self.url)}: cannot open the prediction log "
                            f"({str(exc).splitlines()[0][:200]})") from None
        self.retention = retention or Retention()
        self.prune_every = prune_every
        self._flushes = 0
        super().__init__(max_queue=max_queue, interval=flush_interval_s, chunk_rows=flush_rows)

    def _write(self, batches: list[PredictionBatch]) -> None:
        rows = [r for b in batches for r in batch_rows(b)]
        try:
            with self.engine.begin() as conn:
                conn.execute(PREDICTIONS.insert(), rows)
        except sa.exc.SQLAlchemyError as exc:  # one line, without the statement and its rows
            raise DataError(f"{_safe(self.url)}: {len(rows)} row(s) not written "
                            f"({str(exc).splitlines()[0][:200]})") from None
        self._flushes += 1
        if self.prune_every and self._flushes % self.prune_every == 0:
            self._prune()

    def _prune(self) -> None:
        try:
            prune(self.engine, self.retention)
        except Exception as exc:
            log.warning("prediction log retention failed: %s", str(exc).splitlines()[0][:200])

    def _finish(self) -> None:
        self._prune()
        self.engine.dispose()

    def __enter__(self) -> SQLPredictionSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sink(spec: str | Path, *, feature_names: list[str] | None = None,
              classes: list[str] | None = None, max_queue: int = 100_000,
              retention: Retention | None = None) -> SQLPredictionSink:
    """The sink serve.sinks.make_sink asks for a database URL (names/classes are not stored per row)."""
    return SQLPredictionSink(spec, max_queue=max_queue, retention=retention)


def read_sql_log(target: str | Path, *, window: int | None = None, since: float | None = None,
                 until: float | None = None) -> list[dict[str, Any]]:
    """Rows of the log (oldest first): the last `window` rows and/or rows with ts >= since."""
    url = to_url(target)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise DataError(f"{target}: prediction log not found")
    engine = make_engine(url)
    try:
        q = sa.select(PREDICTIONS)
        if since is not None:
            q = q.where(PREDICTIONS.c.ts >= since)
        if until is not None:
            q = q.where(PREDICTIONS.c.ts < until)
        q = q.order_by(PREDICTIONS.c.id.desc())
        if window is not None:
            q = q.limit(window)
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
    except sa.exc.SQLAlchemyError as exc:
        raise DataError(f"{_safe(str(target))}: cannot read the prediction log "
                        f"({str(exc).splitlines()[0][:200]})") from None
    finally:
        engine.dispose()
    rows.reverse()
    for r in rows:
        r["features"] = [np.nan if v is None else v for v in json.loads(r["features"])]
        r["probabilities"] = json.loads(r["probabilities"])
    return rows
