"""A training run as a folder: holdout, k-fold (+ refit), data snapshots, schema, metrics, resume marker."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge import numerics
from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.config import (
    TrainConfig,
    load_numerics_record,
    load_train_config,
    save_train_config,
)
from phoneprice_edge.io_utils import atomic_write_bytes, atomic_write_json
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training.distributed import is_main, world_size
from phoneprice_edge.training.fold import EpochHook, fit, val_metrics
from phoneprice_edge.training.kfold import Splits, run_kfold
from phoneprice_edge.training.loop import BEST
from phoneprice_edge.training.rundir import MARKER, fold_dir, load_npz, prepare_dir, save_npz
from phoneprice_edge.training.state import set_threads

__all__ = ["MARKER", "EpochHook", "RunResult", "load_npz", "read_resume_inputs", "resume_run",
           "save_npz", "train_run"]


@dataclass
class RunResult:
    """What a finished run produced."""

    run_dir: Path
    best_checkpoint: Path
    metrics: dict[str, Any]
    seconds: float
    samples: int


def _finish_kfold_without_refit(X: np.ndarray, y: np.ndarray, splits: Splits, run_dir: Path,
                                folds: list[dict[str, Any]]) -> None:
    """best_model.pt = the best fold's model; its split becomes data/train.npz and val.npz."""
    from phoneprice_edge.checkpoint import read_checkpoint

    best = max(folds, key=lambda f: f["accuracy"])["fold"]
    tr, va = splits[best - 1]
    folder = fold_dir(run_dir, best)
    best_path = run_dir / "checkpoints" / BEST
    atomic_write_bytes(best_path, (folder / "model.pt").read_bytes())
    atomic_write_bytes(run_dir / "history.jsonl", (folder / "history.jsonl").read_bytes())
    schema = FeatureSchema.from_dict(read_checkpoint(best_path)["schema"], source=str(best_path))
    schema.save(run_dir / "schema.json")  # the fold's schema: its training split's scaler
    save_npz(run_dir / "data" / "train.npz", X[tr], y[tr])
    save_npz(run_dir / "data" / "val.npz", X[va], y[va])


def train_run(cfg: TrainConfig, X: np.ndarray, y: np.ndarray, schema: FeatureSchema,
              run_dir: str | Path, *, init_from: str | None = None, quiet: bool = True,
              hook: EpochHook | None = None, _resume: bool = False) -> RunResult:
    """Train into run_dir (holdout, or k-fold with optional refit) and write every run file."""
    run_dir = Path(run_dir)
    main = is_main()  # under DDP only rank 0 writes the run folder
    if main:
        prepare_dir(run_dir, _resume)
        run_dir.mkdir(parents=True, exist_ok=True)
    if not _resume and main:
        atomic_write_json(run_dir / MARKER, {"pid": os.getpid(), "started": time.time()})
        save_train_config(cfg, run_dir / "config.toml", numerics=numerics.record())
        save_npz(run_dir / "data" / "all.npz", X, y)
        schema.save(run_dir / "schema.json")
    set_threads(cfg.threads)
    kw = {"resume": _resume, "init_from": init_from, "quiet": quiet, "hook": hook}
    t0 = time.perf_counter()
    cv, seconds, samples = None, 0.0, 0
    if cfg.kfold:
        from phoneprice_edge.data import kfold

        splits = kfold(y, cfg.kfold, cfg.seed)
        cv, folds, seconds, samples = run_kfold(cfg, schema, X, y, splits, run_dir, kw)
    if cfg.kfold and not cfg.refit:
        _finish_kfold_without_refit(X, y, splits, run_dir, folds)
    else:
        seconds, samples = _final_fit(cfg, schema, X, y, run_dir, kw, seconds, samples)
    if not main:
        return RunResult(run_dir, run_dir / "checkpoints" / BEST, {},
                         time.perf_counter() - t0, samples)
    from phoneprice_edge.checkpoint import load_model

    loaded = load_model(run_dir / "checkpoints" / BEST)
    Xv, yv = load_npz(run_dir / "data" / "val.npz")
    metrics = val_metrics(loaded.model, Xv, yv, list(schema.classes))
    metrics["val_held_out"] = not (cfg.kfold and cfg.refit)
    if cv is not None:
        metrics["cv"] = cv
    metrics["train_seconds"], metrics["train_samples"] = round(seconds, 3), samples
    if world_size() > 1:
        metrics["world_size"] = world_size()
    atomic_write_json(run_dir / "metrics.json", metrics)
    (run_dir / MARKER).unlink(missing_ok=True)
    return RunResult(run_dir, run_dir / "checkpoints" / BEST, metrics,
                     time.perf_counter() - t0, samples)


def _final_fit(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
               run_dir: Path, kw: dict[str, Any], seconds: float, samples: int) -> tuple[float, int]:
    """The holdout fit, or the k-fold refit on all rows (val = seeded 20% of them, not held out)."""
    from phoneprice_edge.data import holdout

    refit = bool(cfg.kfold and cfg.refit)
    if refit:
        tr, va = np.arange(y.size), holdout(y, 0.8, cfg.seed)[1]
    else:
        tr, va = holdout(y, cfg.train_val_split, cfg.seed)
    if is_main():
        save_npz(run_dir / "data" / "train.npz", X[tr], y[tr])
        save_npz(run_dir / "data" / "val.npz", X[va], y[va])
    res, fit_schema = fit(cfg, schema, X, y, tr, va, run_dir, run_dir / "tb" / "final",
                           label="refit" if refit else "train", track_best=not refit, **kw)
    if is_main():
        fit_schema.save(run_dir / "schema.json")
        if res.extra:  # the relaxed-lasso stage's kept features
            atomic_write_json(run_dir / "selected_features.json", res.extra)
    if refit:
        save_checkpoint(run_dir / "checkpoints" / BEST, res.model, res.model.cfg.materialized(),
                        fit_schema, epoch=len(res.history), train_config=cfg.to_dict(), refit=True)
    return seconds + res.seconds, samples + res.samples


def resume_run(run_dir: str | Path, *, quiet: bool = True, hook: EpochHook | None = None,
               init_from: str | None = None) -> RunResult:
    """Continue an interrupted run from its files (config.toml, data/all.npz, schema, last.pt)."""
    run_dir = Path(run_dir)
    cfg, X, y, schema = read_resume_inputs(run_dir)
    return train_run(cfg, X, y, schema, run_dir, init_from=init_from, quiet=quiet, hook=hook,
                     _resume=True)


def read_resume_inputs(run_dir: Path) -> tuple[TrainConfig, np.ndarray, np.ndarray, FeatureSchema]:
    """Check run_dir can be resumed, then read its config.toml, data/all.npz and schema.json."""
    prepare_dir(run_dir, resume=True)
    cfg = load_train_config(run_dir / "config.toml")
    numerics.check_recorded(load_numerics_record(run_dir / "config.toml"), str(run_dir))
    X, y = load_npz(run_dir / "data" / "all.npz")
    return cfg, X, y, FeatureSchema.load(run_dir / "schema.json")
