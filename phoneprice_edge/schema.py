"""Feature schema: ordered features with kinds and ranges, the label and its classes, scaler stats."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from phoneprice_edge.errors import SchemaError
from phoneprice_edge.io_utils import atomic_write_json

Kind = Literal["integer", "float", "binary"]
KINDS: tuple[str, ...] = ("integer", "float", "binary")
SCHEMA_FORMAT = "phoneprice_edge.schema/1"


@dataclass(frozen=True)
class FeatureSpec:
    """One input column: its name, kind and allowed closed range (None = unbounded)."""

    name: str
    kind: Kind = "float"
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class FeatureSchema:
    """Everything an artifact or a data check needs to know about the table, in feature order."""

    features: tuple[FeatureSpec, ...]
    label: str
    classes: tuple[str, ...]
    scaler_mean: tuple[float, ...] | None = None
    scaler_std: tuple[float, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if not names:
            raise SchemaError("schema has no features")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SchemaError(f"schema lists feature(s) more than once: {', '.join(dup)}")
        if self.label in names:
            raise SchemaError(f"label column {self.label!r} is also listed as a feature")
        if len(self.classes) < 2:
            raise SchemaError(f"label {self.label!r} needs at least 2 classes, got {len(self.classes)}")
        if len(set(self.classes)) != len(self.classes):
            raise SchemaError("class names must be unique")
        for f in self.features:
            if f.kind not in KINDS:
                raise SchemaError(f"feature {f.name!r}: unknown kind {f.kind!r} (use {', '.join(KINDS)})")
        for stat_name, stat in (("scaler_mean", self.scaler_mean), ("scaler_std", self.scaler_std)):
            if stat is not None and len(stat) != len(self.features):
                raise SchemaError(f"{stat_name} has {len(stat)} values for {len(self.features)} features")
        if self.scaler_std is not None and any(not (s > 0 and math.isfinite(s)) for s in self.scaler_std):
            raise SchemaError("scaler_std must be finite and > 0")

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature lower and upper limits as float64 arrays (-inf/inf where none is set)."""
        lo = np.array([-math.inf if f.min is None else f.min for f in self.features], dtype=np.float64)
        hi = np.array([math.inf if f.max is None else f.max for f in self.features], dtype=np.float64)
        return lo, hi

    def with_scaler(self, mean: Any, std: Any) -> FeatureSchema:
        """Return a copy holding standardisation statistics (fitted on the training split)."""
        return replace(self, scaler_mean=tuple(float(v) for v in mean),
                       scaler_std=tuple(float(v) for v in std))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SCHEMA_FORMAT,
            "features": [f.to_dict() for f in self.features],
            "label": self.label,
            "classes": list(self.classes),
            "scaler": None if self.scaler_mean is None else
            {"mean": list(self.scaler_mean), "std": list(self.scaler_std or ())},
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "schema") -> FeatureSchema:
        try:
            feats = tuple(
                FeatureSpec(name=str(f["name"]), kind=f.get("kind", "float"),
                            min=_opt_float(f.get("min")), max=_opt_float(f.get("max")))
                for f in d["features"]
            )
            scaler = d.get("scaler")
            return cls(
                features=feats,
                label=str(d["label"]),
                classes=tuple(str(c) for c in d["classes"]),
                scaler_mean=tuple(map(float, scaler["mean"])) if scaler else None,
                scaler_std=tuple(map(float, scaler["std"])) if scaler else None,
                meta=dict(d.get("meta") or {}),
            )
        except SchemaError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{source}: malformed schema ({type(exc).__name__}: {exc})") from None

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> FeatureSchema:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SchemaError(f"{path}: schema file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(d, dict):
            raise SchemaError(f"{path}: schema must be a JSON object")
        return cls.from_dict(d, source=str(path))


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _f(name: str, kind: Kind, lo: float, hi: float) -> FeatureSpec:
    return FeatureSpec(name, kind, lo, hi)


# The phone price-range table (columns and ranges of the public data set; see shared/data/README.md).
PHONE_SCHEMA = FeatureSchema(
    features=(
        _f("battery_power", "integer", 500, 2000),
        _f("blue", "binary", 0, 1),
        _f("clock_speed", "float", 0.5, 3.0),
        _f("dual_sim", "binary", 0, 1),
        _f("fc", "integer", 0, 20),
        _f("four_g", "binary", 0, 1),
        _f("int_memory", "integer", 2, 64),
        _f("m_dep", "float", 0.1, 1.0),
        _f("mobile_wt", "integer", 80, 200),
        _f("n_cores", "integer", 1, 8),
        _f("pc", "integer", 0, 20),
        _f("px_height", "integer", 0, 1960),
        _f("px_width", "integer", 500, 2000),
        _f("ram", "integer", 256, 4000),
        _f("sc_h", "integer", 5, 19),
        _f("sc_w", "integer", 0, 18),
        _f("talk_time", "integer", 2, 20),
        _f("three_g", "binary", 0, 1),
        _f("touch_screen", "binary", 0, 1),
        _f("wifi", "binary", 0, 1),
    ),
    label="price_range",
    classes=("0", "1", "2", "3"),
    meta={"name": "phone_price"},
)
