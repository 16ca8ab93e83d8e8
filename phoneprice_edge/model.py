"""The tabular classifier: standardisation layer, MLP body, linear head and optional wide (linear) path.

Every exporter and the C++ runtime understand exactly these building blocks: Standardize, Linear,
BatchNorm1d (folded at export), LayerNorm, ReLU/GELU, Dropout (identity at inference) and the
wide skip `logits = head(body(z)) + wide(z)` where z is the standardised input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from phoneprice_edge.errors import ConfigError

Activation = Literal["relu", "gelu"]
Norm = Literal["none", "batchnorm", "layernorm"]
Init = Literal["xavier", "kaiming"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the classifier; in/out sizes come from the data."""

    in_features: int
    num_classes: int
    hidden_dims: tuple[int, ...] = (128, 64)
    activation: Activation = "relu"
    norm: Norm = "none"
    dropout_p: float = 0.0
    init: Init = "kaiming"
    wide: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.in_features < 1 or self.num_classes < 2:
            raise ConfigError(f"model needs >= 1 feature and >= 2 classes "
                              f"(got {self.in_features}, {self.num_classes})")
        if any(int(h) < 1 for h in self.hidden_dims):
            raise ConfigError(f"hidden_dims must be positive integers, got {list(self.hidden_dims)}")
        if self.activation not in ("relu", "gelu"):
            raise ConfigError(f"activation must be relu or gelu, got {self.activation!r}")
        if self.norm not in ("none", "batchnorm", "layernorm"):
            raise ConfigError(f"norm must be none, batchnorm or layernorm, got {self.norm!r}")
        if self.init not in ("xavier", "kaiming"):
            raise ConfigError(f"init must be xavier or kaiming, got {self.init!r}")
        if not 0.0 <= self.dropout_p < 1.0:
            raise ConfigError(f"dropout_p must be in [0, 1), got {self.dropout_p}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden_dims"] = list(self.hidden_dims)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        d["hidden_dims"] = tuple(int(h) for h in d.get("hidden_dims", ()))
        return cls(**d)


class Standardize(nn.Module):
    """(x - mean) / std with buffers fitted on the training split, so the model takes raw features."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).clone())
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class TabularClassifier(nn.Module):
    """Raw float32 features [N, F] -> float32 logits [N, C]."""

    def __init__(self, cfg: ModelConfig, mean: Sequence[float] | torch.Tensor | None = None,
                 std: Sequence[float] | torch.Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        f = cfg.in_features
        mean_t = torch.zeros(f) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std_t = torch.ones(f) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.standardize = Standardize(mean_t, std_t)
        layers: list[nn.Module] = []
        width = f
        for h in cfg.hidden_dims:
            layers.append(nn.Linear(width, h))
            if cfg.norm == "batchnorm":
                layers.append(nn.BatchNorm1d(h))
            elif cfg.norm == "layernorm":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.ReLU() if cfg.activation == "relu" else nn.GELU())
            if cfg.dropout_p > 0:
                layers.append(nn.Dropout(cfg.dropout_p))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, cfg.num_classes)
        self.wide = nn.Linear(f, cfg.num_classes, bias=False) if cfg.wide else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise every Linear as configured (Xavier or Kaiming), biases at zero."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if self.cfg.init == "xavier":
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nonlin = "relu" if self.cfg.activation == "relu" else "linear"
                    nn.init.kaiming_uniform_(m.weight, nonlinearity=nonlin)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.wide is not None:
            nn.init.zeros_(self.wide.weight)

    @property
    def first_linear(self) -> nn.Linear:
        """The Linear that reads the standardised input (target of an input-sparsity penalty)."""
        for m in self.body:
            if isinstance(m, nn.Linear):
                return m
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.standardize(x)
        out = self.head(self.body(z))
        if self.wide is not None:
            out = out + self.wide(z)
        return out


def build_model(cfg: ModelConfig, mean: Any = None, std: Any = None) -> TabularClassifier:
    """Build the classifier from its config and the training split's scaler statistics."""
    return TabularClassifier(cfg, mean, std)
