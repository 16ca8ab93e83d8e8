"""Gated retraining: train a candidate, export, parity and bench it, promote only if every gate passes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import ParityFailure, PEError, UsageError
from phoneprice_edge.export.bench_stage import bench_artifacts
from phoneprice_edge.export.stages import (
    ARTIFACT_STAGES,
    Stage,
    StagePlan,
    StageRun,
    artifact_dirs,
    run_stages,
)
from phoneprice_edge.io_utils import atomic_write_json
from phoneprice_edge.monitor import stages as S
from phoneprice_edge.monitor.registry import Registry
from phoneprice_edge.schema import FeatureSchema

Echo = Callable[[str], None]


@dataclass(frozen=True)
class RetrainOptions:
    """Everything `pe-monitor retrain` takes."""

    run: Path
    data: str
    full: bool = False
    registry: Path | None = None
    out: Path | None = None
    holdout: str | None = None          # explicit held-out table; else a stratified share of data
    holdout_frac: float = 0.3
    profiles: tuple[str, ...] = ("onnx-fp32",)
    accuracy_tolerance: float = 0.0     # candidate may be at most this much less accurate
    max_latency_ratio: float | None = 2.0  # candidate batch-1 p50 vs the champion's (None: no gate)
    bench: bool = True
    train_overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig keys (epochs, ...)
    seed: int = 0                       # training seed and the holdout split's


@dataclass(frozen=True)
class Stages:
    """The stage functions (library defaults), each reading and writing run folders: train the
    candidate, then the stage sequence `pe pipeline` runs after training (export/stages.py)."""

    train: Callable[..., Path] = S.train_candidate
    artifacts: tuple[tuple[str, Stage], ...] = tuple(ARTIFACT_STAGES)

    def with_stage(self, name: str, stage: Stage) -> Stages:
        """These stages with the one called name (export, parity, bench) replaced."""
        if name not in dict(self.artifacts):
            raise KeyError(f"no stage {name!r}")
        return replace(self, artifacts=tuple((n, stage if n == name else s)
                                             for n, s in self.artifacts))


def decide(champion_acc: float, candidate_acc: float, parity: list[dict[str, Any]],
           tolerance: float = 0.0, latency: tuple[float | None, float | None] = (None, None),
           max_latency_ratio: float | None = None, errors: list[str] | None = None) -> tuple[bool, list[str]]:
    """Promote only if accuracy is not worse (within tolerance), every parity check passed, the
    latency gate holds and no stage failed. Returns (promote, reasons for refusal)."""
    reasons = list(errors or [])
    if not candidate_acc >= champion_acc - tolerance:
        reasons.append(f"held-out accuracy {candidate_acc:.4f} is below the champion's "
                       f"{champion_acc:.4f} (tolerance {tolerance})")
    if not parity:
        reasons.append("no parity check ran")
    for p in parity:
        if not p.get("passed"):
            reasons.append(f"parity failed for {Path(str(p.get('artifact'))).name}"
                           + (f": {p['error']}" if p.get("error") else ""))
    champ_us, cand_us = latency
    if max_latency_ratio is not None and champ_us and cand_us and cand_us > max_latency_ratio * champ_us:
        reasons.append(f"batch-1 p50 latency {cand_us:.1f} us exceeds {max_latency_ratio}x the "
                       f"champion's {champ_us:.1f} us")
    return not reasons, reasons


def _load_xy(source: str, schema: FeatureSchema) -> tuple[np.ndarray, np.ndarray]:
    from phoneprice_edge.data import load_dataset
    ds = load_dataset(source, schema=schema)
    if ds.y is None:
        raise UsageError(f"{source}: retraining needs labelled rows (column {schema.label!r})")
    return ds.X, ds.y


def _split(opts: RetrainOptions, schema: FeatureSchema) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    X, y = _load_xy(opts.data, schema)
    if opts.holdout:
        return (X, y), _load_xy(opts.holdout, schema)
    from phoneprice_edge.data import holdout
    tr, te = holdout(y, 1.0 - opts.holdout_frac, seed=opts.seed)
    return (X[tr], y[tr]), (X[te], y[te])


def _candidate_accuracy(out: Path, test_xy: tuple[np.ndarray, np.ndarray]) -> float:
    """The held-out accuracy the train stage stored in metrics.json; evaluated when absent."""
    try:
        acc = json.loads((out / "metrics.json").read_text(encoding="utf-8")).get("heldout_accuracy")
    except (OSError, ValueError, AttributeError):
        acc = None
    return float(acc) if isinstance(acc, int | float) else S.evaluate(out, *test_xy)


def _champion(opts: RetrainOptions, plan: StagePlan, reg: Registry | None, stages: Stages,
              echo: Echo) -> Path:
    """The champion run folder; an empty registry is seeded with --run (exported first if needed)."""
    if reg is None:
        return opts.run
    v = reg.champion()
    if v is None:
        missing = tuple(p for p in plan.profiles
                        if not (opts.run / "export" / p.name / "manifest.json").is_file())
        if missing:
            echo(f"exporting the current run for {', '.join(p.name for p in missing)}")
            export = dict(stages.artifacts)["export"]
            export(StageRun(opts.run, replace(plan, profiles=missing), echo=echo))
        v = reg.register(opts.run, note="seeded from --run")
        reg.promote(v, reason="first champion (seeded from --run)")
        echo(f"registry seeded: {v} is the champion")
    return reg.path(v)


_LABELS = {"bench": "benchmark"}


def _gates(out: Path, champion: Path, plan: StagePlan, stages: Stages,
           echo: Echo) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """The stage sequence on the candidate (the bench only after every parity check passed),
    then the champion's artifacts timed the same way: (parity records, latencies, errors)."""
    ctx = StageRun(out, plan, echo=echo)
    errors: list[str] = []
    try:
        run_stages(ctx, stages.artifacts)
    except ParityFailure:
        pass  # decide() names every failed artifact from the parity records
    except PEError as exc:
        label = _LABELS.get(ctx.results.get("failed_stage", ""), ctx.results.get("failed_stage"))
        msg = str(exc)
        errors.append(msg if msg.startswith(f"{label} failed") else f"{label} failed: {msg}")
    parity: list[dict[str, Any]] = list(ctx.results.get("parity", []))
    bench: dict[str, Any] = {}
    if "bench" in ctx.results and plan.bench is not None:
        try:
            champ_arts = [champion / "export" / a.name for a in artifact_dirs(ctx)
                          if (champion / "export" / a.name / "manifest.json").is_file()]
            champ = bench_artifacts(champion, champ_arts, plan.bench, skip_unavailable=False,
                                    write=False)[0].to_dict() if champ_arts else None
            bench = {"candidate_p50_us": S.p50_batch1(ctx.results["bench"].to_dict()),
                     "champion_p50_us": S.p50_batch1(champ)}
            echo(f"bench: candidate {bench['candidate_p50_us']} us, champion {bench['champion_p50_us']} us (batch 1, p50)")
        except PEError as exc:
            errors.append(f"benchmark failed: {exc}")
    return parity, bench, errors


