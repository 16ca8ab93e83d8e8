"""Small, deterministic training used by retraining: fine-tune a checkpoint or fit anew, write a run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.checkpoint import LoadedModel, save_checkpoint
from phoneprice_edge.io_utils import atomic_write, atomic_write_json, atomic_write_text
from phoneprice_edge.model import ModelConfig, TabularClassifier, build_model
from phoneprice_edge.schema import FeatureSchema


@dataclass(frozen=True)
class FitConfig:
    """Optimiser settings for a retraining fit (AdamW, full-batch-free mini-batches, fixed seed)."""

    epochs: int = 30
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    seed: int = 0


def accuracy(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a model on raw features."""
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return float((pred == np.asarray(y)).mean())


def fit(model: TabularClassifier, X: np.ndarray, y: np.ndarray, cfg: FitConfig) -> TabularClassifier:
    """Train model in place with AdamW + cross-entropy; deterministic for a seed on one machine."""
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    xt = torch.tensor(np.asarray(X), dtype=torch.float32)
    yt = torch.tensor(np.asarray(y), dtype=torch.int64)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(cfg.epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=g).split(cfg.batch_size):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    return model


def new_model(schema: FeatureSchema, X: np.ndarray, hidden: tuple[int, ...] = (64, 32),
              seed: int = 0, like: ModelConfig | None = None) -> tuple[TabularClassifier, ModelConfig, FeatureSchema]:
    """A fresh classifier (same architecture as `like` when given) with a scaler fitted on X."""
    torch.manual_seed(seed)
    cfg = like or ModelConfig(in_features=schema.n_features, num_classes=schema.n_classes,
                              hidden_dims=hidden)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return build_model(cfg, mean, std), cfg, schema.with_scaler(mean, std)


def copy_model(loaded: LoadedModel) -> TabularClassifier:
    """An independent trainable copy of a loaded model (scaler buffers included)."""
    model = build_model(loaded.config)
    model.load_state_dict(loaded.model.state_dict())
    return model


def _save_npz(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.savez(fh, X=np.asarray(X, np.float32), y=np.asarray(y, np.int64)))


def write_run(run_dir: str | Path, model: TabularClassifier, model_config: ModelConfig,
              schema: FeatureSchema, train: tuple[np.ndarray, np.ndarray],
              val: tuple[np.ndarray, np.ndarray], *, extra_metrics: dict[str, Any] | None = None,
              config_toml: str | None = None) -> Path:
    """A run folder as docs/ARCHITECTURE.md describes it (schema, data splits, checkpoints, metrics)."""
    run_dir = Path(run_dir)
    schema.save(run_dir / "schema.json")
    _save_npz(run_dir / "data" / "train.npz", *train)
    _save_npz(run_dir / "data" / "val.npz", *val)
    for name in ("best_model.pt", "last.pt"):
        save_checkpoint(run_dir / "checkpoints" / name, model, model_config, schema)
    metrics = {"accuracy": accuracy(model, *val), **(extra_metrics or {})}
    atomic_write_json(run_dir / "metrics.json", metrics)
    if config_toml is not None:
        atomic_write_text(run_dir / "config.toml", config_toml)
    return run_dir
