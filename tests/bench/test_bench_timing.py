"""The timing loop, input buffers, statistics and the peak-memory reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.bench.timing import LatencyStats, PeakRSS, TimingPlan, make_inputs, time_calls
from phoneprice_edge.errors import UsageError


def test_make_inputs_tiles_and_rotates_distinct_buffers() -> None:
    rows = np.arange(30 * 4, dtype=np.float32).reshape(30, 4)
    for batch in (1, 7, 30, 100):
        bufs = make_inputs(rows, batch, n=8)
        assert len(bufs) == 8
        assert all(b.shape == (batch, 4) and b.dtype == np.float32 and b.flags.c_contiguous
                   for b in bufs)
        assert len({b.tobytes() for b in bufs}) == 8  # no two buffers alike
        # every buffer is made of real rows, in order (tiled past the end)
        assert np.isin(bufs[3][:, 0], rows[:, 0]).all()


def test_make_inputs_rejects_bad_batch_and_rows() -> None:
    with pytest.raises(UsageError):
        make_inputs(np.zeros((3, 2), np.float32), 0)
    with pytest.raises(UsageError):
        make_inputs(np.zeros((0, 2), np.float32), 4)


def test_stats_from_known_samples() -> None:
    ns = np.arange(1, 101, dtype=np.int64) * 1000  # 1..100 us
    s = LatencyStats.from_ns(ns, wall_s=0.5)
    assert s.iters == 100 and s.min_us == 1.0
    assert s.p50_us == pytest.approx(50.5) and s.p99_us == pytest.approx(99.01)
    assert s.mean_us == pytest.approx(50.5) and s.p50_us <= s.p90_us <= s.p99_us


def test_time_calls_honours_count_time_warmup_and_rotation() -> None:
    inputs = make_inputs(np.random.default_rng(0).random((16, 3), np.float32), 2, n=4)
    seen: list[int] = []

    def fn(x: np.ndarray) -> np.ndarray:
        seen.append(next(i for i, b in enumerate(inputs) if b is x))
        return x @ np.ones((3, 2), np.float32)

    plan = TimingPlan(min_iters=50, min_time_s=0.0, warmup_iters=5, warmup_time_s=0.0)
    stats, checksum = time_calls(fn, inputs, plan)
    assert stats.iters == 50 and len(seen) == 55  # warm-up calls are not timed
    assert set(seen) == {0, 1, 2, 3} and np.isfinite(checksum)
    slow = TimingPlan(min_iters=1, min_time_s=0.05, warmup_iters=0, warmup_time_s=0.0)
    stats, _ = time_calls(fn, inputs, slow)
    assert stats.wall_s >= 0.05 and stats.iters > 1


def _vm_rss_mb() -> float:
    """This process's resident set now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS line in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_peak_rss_sees_an_allocation_inside_the_block() -> None:
    with PeakRSS() as before:
        pass
    rss_before = _vm_rss_mb()
    with PeakRSS() as mem:
        block = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, touched
        block.sum()
    del block
    assert before.peak_mb is not None and mem.peak_mb is not None
    # the peak is at least what was resident on entry plus the 64 MiB touched inside the block
    assert mem.peak_mb >= rss_before + 60
    if mem.method.startswith("VmHWM"):  # the high-water mark was reset for each block
        assert mem.peak_mb - before.peak_mb >= 60
