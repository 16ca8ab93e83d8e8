"""TrainConfig: every training hyper-parameter, loaded from TOML, validated, and written back out."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import ConfigError
from phoneprice_edge.io_utils import atomic_write_text, read_toml

DEFAULT_CONFIG_NAME = "train.toml"
# Tables the trainer writes into RUN_DIR/config.toml as records, not settings: load_train_config
# skips them, so a run's config.toml works as --config and on --resume.
NUMERICS_TABLE = "numerics"

CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("adamw", "sgd"),
    "scheduler": ("cosine", "step", "warmup_linear", "none"),
    "activation": ("relu", "gelu"),
    "norm": ("none", "batchnorm", "layernorm"),
    "init": ("xavier", "kaiming"),
    "device": ("auto", "cpu", "cuda"),
    "feature_select": ("none", "l1_relaxed"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Resolved training configuration; the defaults match `defaults/train.toml`."""

    seed: int = 42
    epochs: int = 200
    batch_size: int = 64
    optimizer: str = "adamw"
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    warmup_steps: int = 0
    step_epochs: int = 50
    step_gamma: float = 0.5
    grad_clip: float = 0.0
    patience: int = 0
    label_smoothing: float = 0.0
    hidden_dims: tuple[int, ...] = (16,)
    activation: str = "relu"
    norm: str = "none"
    init: str = "kaiming"
    dropout_p: float = 0.0
    wide: bool = True
    ordinal: bool = False
    l1_input: float = 0.01
    feature_select: str = "l1_relaxed"
    select_threshold: float = 0.03
    stage2_epochs: int = 100
    stage2_l1: float = 0.0
    train_val_split: float = 0.8
    kfold: int = 0
    kfold_workers: int = 0
    refit: bool = False
    device: str = "auto"
    shuffle: bool = True
    num_workers: int = 0
    pin_memory: bool = False
    drop_last: bool = False
    noise_sigma: float = 0.0
    mixup_alpha: float = 0.0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden_dims"] = list(self.hidden_dims)
        return d

    def with_overrides(self, source: str = "command line", **overrides: Any) -> TrainConfig:
        """Return a validated copy with the given (non-None) values replaced."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return from_mapping({**self.to_dict(), **given}, source)


SEED_MAX = 2 ** 32 - 1  # numpy's and torch's generators all accept 0..2^32-1
_TYPES: dict[str, type] = {f.name: f.type for f in fields(TrainConfig)}  # type: ignore[misc]


def _coerce(key: str, value: Any, source: str) -> Any:
    """Check one value's type (ints accepted where floats are expected) and return it normalised."""
    kind = _TYPES[key]
    bad = ConfigError(f"{source}: {key} = {value!r} is not a valid {_kind_name(kind)}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if not isinstance(value, list | tuple) or any(
            isinstance(h, bool) or not isinstance(h, int) for h in value):
        raise bad
    return tuple(value)


def _kind_name(kind: str) -> str:
    return {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}.get(
        kind, "list of integers")


