"""The timing loop: input buffers from real rows, warm-up, timed calls, statistics, peak memory."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import UsageError

N_BUFFERS = 8  # inputs rotate among this many distinct arrays so caches do not flatter


@dataclass(frozen=True)
class TimingPlan:
    """How long one point runs: warm-up (untimed), then at least min_iters calls and min_time_s."""

    min_iters: int = 300
    min_time_s: float = 1.0
    warmup_iters: int = 10
    warmup_time_s: float = 0.1

    def __post_init__(self) -> None:
        if self.min_iters < 1 or self.min_time_s < 0 or self.warmup_iters < 0 or self.warmup_time_s < 0:
            raise UsageError(f"timing plan must have min_iters >= 1 and non-negative times, got {self}")


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency statistics of one point, in microseconds."""

    p50_us: float
    p90_us: float
    p99_us: float
    mean_us: float
    std_us: float
    min_us: float
    iters: int
    wall_s: float

    @classmethod
    def from_ns(cls, samples_ns: np.ndarray, wall_s: float) -> LatencyStats:
        us = np.asarray(samples_ns, dtype=np.float64) / 1e3
        p50, p90, p99 = np.percentile(us, [50, 90, 99])
        return cls(p50_us=float(p50), p90_us=float(p90), p99_us=float(p99), mean_us=float(us.mean()),
                   std_us=float(us.std()), min_us=float(us.min()), iters=int(us.size),
                   wall_s=float(wall_s))

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def make_inputs(rows: np.ndarray, batch_size: int, n: int = N_BUFFERS) -> list[np.ndarray]:
    """n distinct C-contiguous float32 [batch_size, F] arrays cut from the real rows (tiled as needed).

    Buffer k starts at a different offset in the row list, so consecutive calls see different data.
    """
    if batch_size < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise UsageError(f"benchmark rows must be a non-empty [N, F] array, got shape {list(rows.shape)}")
    total = rows.shape[0]
    reps = batch_size // total + 2  # every offset below total still leaves batch_size rows
    tiled = np.concatenate([rows] * reps, axis=0)
    step = max(1, total // n) if batch_size < total else 7
    return [np.ascontiguousarray(tiled[(k * step) % total:(k * step) % total + batch_size])
            for k in range(n)]


def _consume(out: Any) -> float:
    """Touch the output (outside the timed window) so no runtime can skip or defer the work."""
    arr = np.asarray(out)
    return float(arr.reshape(-1)[-1]) + float(arr.argmax(axis=-1)[0])


def time_calls(fn: Callable[[np.ndarray], Any], inputs: list[np.ndarray], plan: TimingPlan,
               sync: Callable[[], None] | None = None) -> tuple[LatencyStats, float]:
    """Warm up, then time fn(inputs[i % n]) one call at a time; return stats and an output checksum.

    sync (e.g. torch.cuda.synchronize) runs inside the timed window after each call, for devices
    whose work may still be in flight when fn returns. Python's garbage collector is off while
    timing (as in timeit), so a collection cycle does not land in one call's figure.
    """
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _time_calls(fn, inputs, plan, sync)
    finally:
        if gc_was_on:
            gc.enable()


def _time_calls(fn: Callable[[np.ndarray], Any], inputs: list[np.ndarray], plan: TimingPlan,
                sync: Callable[[], None] | None) -> tuple[LatencyStats, float]:
    n = len(inputs)
    clock = time.perf_counter_ns
    checksum = 0.0
    i, start = 0, clock()
    while i < plan.warmup_iters or clock() - start < plan.warmup_time_s * 1e9:
        checksum += _consume(fn(inputs[i % n]))
        i += 1
    samples: list[int] = []
    append = samples.append
    min_ns, i, start = plan.min_time_s * 1e9, 0, clock()
    while i < plan.min_iters or clock() - start < min_ns:
        x = inputs[i % n]
        t0 = clock()
        out = fn(x)
        if sync is not None:
            sync()
        append(clock() - t0)
        checksum += _consume(out)
        i += 1
    wall = (clock() - start) / 1e9
    return LatencyStats.from_ns(np.asarray(samples, dtype=np.int64), wall), checksum


class PeakRSS:
    """Peak resident memory of this process during a block, from /proc (Linux) or ru_maxrss.

    On Linux the kernel's high-water mark (VmHWM) is reset at the start of the block (writing 5 to
    /proc/self/clear_refs), so the figure is the process-wide peak *during* the block. Elsewhere
    it is ru_maxrss, the peak since the process started. Either way it is a whole-process figure
    (Python, every loaded runtime), not the model's own footprint.
    """

    def __init__(self) -> None:
        self.method = ""  # set on entering the block
        self.peak_mb: float | None = None

    @staticmethod
    def _reset() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _read_mb() -> float | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        try:
            import resource
            import sys
            kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0
        except (ImportError, OSError):
            return None

    def __enter__(self) -> PeakRSS:
        self.method = "VmHWM after reset" if self._reset() else "ru_maxrss (since process start)"
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mb = self._read_mb()


def cuda_event_stats(fn: Callable[[np.ndarray], Any], inputs: list[np.ndarray],
                     plan: TimingPlan) -> LatencyStats:
    """Per-call latency on the GPU's own clock: a torch.cuda.Event pair around each call.

    For torch and TorchScript backends on CUDA, beside the wall-clock figures: the span between
    the two events covers the copy in, the kernels and the copy out of each call.
    """
    import torch

    n, clock = len(inputs), time.perf_counter_ns
    for i in range(max(plan.warmup_iters, 1)):
        fn(inputs[i % n])
    torch.cuda.synchronize()
    pairs = []
    i, start = 0, clock()
    while i < plan.min_iters or clock() - start < plan.min_time_s * 1e9:
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        _consume(fn(inputs[i % n]))
        e.record()
        pairs.append((s, e))
        i += 1
    torch.cuda.synchronize()
    wall = (clock() - start) / 1e9
    ns = np.array([s.elapsed_time(e) * 1e6 for s, e in pairs], dtype=np.float64)
    return LatencyStats.from_ns(ns, wall)
