"""The SQL prediction sink: batched writes off the request path, counters, retention, reader."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.errors import DataError
from phoneprice_edge.monitor.store import (
    Retention,
    SQLPredictionSink,
    open_sink,
    prune,
    read_sql_log,
)


class Batch:
    """A duck-typed batch (the store does not import serve)."""

    def __init__(self, n: int, ts: float, rid: str, f: int = 20, c: int = 4) -> None:
        rng = np.random.default_rng(len(rid) + n)
        self.features = rng.random((n, f), dtype=np.float32)
        self.probabilities = np.full((n, c), 1.0 / c, dtype=np.float32)
        self.predicted = rng.integers(0, c, n)
        self.model_id, self.timestamp, self.request_id = "m1", ts, rid


def test_rows_written_and_read_back(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SQLPredictionSink(db, flush_interval_s=0.05) as sink:
        for i in range(10):
            sink.submit(Batch(3, 1000.0 + i, f"r{i}"))
        assert sink.flush(10)
    assert (sink.written, sink.dropped, sink.errors) == (30, 0, 0)
    rows = read_sql_log(db)
    assert len(rows) == 30 and rows[0]["request_id"] == "r0" and rows[-1]["row"] == 2
    assert len(rows[0]["features"]) == 20 and len(rows[0]["probabilities"]) == 4
    assert [r["request_id"] for r in read_sql_log(db, window=3)] == ["r9"] * 3
    assert {r["request_id"] for r in read_sql_log(f"sqlite:///{db}", since=1008.0)} == {"r8", "r9"}


def test_full_queue_drops_without_blocking(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    sink = SQLPredictionSink(db, max_queue=2, flush_rows=1, flush_interval_s=0.0)
    blocker = sqlite3.connect(db, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # the writer thread now waits on the lock
    t0 = time.monotonic()
    for i in range(50):
        sink.submit(Batch(2, 1.0, f"r{i}"))
    submit_s = time.monotonic() - t0
    blocker.rollback()
    blocker.close()
    sink.close()
    assert sink.dropped > 0, "a full queue must drop"
    assert sink.written + sink.dropped + sink.errors == 100
    assert submit_s < 2.0, f"submit blocked for {submit_s:.2f}s"


def test_failing_store_is_counted_not_raised(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    sink = SQLPredictionSink(db, flush_interval_s=0.0)
    con = sqlite3.connect(db)
    con.execute("DROP TABLE predictions")
    con.commit()
    con.close()
    sink.submit(Batch(4, 1.0, "x"))
    assert sink.flush(10)
    sink.close()
    assert (sink.written, sink.errors) == (0, 4)
    sink.submit(Batch(1, 1.0, "late"))  # after close: dropped, still no exception
    assert sink.dropped == 1


def test_retention_by_rows_and_age(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SQLPredictionSink(db, flush_interval_s=0.0) as sink:
        for i in range(25):
            sink.submit(Batch(1, 100.0 + i, f"r{i}"))
        sink.flush(10)
    prune(sink.engine, Retention(max_rows=10))
    rows = read_sql_log(db)
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(15, 25)]
    prune(sink.engine, Retention(max_rows=None, max_age_s=5.0), now=120.0)
    assert [r["request_id"] for r in read_sql_log(db)] == [f"r{i}" for i in range(15, 25) if 100 + i >= 115]


def test_serve_make_sink_picks_the_sql_store(tmp_path: Path) -> None:
    from phoneprice_edge.serve import hooks
    sink = hooks.make_sink(f"sqlite:///{tmp_path / 'p.db'}", feature_names=["a"] * 20,
                           classes=["0", "1", "2", "3"])
    assert isinstance(sink, hooks.PredictionSink)
    b = hooks.PredictionBatch(features=np.zeros((2, 20), np.float32),
                              probabilities=np.full((2, 4), 0.25, np.float32),
                              predicted=np.array([1, 2]), model_id="m", timestamp=5.0, request_id="q")
    sink.submit(b)
    sink.close(5.0)
    assert [r["predicted"] for r in read_sql_log(tmp_path / "p.db")] == [1, 2]
    with open_sink(tmp_path / "q.db") as plain:  # a plain path opens a SQLite file
        assert isinstance(plain, SQLPredictionSink) and plain.url.startswith("sqlite:///")
    assert (tmp_path / "q.db").is_file()


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_sql_log(tmp_path / "nope.db")


def test_postgres_urls_use_psycopg_and_refusal_is_clear() -> None:
    pytest.importorskip("psycopg")
    import importlib.util

    from phoneprice_edge.monitor.store import _driver
    want = "postgresql://" if importlib.util.find_spec("psycopg2") else "postgresql+psycopg://"
    assert _driver("postgres://u@h/db") == want + "u@h/db"
    with pytest.raises(DataError, match=r"127.0.0.1:1/db: cannot open the prediction log") as e:
        SQLPredictionSink("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in str(e.value)
