"""Relaxed-lasso feature selection: the input mask chosen after an L1 stage, and its enforcement."""

from __future__ import annotations

import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.model import TabularClassifier
from phoneprice_edge.training.builders import input_weights


def enabled(cfg: TrainConfig) -> bool:
    """Whether the run has a second (masked) stage."""
    return cfg.feature_select == "l1_relaxed"


def total_epochs(cfg: TrainConfig) -> int:
    """Epochs of stage 1 (cfg.epochs) plus stage 2 when selection is on."""
    return cfg.epochs + (cfg.stage2_epochs if enabled(cfg) else 0)


def stage2_config(cfg: TrainConfig) -> TrainConfig:
    """The config the stage-2 optimizer and schedule are built from (its own cosine, its own L1)."""
    return cfg.with_overrides(epochs=cfg.stage2_epochs, l1_input=cfg.stage2_l1)


def importance(model: TabularClassifier) -> torch.Tensor:
    """Per-feature total absolute weight over every layer that reads the standardised input."""
    n = model.cfg.in_features
    return sum(w.detach().abs().reshape(-1, n).sum(0) for w in input_weights(model))  # type: ignore[return-value]


def select_mask(model: TabularClassifier, threshold: float) -> torch.Tensor:
    """Keep features whose importance is >= threshold * the largest one (at least one is kept)."""
    imp = importance(model)
    return imp >= threshold * imp.max()


@torch.no_grad()
def mask_grads(model: TabularClassifier, mask: torch.Tensor) -> None:
    """Zero the gradient of the dropped features' input columns (before the optimizer step)."""
    for w in input_weights(model):
        if w.grad is not None:
            w.grad.mul_(_broadcast(mask, w))


@torch.no_grad()
def apply_mask(model: TabularClassifier, mask: torch.Tensor) -> None:
    """Set the dropped features' input columns to exactly zero (after every optimizer step)."""
    for w in input_weights(model):
        w.mul_(_broadcast(mask, w))


def _broadcast(mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The mask as a 0/1 tensor of w's dtype and device that broadcasts over w's last axis."""
    return mask.to(device=w.device, dtype=w.dtype).reshape(*([1] * (w.ndim - 1)), -1)


def selected_names(mask: torch.Tensor, feature_names: list[str]) -> list[str]:
    """The kept features' names, in schema order."""
    return [name for name, keep in zip(feature_names, mask.tolist(), strict=True) if keep]
