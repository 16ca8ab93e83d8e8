"""pe-bench: time exported artifacts on real validation rows and write RUN_DIR/bench/ reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from phoneprice_edge.cli.common import CONTEXT, device_option
from phoneprice_edge.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from phoneprice_edge.bench import BenchConfig, BenchReport
    from phoneprice_edge.bench.harness import Artifact


def _int_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not out or min(out) < 1:
        raise click.BadParameter(f"expected integers >= 1, got {value!r}")
    return tuple(dict.fromkeys(out))


HELP = """Time exported artifacts: latency p50/p90/p99, throughput, load time, size, memory.

Every point (artifact x batch size x thread count) feeds real validation rows from
RUN_DIR/data/val.npz (without --run: the artifacts' golden rows, no parity column and no
torch needed, e.g. on the device), tiled to the batch size and rotated among 8 buffers, warms up
(untimed), then times each backend.run call with perf_counter_ns for at least --min-iters
calls AND --min-time seconds. The defaults (300 calls, 0.5 s) time every CPU profile (10)
and the reference x 3 batch sizes in about 40 s on a 2-core machine (measured); raise them
for publication figures.

ONNX artifacts are also timed against a bare onnxruntime.InferenceSession at batch 1
(interleaved rounds) to report the toolkit's own overhead.

Writes report.json, report.md and latency.png to --out (default RUN_DIR/bench).
With --compare, exits 1 when a p50 is more than --max-regression slower than the
baseline for the same (artifact, batch, threads, device), after re-timing suspects twice.
"""


@click.command(context_settings=CONTEXT, help=HELP)
@click.option("--run", "run_dir",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Training run folder (reads data/val.npz, export/, parity/); without it the "
                   "--artifact folders' golden rows are the inputs.")
@click.option("--artifact", "artifacts", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="An export folder (with manifest.json); repeat for several.")
@click.option("--all", "all_", is_flag=True,
              help="Every export folder of the run that can run on --device.")
@click.option("--batch-sizes", callback=_int_list, metavar="B[,B...]",
              help="Batch sizes [default: each manifest's benchmark sizes, else 1,64,1024].")
@click.option("--threads", callback=_int_list, default="1", show_default=True, metavar="N[,M]",
              help="Intra-op thread counts to sweep.")
@device_option
@click.option("--reference/--no-reference", default=False, show_default=True,
              help="Also time the eager PyTorch checkpoint.")
@click.option("--overhead/--no-overhead", default=True, show_default=True,
              help="Time bare onnxruntime beside the ONNX backend at batch 1.")
@click.option("--compare", "baseline", type=click.Path(path_type=Path),
              help="Baseline report.json to gate against (exit 1 on a regression).")
@click.option("--max-regression", type=float, default=0.15, show_default=True,
              help="Allowed p50 slowdown against the baseline, as a fraction.")
@click.option("--min-time", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Minimum timed seconds per point.")
@click.option("--min-iters", type=click.IntRange(min=1), default=300, show_default=True,
              help="Minimum timed calls per point.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder [default: RUN_DIR/bench, or ./bench without --run].")
def cmd(run_dir: Path | None, artifacts: tuple[Path, ...], all_: bool, batch_sizes: tuple[int, ...] | None,
        threads: tuple[int, ...], device: str, reference: bool, overhead: bool,
        baseline: Path | None, max_regression: float, min_time: float, min_iters: int,
        out_dir: Path | None) -> int:
    from phoneprice_edge import bench

    if bool(artifacts) == all_:
        raise UsageError("give --artifact EXPORT_DIR (one or more) or --all, not both or neither")
    if run_dir is None and (all_ or reference):
        raise UsageError("--all and --reference need --run RUN_DIR")
    base_rows = bench.read_baseline(baseline) if baseline is not None else None
    skipped: list[dict[str, str]] = []
    paths = list(artifacts)
    if all_ and run_dir is not None:
        paths, skipped = bench.discover_artifacts(run_dir, device)
    cfg = bench.BenchConfig(run_dir=run_dir, artifacts=paths, batch_sizes=batch_sizes,
                            threads=threads, device=device, reference=reference,
                            overhead=overhead, skip_unavailable=all_,
                            plan=bench.TimingPlan(min_iters=min_iters, min_time_s=min_time),
                            reference_loader=_eager_reference() if reference else None)
    rows = bench.bench_rows(cfg)
    arts = bench.artifacts_of(cfg)  # manifests and parity reports read once, for every step
    report = _run(cfg, skipped, arts, rows)
    for s in report.skipped:
        click.echo(f"skipped {s['artifact']}: {s['reason']}", err=True)
    failed = False
    if base_rows is not None:
        result = bench.compare_results(report.results, base_rows, max_regression,
                                       remeasure=bench.make_remeasure(cfg, arts=arts, rows=rows))
        report.compare = result.to_dict()
        click.echo(bench.format_table(result))
        failed = not result.passed
    default_out = run_dir / "bench" if run_dir is not None else Path("bench")
    paths_out = bench.write_report(report.to_dict(), out_dir or default_out)
    _summary(report.to_dict(), paths_out)
    return 1 if failed else 0


def _run(cfg: BenchConfig, skipped: list[dict[str, str]], arts: list[Artifact],
         rows: np.ndarray) -> BenchReport:
    """run_bench with a progress bar on a terminal (quiet in CI logs; none where tqdm is absent,
    e.g. the bare GPU image gpu_check.sh runs on)."""
    from phoneprice_edge import bench

    try:
        from tqdm import tqdm
    except ImportError:
        return bench.run_bench(cfg, skipped=skipped, arts=arts, rows=rows)
    total = bench.count_points(cfg, arts)
    with tqdm(total=total, desc="bench", unit="point", disable=not sys.stderr.isatty()) as bar:
        return bench.run_bench(cfg, progress=bar.update, skipped=skipped, arts=arts, rows=rows)


def _summary(report: dict, paths: dict[str, Path]) -> None:
    from phoneprice_edge.bench.report import results_table

    click.echo(results_table(report["results"]))
    for flag in report.get("int8_flags") or []:
        click.echo(f"int8 check: {flag}")
    ovh = report["overhead"]
    if ovh.get("max_ratio") is not None:
        verdict = "within" if ovh["passed"] else "OVER"
        click.echo(f"ONNX backend overhead vs bare onnxruntime at batch 1: max ratio "
                   f"{ovh['max_ratio']:.3f} ({verdict} the {ovh['limit']}x limit)")
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()))


def _eager_reference():  # noqa: ANN202 - (run_dir, device, threads) -> Backend
    """The eager checkpoint (build side, needs torch), only for --reference."""
    from phoneprice_edge.export.reference import reference_loader

    return reference_loader()
