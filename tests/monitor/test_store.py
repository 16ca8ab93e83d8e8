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
from phoneprice_edge.serve.hooks import PredictionBatch


def batch(n: int, ts: float, rid: str, f: int = 20, c: int = 4) -> PredictionBatch:
    """A batch of n rows as the server hands it over."""
    rng = np.random.default_rng(len(rid) + n)
    return PredictionBatch(features=rng.random((n, f), dtype=np.float32),
                           probabilities=np.full((n, c), 1.0 / c, dtype=np.float32),
                           predicted=rng.integers(0, c, n), model_id="m1", timestamp=ts,
                           request_id=rid)


def test_rows_written_and_read_back(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SQLPredictionSink(db, flush_interval_s=0.05) as sink:
        for i in range(10):
            sink.submit(batch(3, 1000.0 + i, f"r{i}"))
        assert sink.flush(10)
    assert (sink.written, sink.dropped, sink.errors) == (10, 0, 0)  # batches, like every QueueSink
    rows = read_sql_log(db)
    assert len(rows) == 30 and rows[0]["request_id"] == "r0" and rows[-1]["row"] == 2
    assert len(rows[0]["features"]) == 20 and len(rows[0]["probabilities"]) == 4
    assert [r["request_id"] for r in read_sql_log(db, window=3)] == ["r9"] * 3
    assert {r["request_id"] for r in read_sql_log(f"sqlite:///{db}", since=1008.0)} == {"r8", "r9"}


def test_full_queue_drops_without_blocking(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    # the writer first wakes after 5 s (or at close): every submit below meets the bound
    sink = SQLPredictionSink(db, max_queue=5, flush_rows=1, flush_interval_s=5.0)
    t0 = time.monotonic()
    for i in range(50):
        sink.submit(batch(2, 1.0, f"r{i}"))
    submit_s = time.monotonic() - t0
    sink.close()
    assert sink.dropped > 0, "a full queue must drop"
    # the bound is in rows (5: two 2-row batches fit), drops are counted in batches
    assert (sink.written, sink.dropped, sink.errors) == (2, 48, 0)
    assert sink.written + sink.dropped + sink.errors == 50
    assert len(read_sql_log(db)) == 4
    assert submit_s < 2.0, f"submit blocked for {submit_s:.2f}s"


def test_failing_store_is_counted_not_raised(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    sink = SQLPredictionSink(db, flush_interval_s=0.01)
    con = sqlite3.connect(db)
    con.execute("DROP TABLE predictions")
    con.commit()
    con.close()
    sink.submit(batch(4, 1.0, "x"))
    assert sink.flush(10)
    sink.close()
    assert (sink.written, sink.errors) == (0, 1)
    sink.submit(batch(3, 1.0, "late"))  # after close: dropped, still no exception
    assert sink.dropped == 1


def test_retention_by_rows_and_age(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SQLPredictionSink(db, flush_interval_s=0.01) as sink:
        for i in range(25):
            sink.submit(batch(1, 100.0 + i, f"r{i}"))
        sink.flush(10)
    prune(sink.engine, Retention(max_rows=10))
    rows = read_sql_log(db)
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(15, 25)]
    prune(sink.engine, Retention(max_rows=None, max_age_s=5.0), now=120.0)
    assert [r["request_id"] for r in read_sql_log(db)] == [f"r{i}" for i in range(15, 25) if 100 + i >= 115]


def test_serve_make_sink_picks_the_sql_store(tmp_path: Path) -> None:
    from phoneprice_edge.serve import hooks
    from phoneprice_edge.serve.sinks import make_sink

    sink = make_sink(f"sqlite:///{tmp_path / 'p.db'}", feature_names=["a"] * 20,
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