def retrain(opts: RetrainOptions, stages: Stages | None = None, echo: Echo | None = None) -> dict[str, Any]:
    """Train, gate and (with a registry) register the candidate and promote or reject it."""
    stages = stages or Stages()
    echo = echo or (lambda s: None)
    if not 0.0 < opts.holdout_frac < 1.0:
        raise UsageError(f"--holdout-frac must lie strictly between 0 and 1, got {opts.holdout_frac}")
    # every --profile read and checked runnable here before any work (a bad name: exit 2)
    plan = StagePlan.checked(opts.profiles, bench=S.RETRAIN_BENCH if opts.bench else None,
                             bench_after_failed_parity=False)
    reg = Registry(opts.registry) if opts.registry else None
    champion = _champion(opts, plan, reg, stages, echo)
    schema = FeatureSchema.load(champion / "schema.json")
    new_xy, test_xy = _split(opts, schema)
    out = opts.out or opts.run.parent / f"{opts.run.name}-retrain-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out}: folder exists and is not empty")
    echo(f"training candidate ({'full' if opts.full else 'incremental'}) on {len(new_xy[0])} new rows -> {out}")
    stages.train(champion, out, new_xy, test_xy, S.TrainPlan(full=opts.full, overrides=dict(opts.train_overrides),
                                seed=opts.seed))
    champ_acc, cand_acc = S.evaluate(champion, *test_xy), _candidate_accuracy(out, test_xy)
    echo(f"held-out accuracy ({len(test_xy[0])} rows): champion {champ_acc:.4f}, candidate {cand_acc:.4f}")
    parity, bench, errors = _gates(out, champion, plan, stages, echo)
    ok, reasons = decide(champ_acc, cand_acc, parity, opts.accuracy_tolerance,
                         (bench.get("champion_p50_us"), bench.get("candidate_p50_us")),
                         opts.max_latency_ratio, errors)
    result: dict[str, Any] = {
        "candidate_run": str(out), "champion_run": str(champion), "mode": "full" if opts.full else "incremental",
        "holdout_rows": int(len(test_xy[0])), "champion_accuracy": champ_acc, "candidate_accuracy": cand_acc,
        "parity": parity, "bench": bench, "promoted": ok, "reasons": reasons,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}}
    if reg is not None:
        version = reg.register(out, note=f"retrain ({result['mode']})", gates=result)
        if ok:
            reg.promote(version, reason=f"accuracy {cand_acc:.4f} >= {champ_acc:.4f}; parity passed")
        else:
            reg.reject(version, reasons)
        result["version"], result["champion"] = version, reg.champion()
    atomic_write_json(out / "retrain.json", result)
    return result
