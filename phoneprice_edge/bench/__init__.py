"""Latency/throughput harness: sweep artifacts x batch sizes x threads, report, and gate regressions."""

from phoneprice_edge.bench.compare import (
    CompareResult,
    compare_results,
    format_table,
    read_baseline,
)
from phoneprice_edge.bench.env import capture_env
from phoneprice_edge.bench.harness import (
    DEFAULT_BATCH_SIZES,
    BenchConfig,
    discover_artifacts,
    load_val_rows,
)
from phoneprice_edge.bench.overhead import OVERHEAD_LIMIT, measure_overhead
from phoneprice_edge.bench.report import render_markdown, write_report
from phoneprice_edge.bench.run import (
    BenchReport,
    artifacts_of,
    bench_rows,
    count_points,
    make_remeasure,
    run_bench,
)
from phoneprice_edge.bench.timing import LatencyStats, TimingPlan, make_inputs, time_calls

__all__ = [
    "DEFAULT_BATCH_SIZES", "OVERHEAD_LIMIT", "BenchConfig", "BenchReport", "CompareResult",
    "LatencyStats", "TimingPlan", "artifacts_of", "bench_rows", "capture_env", "compare_results", "count_points",
    "discover_artifacts", "format_table", "load_val_rows", "make_inputs", "make_remeasure",
    "measure_overhead", "read_baseline", "render_markdown", "run_bench", "time_calls",
    "write_report",
]
