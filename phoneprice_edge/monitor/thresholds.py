"""Drift thresholds: defaults, TOML loading (unknown key -> ConfigError) and validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import ConfigError
from phoneprice_edge.io_utils import read_toml

CORRECTIONS = ("bonferroni", "none")
REQUIRES = ("both", "either", "psi", "ks")
PRED_REFERENCES = ("predicted", "true")


@dataclass(frozen=True)
class DriftThresholds:
    """When `pe-monitor drift` raises an alarm (exit 3). Every key may appear in a TOML file.

    A feature drifts when its PSI exceeds `psi` and/or (per `require`) its two-sample KS p-value is
    below `ks_alpha` — divided by the number of tests (features + 1 for predictions) under
    `correction = "bonferroni"`, so that `ks_alpha` is the family-wise false-alarm rate.
    """

    bins: int = 10                         # quantile bins per continuous feature for PSI
    max_categories: int = 25               # features with <= this many distinct values are binned by value
    psi: float = 0.2                       # feature PSI alarm level (0.1 watch, 0.2 significant)
    ks_alpha: float = 0.05                 # family-wise significance for the KS tests
    correction: str = "bonferroni"         # bonferroni | none
    require: str = "both"                  # both (PSI and KS) | either | psi | ks
    prediction_psi: float = 0.2            # predicted-class PSI alarm level
    prediction_alpha: float = 0.05         # chi-square alpha for the class mix (same correction)
    prediction_reference: str = "predicted"  # predicted (model on train.npz) | true (train labels)
    max_missing_rate: float = 0.01         # share of rows with a missing / non-numeric feature
    max_out_of_range_rate: float = 0.01    # share of rows with a value outside the schema range
    min_rows: int = 30                     # smaller windows are refused (no verdict)
    max_accuracy_drop: float = 0.05        # with feedback: live accuracy below run accuracy - this
    feedback_bucket_s: float = 3600.0      # with feedback: width of the accuracy-per-time windows

    def __post_init__(self) -> None:
        for name, low in (("bins", 2), ("max_categories", 1), ("min_rows", 1)):
            if int(getattr(self, name)) < low:
                raise ConfigError(f"thresholds: {name} must be an integer >= {low}, got {getattr(self, name)}")
        for name in ("psi", "prediction_psi", "feedback_bucket_s"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"thresholds: {name} must be > 0, got {getattr(self, name)}")
        for name in ("ks_alpha", "prediction_alpha", "max_missing_rate", "max_out_of_range_rate",
                     "max_accuracy_drop"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"thresholds: {name} must be in [0, 1], got {getattr(self, name)}")
        for name, allowed in (("correction", CORRECTIONS), ("require", REQUIRES),
                              ("prediction_reference", PRED_REFERENCES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"thresholds: {name} must be one of {', '.join(allowed)}, "
                                  f"got {getattr(self, name)!r}")

    def n_tests(self, n_features: int) -> int:
        return n_features + 1 if self.correction == "bonferroni" else 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def thresholds_from_dict(d: dict[str, Any], source: str = "thresholds") -> DriftThresholds:
    """Build thresholds from a mapping; an unknown key or a wrong type is a ConfigError."""
    d = dict(d.get("drift", d)) if isinstance(d.get("drift"), dict) else dict(d)
    known = {f.name: f for f in fields(DriftThresholds)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(known)})")
    base = DriftThresholds()
    out: dict[str, Any] = {}
    for k, v in d.items():
        want = type(getattr(base, k))
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or isinstance(v, bool):
            raise ConfigError(f"{source}: {k} must be {want.__name__}, got {v!r}")
        out[k] = v
    return replace(base, **out)


def load_thresholds(path: str | Path | None) -> DriftThresholds:
    """Defaults, or a TOML file (top-level keys or a [drift] table) over the defaults."""
    if path is None:
        return DriftThresholds()
    return thresholds_from_dict(read_toml(path, "thresholds file"), source=str(path))
