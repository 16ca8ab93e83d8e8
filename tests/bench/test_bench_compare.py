"""The regression gate: thresholds, re-measuring suspects, reading baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phoneprice_edge.bench.compare import compare_results, format_table, read_baseline
from phoneprice_edge.errors import DataError, UsageError


def row(p50: float, artifact: str = "onnx-fp32", batch: int = 1) -> dict:
    return {"artifact": artifact, "batch_size": batch, "threads": 1, "device": "cpu",
            "p50_us": p50}


def test_within_limit_passes_and_over_limit_fails() -> None:
    base = [row(100.0), row(200.0, batch=64)]
    assert compare_results([row(114.0), row(150.0, batch=64)], base, 0.15).passed
    res = compare_results([row(116.0), row(150.0, batch=64)], base, 0.15)
    assert not res.passed
    assert [p.regressed for p in res.points] == [True, False]
    assert "REGRESSED" in format_table(res) and "FAIL: 1 of 2" in format_table(res)


def test_suspect_is_remeasured_and_best_sample_counts() -> None:
    calls: list[dict] = []

    def rescue(r: dict) -> float:
        calls.append(r)
        return 105.0

    res = compare_results([row(150.0)], [row(100.0)], 0.15, remeasure=rescue)
    assert res.passed and len(calls) == 1 and res.points[0].best_us == 105.0
    assert res.points[0].attempts == 2


def test_real_slowdown_fails_after_two_retries() -> None:
    calls: list[dict] = []

    def still_slow(r: dict) -> float:
        calls.append(r)
        return 140.0

    res = compare_results([row(150.0)], [row(100.0)], 0.15, remeasure=still_slow)
    assert not res.passed and len(calls) == 2 and res.points[0].best_us == 140.0


def test_points_on_one_side_only_are_listed_not_failed() -> None:
    res = compare_results([row(10.0, "new")], [row(10.0, "gone")], 0.15)
    assert res.passed and res.only_current and res.only_baseline
    assert "new, no baseline" in format_table(res)


def test_bad_threshold_and_baselines(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        compare_results([], [], -0.1)
    with pytest.raises(UsageError, match="not found"):
        read_baseline(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"results": [{"artifact": "a"}]}))
    with pytest.raises(DataError, match="not a pe-bench report"):
        read_baseline(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"results": [row(1.0)]}))
    assert read_baseline(good)[0]["p50_us"] == 1.0
