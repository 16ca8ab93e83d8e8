"""The tabular classifier: standardisation layer, MLP body, linear head and optional wide (linear) path.

Every exporter and the C++ runtime understand exactly these building blocks: Standardize, Linear,
BatchNorm1d (folded at export), LayerNorm, ReLU/GELU, Dropout (identity at inference) and the
wide skip `logits = head(body(z)) + wide(z)` where z is the standardised input. With `ordinal`,
the linear path is trained in the adjacent-categories form W = outer(arange(C), v) (one weight
vector for an ordinal label); its state_dict is always the materialised plain Linear weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils import parametrize

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
    ordinal: bool = False
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
        if self.ordinal and not (self.wide or not self.hidden_dims):
            raise ConfigError("ordinal needs a linear path: wide = true or hidden_dims = []")

    def materialized(self) -> ModelConfig:
        """The config of the plain model an ordinal one is saved as (same weights, no constraint)."""
        return replace(self, ordinal=False)

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


class OrdinalRank1(nn.Module):
    """Parametrisation v [F] -> W = outer(arange(C), v) [C, F] (adjacent-categories logits k * v.z)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("k", torch.arange(num_classes, dtype=torch.float32), persistent=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.k[:, None] * v[None, :]

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        """Least-squares v for a weight W (exact when W already has the structure)."""
        k = self.k.to(w.dtype)
        return (k[:, None] * w).sum(0) / (k * k).sum()


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
        if cfg.ordinal:
            for name in self.ordinal_paths():
                parametrize.register_parametrization(getattr(self, name), "weight",
                                                     OrdinalRank1(cfg.num_classes))
            self.register_state_dict_post_hook(_materialised_state)
            self.register_load_state_dict_pre_hook(_into_ordinal_state)

    def ordinal_paths(self) -> list[str]:
        """Names of the Linear layers an ordinal model constrains: wide, and head without hidden layers."""
        names = ["wide"] if self.wide is not None else []
        return names + ([] if self.cfg.hidden_dims else ["head"])

    def materialize(self) -> TabularClassifier:
        """Replace the ordinal parametrisation by plain Linear weights in place (cfg.ordinal -> False)."""
        for name in self.ordinal_paths() if self.cfg.ordinal else []:
            layer = getattr(self, name)
            if parametrize.is_parametrized(layer, "weight"):
                parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
        self.cfg = self.cfg.materialized()
        return self

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


def raw_weight(layer: nn.Linear) -> torch.Tensor:
    """The trainable tensor behind a Linear's weight (v for an ordinal layer, else the weight)."""
    if parametrize.is_parametrized(layer, "weight"):
        return layer.parametrizations.weight.original  # type: ignore[union-attr]
    return layer.weight


def _materialised_state(module: nn.Module, state: dict[str, Any], prefix: str,
                        local_metadata: Any) -> None:
    """state_dict hook: `X.parametrizations.weight.original` -> the plain `X.weight` it produces."""
    for name in module.ordinal_paths():  # type: ignore[operator]
        key = f"{prefix}{name}.parametrizations.weight.original"
        if key in state:
            del state[key]
            state[f"{prefix}{name}.weight"] = getattr(module, name).weight.detach()


def _into_ordinal_state(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """load_state_dict hook: a plain `X.weight` -> the v whose structured weight is closest to it."""
    for name in module.ordinal_paths():  # type: ignore[operator]
        layer = getattr(module, name)
        key = f"{prefix}{name}.weight"
        if key in state and parametrize.is_parametrized(layer, "weight"):
            w = state.pop(key)
            state[f"{prefix}{name}.parametrizations.weight.original"] = \
                layer.parametrizations.weight[0].right_inverse(w)


def build_model(cfg: ModelConfig, mean: Any = None, std: Any = None) -> TabularClassifier:
    """Build the classifier from its config and the training split's scaler statistics."""
    return TabularClassifier(cfg, mean, std)
