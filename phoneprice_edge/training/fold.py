"""One fit of the per-fold path (holdout, refit or one k-fold fold) and a fold's result files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.io_utils import atomic_write_json
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training.builders import model_config
from phoneprice_edge.training.loop import FitPaths, FitResult, SplitTensors, Trainer
from phoneprice_edge.training.rundir import fold_dir
from phoneprice_edge.training.state import resolve_device

EpochHook = Callable[[str, int], None]


def fit_schema(schema: FeatureSchema, X: np.ndarray, tr: np.ndarray) -> FeatureSchema:
    """The schema with the scaler of the training rows tr."""
    from phoneprice_edge.data import fit_scaler

    mean, std = fit_scaler(X[tr])
    return schema.with_scaler(mean, std)


def split_tensors(X: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray) -> SplitTensors:
    return SplitTensors(*(torch.from_numpy(np.ascontiguousarray(a))
                          for a in (X[tr], y[tr], X[va], y[va])))


def fit(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
        tr: np.ndarray, va: np.ndarray, folder: Path, tb: Path | None, *, resume: bool,
        init_from: str | None, quiet: bool, label: str, track_best: bool,
        hook: EpochHook | None) -> tuple[FitResult, FeatureSchema]:
    """Fit one model on rows tr, validating on va; scaler from the training rows."""
    fschema = fit_schema(schema, X, tr)
    mcfg = model_config(cfg, X.shape[1], schema.n_classes)
    trainer = Trainer(cfg, mcfg, fschema, split_tensors(X, y, tr, va),
                      FitPaths(folder / "checkpoints", folder / "history.jsonl", tb),
                      resolve_device(cfg.device), seed=cfg.seed, init_from=init_from,
                      quiet=quiet, label=label, track_best=track_best)
    if resume:
        trainer.resume()
    on_end = (lambda epoch: hook(label, epoch)) if hook else None
    return trainer.run(on_end), fschema


def val_metrics(model: torch.nn.Module, X: np.ndarray, y: np.ndarray,
                classes: list[str]) -> dict[str, Any]:
    """Metrics of model's logits on rows X (labels y)."""
    from phoneprice_edge.evaluate import compute_metrics, predict_logits

    return compute_metrics(y, predict_logits(model, X), classes)


def write_fold(cfg: TrainConfig, i: int, folder: Path, model: torch.nn.Module,
               schema: FeatureSchema, X: np.ndarray, y: np.ndarray, tr: np.ndarray,
               va: np.ndarray, *, epochs: int, seconds: float, samples: int,
               extra: dict[str, Any]) -> dict[str, Any]:
    """Score fold i's final weights on its held-out rows; write model.pt and result.json (the marker)."""
    m = val_metrics(model, X[va], y[va], list(schema.classes))
    save_checkpoint(folder / "model.pt", model, model.cfg.materialized(), schema,  # type: ignore[union-attr]
                    epoch=epochs, train_config=cfg.to_dict(), fold=i)
    result = {"fold": i, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
              "n_train": int(tr.size), "n_val": int(va.size), "epochs": epochs,
              "seconds": round(seconds, 3), "samples": samples, **extra}
    atomic_write_json(folder / "result.json", result)
    return result


def train_fold(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray, i: int,
               tr: np.ndarray, va: np.ndarray, run_dir: Path, kw: dict[str, Any]) -> dict[str, Any]:
    """Train fold i alone (the per-fold path), write its files and return its result."""
    folder = fold_dir(run_dir, i)
    res, fschema = fit(cfg, schema, X, y, tr, va, folder, run_dir / "tb" / f"fold_{i}",
                       label=f"fold {i}/{cfg.kfold}", track_best=False, **kw)
    return write_fold(cfg, i, folder, res.model, fschema, X, y, tr, va, epochs=len(res.history),
                      seconds=res.seconds, samples=res.samples, extra=res.extra)