def _check_ranges(cfg: TrainConfig, source: str) -> None:
    for key, allowed in CHOICES.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"{source}: {key} = {getattr(cfg, key)!r} is not one of "
                              f"{', '.join(allowed)}")
    rules: list[tuple[bool, str]] = [
        (0 <= cfg.seed <= SEED_MAX, f"seed = {cfg.seed} is not in 0..{SEED_MAX}"),
        (cfg.epochs >= 1, "epochs must be >= 1"),
        (cfg.batch_size >= 1, "batch_size must be >= 1"),
        (cfg.learning_rate > 0, "learning_rate must be > 0"),
        (0 <= cfg.momentum < 1, "momentum must be in [0, 1)"),
        (cfg.weight_decay >= 0, "weight_decay must be >= 0"),
        (cfg.warmup_steps >= 0, "warmup_steps must be >= 0"),
        (cfg.step_epochs >= 1, "step_epochs must be >= 1"),
        (0 < cfg.step_gamma <= 1, "step_gamma must be in (0, 1]"),
        (cfg.grad_clip >= 0, "grad_clip must be >= 0 (0 = off)"),
        (cfg.patience >= 0, "patience must be >= 0 (0 = off)"),
        (0 <= cfg.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
        (all(h >= 1 for h in cfg.hidden_dims), "hidden_dims must be positive integers"),
        (0 <= cfg.dropout_p < 1, "dropout_p must be in [0, 1)"),
        (cfg.l1_input >= 0, "l1_input must be >= 0"),
        (0 <= cfg.select_threshold < 1, "select_threshold must be in [0, 1)"),
        (cfg.stage2_epochs >= 1, "stage2_epochs must be >= 1"),
        (cfg.stage2_l1 >= 0, "stage2_l1 must be >= 0"),
        (0 < cfg.train_val_split < 1, "train_val_split must be in (0, 1)"),
        (cfg.kfold == 0 or cfg.kfold >= 2, "kfold must be 0 (off) or >= 2"),
        (cfg.kfold_workers >= 0, "kfold_workers must be >= 0 (0 = automatic)"),
        (not cfg.refit or cfg.kfold >= 2, "refit needs kfold >= 2"),
        (cfg.num_workers >= 0, "num_workers must be >= 0"),
        (cfg.noise_sigma >= 0, "noise_sigma must be >= 0 (0 = off)"),
        (cfg.mixup_alpha >= 0, "mixup_alpha must be >= 0 (0 = off)"),
        (cfg.threads >= 0, "threads must be >= 0 (0 = automatic)"),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def from_mapping(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Build a TrainConfig from a flat mapping; unknown keys and bad values raise ConfigError."""
    unknown = sorted(set(data) - set(_TYPES))
    if NUMERICS_TABLE in unknown:
        raise ConfigError(f"{source}: {NUMERICS_TABLE!r} is not a config key: the CPU numerics mode "
                          f"is chosen before torch loads, by the environment variable PE_NUMERICS "
                          f"(portable or native; see docs/reproducibility.md)")
    if unknown:
        raise ConfigError(f"{source}: unknown config key {unknown[0]!r}"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                          + "; see phoneprice_edge/defaults/train.toml for the valid keys")
    values = {k: _coerce(k, v, source) for k, v in data.items()}
    cfg = TrainConfig(**values)
    _check_ranges(cfg, source)
    return cfg


def default_config_text() -> str:
    """The documented default config shipped with the package."""
    return resources.files("phoneprice_edge.defaults").joinpath(DEFAULT_CONFIG_NAME).read_text(
        encoding="utf-8")


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error or a [table] becomes a ConfigError naming the source."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return _flat(data, source)


def _flat(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The flat keys of data (a [numerics] record is skipped); any other [table] is a ConfigError."""
    data = {k: v for k, v in data.items() if not (k == NUMERICS_TABLE and isinstance(v, dict))}
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"{source}: unknown config key {nested[0]!r} (the config is flat: "
                          f"no [tables])")
    return data


def load_train_config(path: str | Path | None = None) -> TrainConfig:
    """The package default, updated by the keys in `path` (if given)."""
    base = from_mapping(parse_toml(default_config_text(), "defaults/train.toml"),
                        "defaults/train.toml")
    if path is None:
        return base
    data = _flat(read_toml(path, "config file"), str(path))
    return from_mapping({**base.to_dict(), **data}, str(path))


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one `--set KEY=VALUE` (VALUE in TOML syntax; bare words are strings)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if key not in _TYPES:
        raise ConfigError(f"--set: unknown config key {key!r}")
    return key, value


def to_toml(cfg: TrainConfig, numerics: dict[str, Any] | None = None) -> str:
    """Render the config as flat TOML (every key), readable by load_train_config; then the
    [numerics] record when given (not a setting: load_train_config skips it)."""
    lines = ["# Resolved training configuration written by phoneprice_edge."]
    for key, value in cfg.to_dict().items():
        lines.append(f"{key} = {_toml_value(value)}")
    if numerics:
        lines += ["", "# The CPU numerics this run was trained under: a record, not a setting (the",
                  "# environment variable PE_NUMERICS chooses it; docs/reproducibility.md).",
                  f"[{NUMERICS_TABLE}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in numerics.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {type(value).__name__} to TOML")


def save_train_config(cfg: TrainConfig, path: str | Path,
                      numerics: dict[str, Any] | None = None) -> Path:
    """Write the resolved config (and the [numerics] record, when given) atomically."""
    return atomic_write_text(path, to_toml(cfg, numerics))


def load_numerics_record(path: str | Path) -> dict[str, Any] | None:
    """The [numerics] record of a run's config.toml; None where it has none (older runs)."""
    record = read_toml(path, "config file").get(NUMERICS_TABLE)
    return record if isinstance(record, dict) else None
