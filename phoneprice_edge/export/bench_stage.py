"""The bench stage of `pe pipeline` (build side: it times the eager reference too) on the CPU."""

from __future__ import annotations

from typing import Any


def stage_bench(ctx: Any) -> None:
    """Default sweep over every artifact in RUN_DIR/export; writes RUN_DIR/bench/report.*."""
    from phoneprice_edge import bench
    from phoneprice_edge.bench.report import results_table
    from phoneprice_edge.export.reference import reference_loader

    paths, skipped = bench.discover_artifacts(ctx.run_dir, "cpu")
    cfg = bench.BenchConfig(run_dir=ctx.run_dir, artifacts=paths, device="cpu", reference=True,
                            reference_loader=reference_loader(),
                            skip_unavailable=True)
    report = bench.run_bench(cfg, skipped=skipped)
    written = bench.write_report(report.to_dict(), ctx.run_dir / "bench")
    ctx.results["bench"] = report
    ctx.say(results_table(report.results))
    for s in report.skipped:
        ctx.say(f"   not timed {s['artifact']}: {s['reason']}")
    for flag in report.int8_flags:
        ctx.say(f"   int8 check: {flag}")
    ctx.say("   bench report: " + ", ".join(str(p) for p in written.values()))
