"""Retraining's own stage (train a candidate run folder) and its gates' settings; export, parity
and bench are the stage sequence of export/stages.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.bench.timing import TimingPlan
from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.config import TrainConfig, load_train_config
from phoneprice_edge.export.stages import BenchPlan
from phoneprice_edge.io_utils import atomic_write_json
from phoneprice_edge.monitor.reference import build_reference, load_npz

FINE_TUNE = {"epochs": 30, "learning_rate": 3e-3}  # fine-tuning defaults (a full retrain: the recipe)


@dataclass(frozen=True)
class TrainPlan:
    """What the candidate is trained on and how (overrides apply to the champion's TrainConfig)."""

    full: bool                       # True: fresh model on old + new rows; False: fine-tune on new
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig keys, e.g. epochs
    replay: float = 0.5              # incremental: old training rows mixed in, as a share of new rows
    seed: int = 0


def train_config(champion_run: Path, plan: TrainPlan) -> TrainConfig:
    """The champion's recipe (config.toml; else its checkpoint's architecture) with the plan's
    overrides; k-fold is off (one holdout fit picks the epoch), fine-tuning starts gentler."""
    path = champion_run / "config.toml"
    if path.is_file():
        cfg = load_train_config(path)
    else:
        m = load_model(champion_run / "checkpoints" / "best_model.pt").config
        cfg = load_train_config().with_overrides(
            "champion checkpoint", hidden_dims=list(m.hidden_dims), activation=m.activation,
            norm=m.norm, dropout_p=m.dropout_p, init=m.init, wide=m.wide, ordinal=m.ordinal)
    base = {} if plan.full else FINE_TUNE
    return cfg.with_overrides("retrain options", **{**base, "kfold": 0, "refit": False,
                                                    "seed": plan.seed, **plan.overrides})


def train_candidate(champion_run: Path, out: Path, new_xy: tuple[np.ndarray, np.ndarray],
                    test_xy: tuple[np.ndarray, np.ndarray], plan: TrainPlan) -> Path:
    """Train a candidate run folder at out through the project's trainer (config.toml, schema,
    data/*.npz, checkpoints, metrics): --full fits anew on old + new rows, else fine-tunes the
    champion's checkpoint (--init-from) on the new rows plus a replay share of old ones."""
    from phoneprice_edge.schema import FeatureSchema
    from phoneprice_edge.train import train_run

    cfg = train_config(champion_run, plan)
    old_x, old_y = load_npz(champion_run / "data" / "train.npz")
    new_x, new_y = new_xy
    init_from = None
    if plan.full:
        X, y = np.concatenate([old_x, new_x]), np.concatenate([old_y, new_y])
    else:
        rng = np.random.default_rng(plan.seed)
        k = min(len(old_x), int(round(plan.replay * len(new_x))))
        pick = rng.choice(len(old_x), size=k, replace=False)
        X, y = np.concatenate([new_x, old_x[pick]]), np.concatenate([new_y, old_y[pick]])
        init_from = str(champion_run / "checkpoints" / "best_model.pt")
    schema = FeatureSchema.load(champion_run / "schema.json")
    X, y = np.ascontiguousarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)
    res = train_run(cfg, X, y, schema, out, init_from=init_from, quiet=True)
    metrics = {**res.metrics, "heldout_accuracy": evaluate(out, *test_xy), "retrain": {
        "mode": "full" if plan.full else "incremental", "source_run": str(champion_run),
        "init_from": init_from, "rows_new": int(len(new_x)), "rows_trained": int(len(X))}}
    atomic_write_json(out / "metrics.json", metrics)
    build_reference(out)
    return out


def evaluate(run_dir: Path, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a run's best checkpoint on (X, y)."""
    from phoneprice_edge.evaluate import predict_logits

    model = load_model(run_dir / "checkpoints" / "best_model.pt").model
    return float((predict_logits(model, X).argmax(1) == np.asarray(y)).mean())


# retraining's bench: a short latency sweep of the candidate (and the champion, not written)
RETRAIN_BENCH = BenchPlan(batch_sizes=(1, 64), timing=TimingPlan(min_iters=50, min_time_s=0.2),
                          reference=False, overhead=False)


def p50_batch1(report: dict[str, Any] | None) -> float | None:
    """The best batch-1 median latency of a bench report (microseconds)."""
    if not report:
        return None
    vals = [r["p50_us"] for r in report.get("results", []) if r.get("batch_size") == 1]
    return min(vals) if vals else None
