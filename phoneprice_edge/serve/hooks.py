"""The prediction hook: PredictionBatch, the non-blocking PredictionSink protocol, NullSink, QueueSink
and JsonlSink (serve/sinks.py picks one from a file path or a database URL).

A sink's submit() never blocks the request path: it puts the batch on a bounded queue that a
background thread owned by the sink drains; when the queue is full the batch is dropped and counted.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from phoneprice_edge.errors import UsageError
from phoneprice_edge.serve.jsonio import dumps

log = logging.getLogger("phoneprice_edge.serve")
JSONL_FORMAT = "phoneprice_edge.predictions/1"


@dataclass(frozen=True)
class PredictionBatch:
    """The rows of one request and what the model answered for them."""

    features: np.ndarray  # float32 [N, F] raw features in schema order
    probabilities: np.ndarray  # float32 [N, C]
    predicted: np.ndarray  # int64 [N] class indices
    model_id: str
    timestamp: float  # seconds since the epoch (UTC)
    request_id: str

    def __len__(self) -> int:
        return int(self.features.shape[0])


@runtime_checkable
class PredictionSink(Protocol):
    """Where served predictions go. submit() must return at once (queue, never wait)."""

    def submit(self, batch: PredictionBatch) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...

    @property
    def dropped(self) -> int: ...


class NullSink:
    """Logs nothing (the default)."""

    dropped = 0
    written = 0

    def submit(self, batch: PredictionBatch) -> None:
        return None

    def close(self, timeout: float = 5.0) -> None:
        return None


class QueueSink:
    """Base for sinks with a bounded in-memory queue and one writer thread; subclasses implement
    _write (and optionally _finish). The bound is in rows (max_queue), so memory stays bounded
    whatever the batch sizes. submit() takes an uncontended lock and appends to a deque: it never
    waits and never wakes the writer (waking a thread per request costs a GIL hand-off); the writer
    polls every interval seconds and hands _write up to 512 batches (and, with chunk_rows, at most
    that many rows unless one batch is larger).

    `dropped`, `written` and `errors` all count batches (a request's rows travel as one batch).
    """

    def __init__(self, max_queue: int = 100_000, name: str = "pe-prediction-sink",
                 interval: float = 0.05, chunk_rows: int | None = None) -> None:
        if not interval > 0:
            raise ValueError(f"sink poll interval must be > 0 seconds, got {interval}")
        self._queue: collections.deque[PredictionBatch] = collections.deque()
        self._lock = threading.Lock()
        self._rows = 0
        self._max = max_queue
        self._interval = interval
        self._chunk_rows = chunk_rows
        self._in_flight = 0  # batches taken by the writer and not yet written or failed
        self._dropped = 0
        self.written = 0
        self.errors = 0
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._dropped

    def submit(self, batch: PredictionBatch) -> None:
        n = len(batch)
        with self._lock:
            if self._closed or self._rows + n > self._max:
                self._dropped += 1
                return
            self._rows += n
            self._queue.append(batch)

    def _take(self, limit: int = 512) -> list[PredictionBatch]:
        with self._lock:
            batches: list[PredictionBatch] = []
            rows = 0
            while self._queue and len(batches) < limit and (
                    not batches or self._chunk_rows is None
                    or rows + len(self._queue[0]) <= self._chunk_rows):
                batches.append(self._queue.popleft())
                rows += len(batches[-1])
            self._rows -= rows
            self._in_flight = len(batches)
        return batches

    def _drain(self) -> None:
        while batches := self._take():
            try:
                self._write(batches)
                self.written += len(batches)
            except Exception as exc:  # a sink failure must never reach the request path
                self.errors += len(batches)
                log.warning("prediction sink: %d batch(es) lost: %s", len(batches), exc)
            with self._lock:
                self._in_flight = 0

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()
        self._drain()
        self._finish()

    def _write(self, batches: list[PredictionBatch]) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Release resources once the queue is drained (called on the writer thread)."""

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written or failed (or timeout); True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queue and not self._in_flight:
                    return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, write what is queued (waiting up to timeout seconds), stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("prediction sink: still writing after %.1f s at shutdown", timeout)


class JsonlSink(QueueSink):
    """Appends one JSON line per batch to a file (an append-only log, not an atomic rewrite).

    Line: {"format", "ts", "request_id", "model_id", "feature_names", "classes",
    "features": [[...]], "probabilities": [[...]], "predicted": [...]}.
    """

    def __init__(self, path: str | Path, feature_names: list[str], classes: list[str],
                 max_queue: int = 100_000) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - closed by _finish
        except OSError as exc:
            raise UsageError(f"--log-predictions {path}: cannot open for appending ({exc})") from None
        self._names = list(feature_names)
        self._classes = list(classes)
        super().__init__(max_queue=max_queue, name="pe-jsonl-sink")

    def _write(self, batches: list[PredictionBatch]) -> None:
        lines = [dumps(self._line(b)) + b"\n" for b in batches]
        self._fh.write(b"".join(lines))
        self._fh.flush()

    def _line(self, b: PredictionBatch) -> dict[str, Any]:
        return {"format": JSONL_FORMAT, "ts": b.timestamp, "request_id": b.request_id,
                "model_id": b.model_id, "feature_names": self._names, "classes": self._classes,
                "features": b.features, "probabilities": b.probabilities, "predicted": b.predicted}

    def _finish(self) -> None:
        self._fh.close()
