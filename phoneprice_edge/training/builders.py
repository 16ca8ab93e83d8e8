"""Objects built from a TrainConfig: model, optimizer, per-step LR schedule, loss with L1 input penalty."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import CheckpointError, one_line
from phoneprice_edge.model import ModelConfig, TabularClassifier, build_model, raw_weight


def model_config(cfg: TrainConfig, n_features: int, n_classes: int) -> ModelConfig:
    """The architecture part of the config; in/out sizes come from the data."""
    return ModelConfig(in_features=n_features, num_classes=n_classes,
                       hidden_dims=tuple(cfg.hidden_dims), activation=cfg.activation,  # type: ignore[arg-type]
                       norm=cfg.norm, dropout_p=cfg.dropout_p, init=cfg.init,  # type: ignore[arg-type]
                       wide=cfg.wide, ordinal=cfg.ordinal)


def make_model(mcfg: ModelConfig, mean: np.ndarray, std: np.ndarray,
               init_from: str | None = None) -> TabularClassifier:
    """Build the classifier with the training split's scaler; optionally start from a checkpoint.

    With init_from, every weight is copied from the checkpoint except the standardisation
    buffers, which always come from the current training split.
    """
    model = build_model(mcfg, mean, std)
    if init_from:
        loaded = load_model(init_from)
        state = {k: v for k, v in loaded.model.state_dict().items()
                 if not k.startswith("standardize.")}
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise CheckpointError(f"{init_from}: its weights do not fit the configured model "
                                  f"({one_line(exc)[:160]})") from None
        missing = [k for k in model.state_dict() if not k.startswith("standardize.")
                   and k not in state]
        if missing:
            raise CheckpointError(f"{init_from}: checkpoint lacks {missing[0]} of the configured model")
    return model


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW or SGD+momentum; weight decay on weight matrices only, not biases or norm scales."""
    return optimizer_for(cfg, [p for p in model.parameters() if p.ndim > 1],
                         [p for p in model.parameters() if p.ndim <= 1])


def optimizer_for(cfg: TrainConfig, decay: list[torch.Tensor],
                  no_decay: list[torch.Tensor]) -> torch.optim.Optimizer:
    """make_optimizer on explicit parameter lists (weights decayed, the rest not), in that order."""
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.learning_rate, momentum=cfg.momentum)
    fused = all(p.dtype == torch.float32 for p in decay + no_decay)
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=fused)


def lr_factor(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate at optimizer step s (warm-up, then the schedule)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = cfg.warmup_steps

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total - warm))
        if cfg.scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if cfg.scheduler == "warmup_linear":
            return 1.0 - progress
        if cfg.scheduler == "step":
            return cfg.step_gamma ** (step // steps_per_epoch // cfg.step_epochs)
        return 1.0

    return factor


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR (its state_dict holds only counters, so it resumes exactly)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch))


def input_weights(model: TabularClassifier) -> list[torch.Tensor]:
    """The trainable weights that read the standardised input (first Linear, wide path).

    For an ordinal layer this is its weight vector v (the penalty is on v, not on outer(k, v)).
    """
    weights = [raw_weight(model.first_linear)]
    if model.wide is not None:
        weights.append(raw_weight(model.wide))
    return weights


@torch.no_grad()
def add_l1_subgradient(model: TabularClassifier, strength: float) -> None:
    """Add the subgradient of strength * sum |W| to the input weights' gradients (after backward).

    Same update as putting the penalty in the loss, at a fraction of the autograd cost.
    """
    if strength <= 0:
        return
    for w in input_weights(model):
        if w.grad is not None:
            w.grad.add_(torch.sign(w), alpha=strength)
