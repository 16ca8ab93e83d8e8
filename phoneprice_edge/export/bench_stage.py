"""The bench stage of the stage sequence (build side: it can time the eager reference too) on the CPU."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoneprice_edge.bench.run import BenchReport
    from phoneprice_edge.export.stage_plan import BenchPlan


def bench_artifacts(run_dir: Path, artifacts: Sequence[Path], plan: BenchPlan,
                    skipped: Sequence[dict[str, str]] = (), skip_unavailable: bool = True,
                    write: bool = True) -> tuple[BenchReport, dict[str, Path]]:
    """Time artifacts of run_dir on the CPU as the plan says: (the report, the files written to
    RUN_DIR/bench/ when write)."""
    from phoneprice_edge import bench

    loader = None
    if plan.reference:
        from phoneprice_edge.export.reference import reference_loader
        loader = reference_loader()
    cfg = bench.BenchConfig(run_dir=run_dir, artifacts=list(artifacts), device="cpu",
                            batch_sizes=plan.batch_sizes, plan=plan.timing or bench.TimingPlan(),
                            reference=plan.reference, reference_loader=loader,
                            overhead=plan.overhead, skip_unavailable=skip_unavailable)
    report = bench.run_bench(cfg, skipped=list(skipped))
    written = bench.write_report(report.to_dict(), run_dir / "bench") if write else {}
    return report, written


def stage_bench(ctx: Any) -> None:
    """Time the artifacts of the earlier stages (the GPU ones noted, not timed); writes
    RUN_DIR/bench/report.*. Skipped when the plan has no bench, or after a failed parity check
    when the plan says so."""
    from phoneprice_edge import bench
    from phoneprice_edge.bench.report import results_table
    from phoneprice_edge.export.stage_plan import artifact_dirs

    plan = ctx.plan
    if plan.bench is None:
        ctx.say("   skipped (no benchmark asked for)")
        return
    if ctx.results.get("failures") and not plan.bench_after_failed_parity:
        ctx.say("   skipped: a parity check failed")
        return
    wanted = {p.name for p in artifact_dirs(ctx)}
    paths, skipped = bench.discover_artifacts(ctx.run_dir, "cpu")
    paths = [p for p in paths if p.name in wanted]
    skipped = [s for s in skipped if s["artifact"] in wanted]
    report, written = bench_artifacts(ctx.run_dir, paths, plan.bench, skipped,
                                      plan.skip_unavailable)
    ctx.results["bench"] = report
    ctx.say(results_table(report.results))
    for s in report.skipped:
        ctx.say(f"   not timed {s['artifact']}: {s['reason']}")
    for flag in report.int8_flags:
        ctx.say(f"   int8 check: {flag}")
    ctx.say("   bench report: " + ", ".join(str(p) for p in written.values()))
