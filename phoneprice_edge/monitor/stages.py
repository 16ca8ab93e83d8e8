"""Retraining stages: train a candidate, export it, check parity, benchmark; each reads/writes run folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.errors import PEError
from phoneprice_edge.monitor import fit as F
from phoneprice_edge.monitor.reference import build_reference, load_npz


@dataclass(frozen=True)
class TrainPlan:
    """What the candidate is trained on and how."""

    full: bool                       # True: fresh model on old + new rows; False: fine-tune on new
    fit: F.FitConfig = field(default_factory=F.FitConfig)
    replay: float = 0.5              # incremental: old training rows mixed in, as a share of new rows


def train_candidate(champion_run: Path, out: Path, new_xy: tuple[np.ndarray, np.ndarray],
                    test_xy: tuple[np.ndarray, np.ndarray], plan: TrainPlan) -> Path:
    """Write a candidate run folder at out (schema, splits, checkpoints, metrics on the held-out set)."""
    champ = load_model(champion_run / "checkpoints" / "best_model.pt")
    old_x, old_y = load_npz(champion_run / "data" / "train.npz")
    new_x, new_y = new_xy
    if plan.full:
        X = np.concatenate([old_x, new_x])
        y = np.concatenate([old_y, new_y])
        model, cfg, schema = F.new_model(champ.schema, X, seed=plan.fit.seed, like=champ.config)
    else:
        rng = np.random.default_rng(plan.fit.seed)
        k = min(len(old_x), int(round(plan.replay * len(new_x))))
        pick = rng.choice(len(old_x), size=k, replace=False)
        X = np.concatenate([new_x, old_x[pick]])
        y = np.concatenate([new_y, old_y[pick]])
        model, cfg, schema = F.copy_model(champ), champ.config, champ.schema
    F.fit(model, X, y, plan.fit)
    mode = "full" if plan.full else "incremental"
    F.write_run(out, model, cfg, schema, (X, y), test_xy,
                extra_metrics={"retrain": {"mode": mode, "source_run": str(champion_run),
                                           "rows_new": int(len(new_x)), "rows_trained": int(len(X))}})
    build_reference(out)
    return out


def evaluate(run_dir: Path, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a run's best checkpoint on (X, y)."""
    return F.accuracy(load_model(run_dir / "checkpoints" / "best_model.pt").model, X, y)


def export_stage(run_dir: Path, profiles: list[str]) -> list[Path]:
    """Export every profile into RUN_DIR/export/<profile>/ through the export library."""
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    return [export_profile(run_dir, load_profile(p)).out_dir for p in profiles]


def parity_stage(run_dir: Path, artifact_dir: Path) -> dict[str, Any]:
    """Check parity (phoneprice_edge.parity) and save its report; any error is a failed check."""
    from phoneprice_edge.parity import check_parity, save_report

    try:
        rep = check_parity(run_dir, artifact_dir)
    except PEError as exc:
        return {"artifact": str(artifact_dir), "passed": False, "error": str(exc)}
    save_report(run_dir, artifact_dir, rep)
    return {"artifact": str(artifact_dir), **rep.to_dict()}


def bench_stage(run_dir: Path, artifacts: list[Path], batch_sizes: tuple[int, ...] = (1, 64),
                min_time_s: float = 0.2, write: bool = True) -> dict[str, Any]:
    """A short latency sweep (bench library), written to RUN_DIR/bench/ when write; returns the report."""
    from phoneprice_edge.bench.harness import BenchConfig
    from phoneprice_edge.bench.report import write_report
    from phoneprice_edge.bench.run import run_bench
    from phoneprice_edge.bench.timing import TimingPlan

    cfg = BenchConfig(run_dir=run_dir, artifacts=list(artifacts), batch_sizes=batch_sizes,
                      plan=TimingPlan(min_iters=50, min_time_s=min_time_s), overhead=False)
    report = run_bench(cfg).to_dict()
    if write:
        write_report(report, run_dir / "bench")
    return report


def p50_batch1(report: dict[str, Any] | None) -> float | None:
    """The best batch-1 median latency of a bench report (microseconds)."""
    if not report:
        return None
    vals = [r["p50_us"] for r in report.get("results", []) if r.get("batch_size") == 1]
    return min(vals) if vals else None
