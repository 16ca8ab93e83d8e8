"""K-fold cross-validation: the folds still to train, as stacked groups or one by one, and the cv record.

Folds with a result.json are done (resume). The rest are trained as one stacked model per group of
folds with the same number of training rows (and, on resume, the same epoch in their last.pt)
where the config allows (`stacked_model.unsupported`); otherwise each fold is fitted alone,
serially or in `kfold_workers` processes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.checkpoint import read_checkpoint
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training import parallel, select
from phoneprice_edge.training import stacked_model as sm
from phoneprice_edge.training.builders import model_config
from phoneprice_edge.training.distributed import active as dd_active
from phoneprice_edge.training.fold import fit_schema, split_tensors, train_fold, write_fold
from phoneprice_edge.training.loop import LAST
from phoneprice_edge.training.rundir import fold_dir
from phoneprice_edge.training.stacked import FoldSpec, StackedTrainer
from phoneprice_edge.training.state import resolve_device

Splits = list[tuple[np.ndarray, np.ndarray]]
Job = tuple[int, np.ndarray, np.ndarray]


def stacked(cfg: TrainConfig) -> bool:
    """Whether this process trains cfg's folds as stacked groups."""
    return sm.unsupported(cfg) is None and not dd_active()


def run_kfold(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
              splits: Splits, run_dir: Path,
              kw: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], float, int]:
    """Train every unfinished fold; each fold's score is its final weights on its val rows."""
    done: dict[int, dict[str, Any]] = {}
    jobs: list[Job] = []
    for i, (tr, va) in enumerate(splits, start=1):
        path = fold_dir(run_dir, i) / "result.json"
        if path.is_file():
            done[i] = json.loads(path.read_text(encoding="utf-8"))
        else:
            jobs.append((i, tr, va))
    if jobs and stacked(cfg):
        for r in _stacked(cfg, schema, X, y, run_dir, jobs, kw):
            done[r["fold"]] = r
    elif jobs:
        for r in _per_fold(cfg, schema, X, y, run_dir, jobs, kw):
            done[r["fold"]] = r
    folds = [done[i] for i in sorted(done)]
    accs = np.array([f["accuracy"] for f in folds])
    cv = {"k": cfg.kfold, "accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std()),
          "macro_f1_mean": float(np.mean([f["macro_f1"] for f in folds])), "folds": folds,
          "score": "final weights of each fold on its held-out rows (no epoch chosen on them)"}
    return cv, folds, sum(f["seconds"] for f in folds), sum(f["samples"] for f in folds)


def _per_fold(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
              run_dir: Path, jobs: list[Job], kw: dict[str, Any]) -> list[dict[str, Any]]:
    workers = parallel.n_workers(cfg, len(jobs), hook=kw["hook"], distributed=dd_active(),
                                 device=resolve_device(cfg.device))
    if workers > 1:
        show = None if kw["quiet"] else parallel.print_fold(cfg.kfold)
        return parallel.run_parallel(cfg, schema, X, y, run_dir, jobs, kw, workers, show)
    return [train_fold(cfg, schema, X, y, i, tr, va, run_dir, kw) for i, tr, va in jobs]


def _groups(jobs: list[Job], run_dir: Path,
            resume: bool) -> list[tuple[list[Job], list[dict[str, Any]] | None]]:
    """Jobs grouped by training rows and resumed epoch, with their last.pt payloads (or None)."""
    keyed: dict[tuple[int, int], list[tuple[Job, dict[str, Any] | None]]] = {}
    for job in jobs:
        path = fold_dir(run_dir, job[0]) / "checkpoints" / LAST
        payload = read_checkpoint(path) if resume and path.is_file() else None
        epoch = int(payload["epoch"]) if payload is not None else 0
        keyed.setdefault((job[1].size, epoch), []).append((job, payload))
    out = []
    for members in keyed.values():
        payloads = [p for _, p in members]
        out.append(([j for j, _ in members], None if payloads[0] is None else payloads))  # type: ignore[misc]
    return out


def _stacked(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
             run_dir: Path, jobs: list[Job], kw: dict[str, Any]) -> list[dict[str, Any]]:
    mcfg = model_config(cfg, X.shape[1], schema.n_classes)
    device = resolve_device(cfg.device)
    results = []
    for group, payloads in _groups(jobs, run_dir, kw["resume"]):
        specs, schemas = [], []
        for i, tr, va in group:
            fs = fit_schema(schema, X, tr)
            t = split_tensors(X, y, tr, va)
            specs.append(FoldSpec(i, f"fold {i}/{cfg.kfold}", fs, t.x_train, t.y_train, t.x_val,
                                  t.y_val, fold_dir(run_dir, i), run_dir / "tb" / f"fold_{i}"))
            schemas.append(fs)
        t0 = time.perf_counter()
        trainer = StackedTrainer(cfg, mcfg, specs, device, init_from=kw["init_from"])
        if payloads is not None:
            trainer.resume(payloads)
        bar = _Progress(cfg, trainer, [s.label for s in specs], kw["quiet"])
        try:
            outcomes = trainer.run(kw["hook"], bar.update)
        finally:
            bar.close()
        seconds = (time.perf_counter() - t0) / len(group)  # the group's wall time, split evenly
        for (i, tr, va), spec, out in zip(group, specs, outcomes, strict=True):
            results.append(write_fold(cfg, i, spec.folder, out.model, spec.schema, X, y, tr, va,
                                      epochs=len(out.history), seconds=seconds,
                                      samples=out.samples, extra=out.extra))
    return results


class _Progress:
    """One tqdm bar per stacked group (epochs; mean validation accuracy), on a terminal only."""

    def __init__(self, cfg: TrainConfig, trainer: StackedTrainer, labels: list[str],
                 quiet: bool) -> None:
        self.bar = None
        if quiet or not sys.stderr.isatty():
            return
        from tqdm.auto import tqdm

        name = labels[0] if len(labels) == 1 else f"folds {labels[0].split()[1].split('/')[0]}-" \
                                                 f"{labels[-1].split()[1]} stacked"
        self.bar = tqdm(total=select.total_epochs(cfg), initial=trainer.epoch, desc=name,
                        unit="epoch", leave=False, dynamic_ncols=True)

    def update(self, trainer: StackedTrainer) -> None:
        if self.bar is None:
            return
        accs = [h[-1]["val_accuracy"] for h in trainer.history if h]
        self.bar.update(1)
        if accs:
            self.bar.set_postfix(val_acc=f"{float(torch.tensor(accs).mean()):.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
