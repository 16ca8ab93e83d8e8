"""What the stage sequence after training does for a run folder: its plan, its context, its artifacts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from phoneprice_edge.export.profile import ExportProfile, builtin_profiles, load_profile

if TYPE_CHECKING:
    from phoneprice_edge.bench.timing import TimingPlan


@dataclass(frozen=True)
class BenchPlan:
    """How the bench stage times the artifacts (the defaults: `pe bench`'s full sweep)."""

    batch_sizes: tuple[int, ...] | None = None  # None: each profile's benchmark batch sizes
    timing: TimingPlan | None = None  # None: the harness's default plan
    reference: bool = True  # also time the eager PyTorch checkpoint
    overhead: bool = True  # bare onnxruntime beside the ONNX backend at batch 1


@dataclass(frozen=True)
class StagePlan:
    """What the stages do for one run folder: which profiles, and what a stage does on a miss."""

    profiles: tuple[ExportProfile, ...]
    skip_unavailable: bool = True  # a profile this host cannot run is skipped (else an error)
    bench: BenchPlan | None = field(default_factory=BenchPlan)  # None: no bench stage
    bench_after_failed_parity: bool = True  # False: a failed parity check skips the bench

    @classmethod
    def every_builtin(cls) -> StagePlan:
        """`pe pipeline`'s plan: every built-in profile this host can run, the full bench."""
        return cls(tuple(builtin_profiles()))

    @classmethod
    def checked(cls, names: Sequence[str], **kw: Any) -> StagePlan:
        """The plan for these profile names or files, each read and checked runnable here now,
        before any work: ConfigError (exit 2) for an unknown or invalid profile,
        BackendUnavailable for one this host cannot export."""
        from phoneprice_edge.export.runner import check_runnable

        profiles = tuple(load_profile(n) for n in names)
        for p in profiles:
            check_runnable(p)  # the export's own check (build_on_device included)
        return cls(profiles, skip_unavailable=False, **kw)


class StageContext(Protocol):
    """What a stage gets: the run folder, the plan, results earlier stages leave, an echo."""

    run_dir: Path
    plan: StagePlan
    results: dict[str, Any]

    def say(self, text: str) -> None: ...


@dataclass
class StageRun:
    """A StageContext for a run folder the stages work on alone (retraining's candidate)."""

    run_dir: Path
    plan: StagePlan
    results: dict[str, Any] = field(default_factory=dict)
    echo: Callable[[str], None] = lambda text: None

    def say(self, text: str) -> None:
        self.echo(text)


Stage = Callable[[Any], None]


def artifact_dirs(ctx: StageContext) -> list[Path]:
    """The export folders the later stages work on: those the export stage wrote, or (a stage
    run alone) the plan's profiles found in RUN_DIR/export."""
    if "export" in ctx.results:
        return [res.out_dir for res in ctx.results["export"]]
    found = [ctx.run_dir / "export" / p.name for p in ctx.plan.profiles]
    return [d for d in found if (d / "manifest.json").is_file()]
