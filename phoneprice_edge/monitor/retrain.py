"""Gated retraining: train a candidate, export, parity and bench it, promote only if every gate passes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import PEError, UsageError
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


@dataclass
class Stages:
    """The stage functions (library defaults); each reads and writes run folders."""

    train: Callable[..., Path] = S.train_candidate
    export: Callable[[Path, list[str]], list[Path]] = S.export_stage
    parity: Callable[[Path, Path], dict[str, Any]] = S.parity_stage
    bench: Callable[..., dict[str, Any]] = S.bench_stage


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


def _champion(opts: RetrainOptions, reg: Registry | None, stages: Stages, echo: Echo) -> Path:
    """The champion run folder; an empty registry is seeded with --run (exported first if needed)."""
    if reg is None:
        return opts.run
    v = reg.champion()
    if v is None:
        missing = [p for p in opts.profiles if not (opts.run / "export" / p / "manifest.json").is_file()]
        if missing:
            echo(f"exporting the current run for {', '.join(missing)}")
            stages.export(opts.run, missing)
        v = reg.register(opts.run, note="seeded from --run")
        reg.promote(v, reason="first champion (seeded from --run)")
        echo(f"registry seeded: {v} is the champion")
    return reg.path(v)


def _gates(out: Path, champion: Path, opts: RetrainOptions, stages: Stages,
           echo: Echo) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    parity: list[dict[str, Any]] = []
    bench: dict[str, Any] = {}
    errors: list[str] = []
    try:
        echo(f"export: {', '.join(opts.profiles)}")
        artifacts = stages.export(out, list(opts.profiles))
    except PEError as exc:
        return parity, bench, [f"export failed: {exc}"]
    for art in artifacts:
        rep = stages.parity(out, art)
        if "error" in rep:  # no report was written by the parity stage
            atomic_write_json(out / "parity" / f"{art.name}.json", rep)
        parity.append(rep)
        echo(f"parity {art.name}: {'passed' if rep.get('passed') else 'FAILED'}")
    if opts.bench and all(p.get("passed") for p in parity):
        try:
            cand = stages.bench(out, artifacts)
            champ_arts = [champion / "export" / a.name for a in artifacts
                          if (champion / "export" / a.name / "manifest.json").is_file()]
            champ = stages.bench(champion, champ_arts, write=False) if champ_arts else None
            bench = {"candidate_p50_us": S.p50_batch1(cand), "champion_p50_us": S.p50_batch1(champ)}
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
    reg = Registry(opts.registry) if opts.registry else None
    champion = _champion(opts, reg, stages, echo)
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
    parity, bench, errors = _gates(out, champion, opts, stages, echo)
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
