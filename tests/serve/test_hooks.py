"""Prediction sinks: JSONL lines, never blocking (drop and count when full), the URL factory."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.errors import UsageError
from phoneprice_edge.serve.hooks import (
    JsonlSink,
    NullSink,
    PredictionBatch,
    PredictionSink,
    QueueSink,
)
from phoneprice_edge.serve.sinks import make_sink

NAMES = ["a", "b"]
CLASSES = ["x", "y", "z"]


def batch(n: int = 2, rid: str = "r1") -> PredictionBatch:
    feats = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    probs = np.full((n, 3), 1 / 3, dtype=np.float32)
    return PredictionBatch(feats, probs, np.zeros(n, dtype=np.int64), "m1", 1.5, rid)


def test_jsonl_sink_writes_one_line_per_batch(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "sub" / "p.jsonl", NAMES, CLASSES)
    sink.submit(batch(2, "r1"))
    sink.submit(batch(1, "r2"))
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "sub" / "p.jsonl").read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["r1", "r2"]
    assert lines[0]["features"] == [[0.0, 1.0], [2.0, 3.0]] and lines[0]["predicted"] == [0, 0]
    assert lines[0]["feature_names"] == NAMES and lines[0]["classes"] == CLASSES
    assert sink.written == 2 and sink.dropped == 0
    sink.submit(batch())  # after close: dropped, not raised
    assert sink.dropped == 1


class SlowSink(QueueSink):
    """A sink whose writer is stuck until released: submit() must still return at once."""

    def __init__(self, max_queue: int) -> None:
        self.release = threading.Event()
        self.seen = 0
        super().__init__(max_queue=max_queue, interval=0.01)

    def _write(self, batches: list[PredictionBatch]) -> None:
        self.release.wait(10)
        self.seen += len(batches)


def test_full_queue_drops_and_counts_without_blocking() -> None:
    sink = SlowSink(max_queue=5)
    sink.submit(batch())
    time.sleep(0.1)  # the writer took the first batch and is now stuck in _write
    t0 = time.perf_counter()
    for _ in range(50):
        sink.submit(batch())
    assert time.perf_counter() - t0 < 0.05
    assert sink.dropped == 48  # 2 rows per batch: 2 more fit under the 5-row bound
    sink.release.set()
    sink.close()
    assert sink.seen == 3 and sink.written == 3


def test_chunk_rows_bounds_what_one_write_gets() -> None:
    class Recording(QueueSink):
        def __init__(self) -> None:
            self.sizes: list[int] = []  # rows per _write call
            super().__init__(interval=5.0, chunk_rows=4)  # first wake at close: all are queued

        def _write(self, batches: list[PredictionBatch]) -> None:
            self.sizes.append(sum(len(b) for b in batches))

    sink = Recording()
    for n in (2, 2, 1, 5, 1):
        sink.submit(batch(n))
    assert sink.flush(0.05) is False  # nothing written yet
    sink.close()
    assert sink.sizes == [4, 1, 5, 1]  # a batch larger than chunk_rows goes alone
    assert sink.written == 5 and sink.flush(0.05)


def test_failing_writer_never_raises_into_submit(tmp_path: Path) -> None:
    class Broken(QueueSink):
        def _write(self, batches: list[PredictionBatch]) -> None:
            raise OSError("disk full")

    sink = Broken(interval=0.01)
    sink.submit(batch())
    sink.close()
    assert sink.errors == 1 and sink.written == 0


def test_make_sink_dispatch(tmp_path: Path) -> None:
    assert isinstance(make_sink(None, feature_names=NAMES, classes=CLASSES), NullSink)
    s = make_sink(f"file://{tmp_path}/x.jsonl", feature_names=NAMES, classes=CLASSES)
    assert isinstance(s, JsonlSink) and isinstance(s, PredictionSink)
    s.close()
    with pytest.raises(UsageError, match="unsupported URL scheme"):
        make_sink("ftp://host/x", feature_names=NAMES, classes=CLASSES)
    with pytest.raises(UsageError, match="cannot open"):
        make_sink(str(tmp_path), feature_names=NAMES, classes=CLASSES)  # a directory
