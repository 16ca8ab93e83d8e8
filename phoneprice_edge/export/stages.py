"""The stage sequence after training (export -> parity -> bench), shared by `pe pipeline` and retraining."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import ExportError, ParityFailure, PEError
from phoneprice_edge.export.bench_stage import stage_bench
from phoneprice_edge.export.stage_plan import (
    BenchPlan,
    Stage,
    StageContext,
    StagePlan,
    StageRun,
    artifact_dirs,
)
from phoneprice_edge.io_utils import atomic_write_json

__all__ = ["ARTIFACT_STAGES", "BenchPlan", "Stage", "StageContext", "StagePlan", "StageRun",
           "artifact_dirs", "run_stages", "stage_bench", "stage_export", "stage_parity"]


def stage_export(ctx: StageContext) -> None:
    """Export the plan's profiles into RUN_DIR/export/; say which were skipped and why (an error
    when the plan does not skip); ExportError naming every profile that failed."""
    from phoneprice_edge.export.runner import export_all

    results, skipped, failed = export_all(ctx.run_dir, list(ctx.plan.profiles))
    if not ctx.plan.skip_unavailable:
        failed = [(n, f"cannot export {n}: {why}") for n, why in skipped] + failed
        skipped = []
    for name, reason in skipped:
        ctx.say(f"   {name}: skipped ({reason})")
    ctx.results["export"] = results
    ctx.say(f"   exported {len(results)} profile(s) into {ctx.run_dir / 'export'}")
    if failed:
        raise ExportError("export failed for " + " | ".join(f"{n}: {msg}" for n, msg in failed))


def parity_record(run_dir: Path, artifact_dir: Path) -> tuple[dict[str, Any], Any]:
    """Check one artifact's parity and save its report: (the record, the ParityReport); a check
    that cannot run (PEError) is a failed record, saved as RUN_DIR/parity/<name>.json."""
    from phoneprice_edge.parity import check_parity, save_report

    try:
        rep = check_parity(run_dir, artifact_dir)
    except PEError as exc:
        record = {"artifact": str(artifact_dir), "passed": False, "error": str(exc)}
        atomic_write_json(run_dir / "parity" / f"{artifact_dir.name}.json", record)
        return record, None
    save_report(run_dir, artifact_dir, rep)
    return {"artifact": str(artifact_dir), **rep.to_dict()}, rep


def stage_parity(ctx: StageContext) -> None:
    """Parity of every artifact; print one table; ParityFailure if any check fails."""
    exported = {res.out_dir: res for res in ctx.results.get("export", [])}
    records, rows, failed = [], [], []
    for art in artifact_dirs(ctx):
        record, rep = parity_record(ctx.run_dir, art)
        records.append(record)
        if rep is None:
            ctx.say(f"   {art.name}: parity check could not run: {record['error']}")
            failed.append(f"{art.name}: {record['error']}")
            continue
        rows.append((exported[art].size_bytes if art in exported else _size(art), rep))
        if not rep.passed:
            failed.append(f"{rep.profile}: {'; '.join(rep.failures)}")
    ctx.results["parity"] = records
    ctx.say(render_table(rows))
    ctx.say(f"   parity reports: {ctx.run_dir / 'parity' / 'report.md'}")
    if failed:
        raise ParityFailure("parity failed for " + " | ".join(failed))


def _size(artifact_dir: Path) -> int:
    """Bytes of the artifact files its manifest lists."""
    from phoneprice_edge.export.manifest import read_manifest

    return sum((artifact_dir / f).stat().st_size for f in read_manifest(artifact_dir).files)


def render_table(rows: list[tuple[int, Any]]) -> str:
    """(size in bytes, ParityReport) rows: profile, format, precision, size, parity result,
    accuracy (reference -> artifact)."""
    head = f"{'profile':<26} {'format':<16} {'prec':<5} {'size':>9}  {'parity':<6} accuracy"
    lines = [head, "-" * len(head)]
    from phoneprice_edge.targets import TARGETS

    for size, rep in rows:
        lines.append(f"{rep.profile:<26} {TARGETS[rep.target].fmt:<16} {rep.precision:<5} "
                     f"{size / 1024:>7.1f}kB  {'pass' if rep.passed else 'FAIL':<6} "
                     f"{100 * rep.accuracy_reference:.2f}% -> {100 * rep.accuracy_candidate:.2f}%")
    return "\n".join(lines)


# The sequence after training; `pe pipeline` runs data, train, evaluate before it, retraining
# its train stage. Each stage reads the files the one before wrote.
ARTIFACT_STAGES: list[tuple[str, Stage]] = [
    ("export", stage_export),
    ("parity", stage_parity),
    ("bench", stage_bench),
]


def run_stages(ctx: StageContext, stages: Sequence[tuple[str, Stage]]) -> None:
    """Run each stage in order, announcing it; an exception stops the sequence (the stage's
    name is left in ctx.results["failed_stage"]).

    A failed check that later stages can still run past (parity: the benchmark still tells the
    user what each artifact costs) is kept in ctx.results["failures"] and raised at the end.
    """
    for name, stage in stages:
        t0 = time.perf_counter()
        ctx.say(f"== {name}")
        try:
            stage(ctx)
        except ParityFailure as exc:
            ctx.results.setdefault("failures", []).append(str(exc))
            ctx.say(f"   FAILED: {exc}")
        except BaseException:
            ctx.results["failed_stage"] = name
            raise
        ctx.say(f"   ({name}: {time.perf_counter() - t0:.1f} s)")
    if ctx.results.get("failures"):
        raise ParityFailure("; ".join(ctx.results["failures"]))
