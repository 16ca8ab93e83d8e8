"""A training run as a folder: holdout, k-fold (+ refit), data snapshots, schema, metrics, resume marker."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge import numerics
from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.config import (
    TrainConfig,
    load_numerics_record,
    load_train_config,
    save_train_config,
)
from phoneprice_edge.errors import UsageError
from phoneprice_edge.io_utils import atomic_write, atomic_write_bytes, atomic_write_json
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training import parallel
from phoneprice_edge.training.builders import model_config
from phoneprice_edge.training.distributed import active as dd_active
from phoneprice_edge.training.distributed import is_main, world_size
from phoneprice_edge.training.loop import BEST, FitPaths, FitResult, SplitTensors, Trainer
from phoneprice_edge.training.state import resolve_device, set_threads

MARKER = ".in_progress"
EpochHook = Callable[[str, int], None]


@dataclass
class RunResult:
    """What a finished run produced."""

    run_dir: Path
    best_checkpoint: Path
    metrics: dict[str, Any]
    seconds: float
    samples: int


def save_npz(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write raw float32 X and int64 y atomically."""
    atomic_write(path, lambda fh: np.savez(fh, X=X.astype(np.float32), y=y.astype(np.int64)))


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return z["X"].astype(np.float32), z["y"].astype(np.int64)


def _prepare_dir(run_dir: Path, resume: bool) -> None:
    if resume:
        if not (run_dir / "config.toml").is_file():
            raise UsageError(f"{run_dir}: not a run folder (no config.toml) - nothing to resume")
        if not (run_dir / MARKER).exists():
            raise UsageError(f"{run_dir}: the run already finished (no {MARKER} marker); "
                             f"nothing to resume")
        return
    if (run_dir / "config.toml").exists() or (run_dir / "checkpoints").exists():
        raise UsageError(f"{run_dir}: already holds a training run; choose another --out or "
                         f"continue it with --resume")


def _fit(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
         tr: np.ndarray, va: np.ndarray, folder: Path, tb: Path | None, *, resume: bool,
         init_from: str | None, quiet: bool, label: str, track_best: bool,
         hook: EpochHook | None) -> tuple[FitResult, FeatureSchema]:
    """Fit one model on rows tr, validating on va; scaler from the training rows."""
    from phoneprice_edge.data import fit_scaler

    mean, std = fit_scaler(X[tr])
    fit_schema = schema.with_scaler(mean, std)
    data = SplitTensors(*(torch.from_numpy(np.ascontiguousarray(a))
                          for a in (X[tr], y[tr], X[va], y[va])))
    mcfg = model_config(cfg, X.shape[1], schema.n_classes)
    trainer = Trainer(cfg, mcfg, fit_schema, data, FitPaths(folder / "checkpoints",
                                                              folder / "history.jsonl", tb),
                      resolve_device(cfg.device), seed=cfg.seed, init_from=init_from,
                      quiet=quiet, label=label, track_best=track_best)
    if resume:
        trainer.resume()
    on_end = (lambda epoch: hook(label, epoch)) if hook else None
    return trainer.run(on_end), fit_schema


def _val_metrics(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    from phoneprice_edge.evaluate import compute_metrics, predict_logits

    return compute_metrics(y, predict_logits(model, X), classes)


def train_fold(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray, i: int,
               tr: np.ndarray, va: np.ndarray, run_dir: Path, kw: dict[str, Any]) -> dict[str, Any]:
    """Train fold i, write its model.pt and result.json (the resume marker) and return the result."""
    folder = run_dir / "folds" / f"fold_{i}"
    res, fit_schema = _fit(cfg, schema, X, y, tr, va, folder, run_dir / "tb" / f"fold_{i}",
                           label=f"fold {i}/{cfg.kfold}", track_best=False, **kw)
    m = _val_metrics(res.model, X[va], y[va], list(schema.classes))
    save_checkpoint(folder / "model.pt", res.model, res.model.cfg.materialized(), fit_schema,
                    epoch=len(res.history), train_config=cfg.to_dict(), fold=i)
    result = {"fold": i, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
              "n_train": int(tr.size), "n_val": int(va.size), "epochs": len(res.history),
              "seconds": round(res.seconds, 3), "samples": res.samples, **res.extra}
    atomic_write_json(folder / "result.json", result)
    return result


Splits = list[tuple[np.ndarray, np.ndarray]]


def _kfold(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray, splits: Splits,
           run_dir: Path, kw: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], float, int]:
    """Train one model per (train, val) split; each fold's score is its final weights on its val rows.

    Folds without a result.json are trained serially here, or in kfold_workers processes.
    """
    done: dict[int, dict[str, Any]] = {}
    jobs = []
    for i, (tr, va) in enumerate(splits, start=1):
        path = run_dir / "folds" / f"fold_{i}" / "result.json"
        if path.is_file():
            done[i] = json.loads(path.read_text(encoding="utf-8"))
        else:
            jobs.append((i, tr, va))
    workers = parallel.n_workers(cfg, len(jobs), hook=kw["hook"], distributed=dd_active(),
                                 device=resolve_device(cfg.device))
    if workers > 1:
        show = None if kw["quiet"] else parallel.print_fold(cfg.kfold)
        for r in parallel.run_parallel(cfg, schema, X, y, run_dir, jobs, kw, workers, show):
            done[r["fold"]] = r
    else:
        for i, tr, va in jobs:
            done[i] = train_fold(cfg, schema, X, y, i, tr, va, run_dir, kw)
    folds = [done[i] for i in sorted(done)]
    seconds = sum(f["seconds"] for f in folds)
    samples = sum(f["samples"] for f in folds)
    accs = np.array([f["accuracy"] for f in folds])
    cv = {"k": cfg.kfold, "accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std()),
          "macro_f1_mean": float(np.mean([f["macro_f1"] for f in folds])), "folds": folds,
          "score": "final weights of each fold on its held-out rows (no epoch chosen on them)"}
    return cv, folds, seconds, samples


def _finish_kfold_without_refit(X: np.ndarray, y: np.ndarray, splits: Splits, run_dir: Path,
                                folds: list[dict[str, Any]]) -> None:
    """best_model.pt = the best fold's model; its split becomes data/train.npz and val.npz."""
    from phoneprice_edge.checkpoint import read_checkpoint

    best = max(folds, key=lambda f: f["accuracy"])["fold"]
    tr, va = splits[best - 1]
    folder = run_dir / "folds" / f"fold_{best}"
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
        _prepare_dir(run_dir, _resume)
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
        cv, folds, seconds, samples = _kfold(cfg, schema, X, y, splits, run_dir, kw)
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
    metrics = _val_metrics(loaded.model, Xv, yv, list(schema.classes))
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
    res, fit_schema = _fit(cfg, schema, X, y, tr, va, run_dir, run_dir / "tb" / "final",
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
    _prepare_dir(run_dir, resume=True)
    cfg = load_train_config(run_dir / "config.toml")
    numerics.check_recorded(load_numerics_record(run_dir / "config.toml"), str(run_dir))
    X, y = load_npz(run_dir / "data" / "all.npz")
    return cfg, X, y, FeatureSchema.load(run_dir / "schema.json")
