"""Report rendering: table cells for missing points, parity verdicts, skipped artifacts, the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.bench.env import capture_env
from phoneprice_edge.bench.overhead import summarise
from phoneprice_edge.bench.report import render_markdown, results_table, write_report


def _row(artifact: str, batch: int, p50: float, parity: bool | None) -> dict[str, Any]:
    return {"artifact": artifact, "target": "onnx", "precision": "int8", "device": "cpu",
            "batch_size": batch, "threads": 1, "p50_us": p50, "p90_us": p50 * 1.1,
            "p99_us": p50 * 1.5, "mean_us": p50, "throughput_rows_s": batch / p50 * 1e6,
            "load_ms": 2.0, "size_bytes": 2048, "parity_passed": parity, "accuracy": 0.9,
            "format": "onnx"}


def test_table_marks_missing_points_and_parity() -> None:
    table = results_table([_row("a", 1, 10.0, False), _row("a", 64, 20.0, False),
                           _row("b", 1, 12.0, None)])
    lines = table.splitlines()
    assert len(lines) == 4 and "p50 µs (b=64)" in lines[0]
    assert "| FAIL |" in lines[2] and "| 2.0 KiB | 90.00% |" in lines[2]
    assert "| not run |" in lines[3] and lines[3].rstrip(" |").endswith("- | - | -")


def test_markdown_lists_skipped_and_writes_all_three(tmp_path: Path) -> None:
    report = {"env": capture_env([1]), "settings": {"min_iters": 5, "min_time_s": 0.1},
              "results": [_row("a", 1, 10.0, True), _row("a", 8, 11.0, True)],
              "overhead": summarise([]), "skipped": [{"artifact": "trt", "reason": "needs a GPU"}]}
    md = render_markdown(report)
    assert "- trt: needs a GPU" in md and "harness overhead was not measured" in md
    paths = write_report(report, tmp_path / "bench")
    assert sorted(p.name for p in paths.values()) == ["latency.png", "report.json", "report.md"]
    assert not list((tmp_path / "bench").glob(".*tmp"))  # atomic writes left no temp files
