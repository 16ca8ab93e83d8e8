"""The built-in phone-like data set: deterministic from its seed, shaped like the public table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from phoneprice_edge.errors import UsageError
from phoneprice_edge.schema import PHONE_SCHEMA

# Weights of the standardised columns in the price score (ram dominates, as in the real table).
SCORE_WEIGHTS: dict[str, float] = {
    "ram": 1.0, "battery_power": 0.251, "px_height": 0.154, "px_width": 0.145, "mobile_wt": -0.044,
}
SCORE_NOISE = 0.025
N_CLASSES = 4
PX_HEIGHT_MAX = 1960  # the schema's bound (and the real table's maximum)


def _uniform_int(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """Integers uniform in the closed range [lo, hi]."""
    return rng.integers(lo, hi + 1, size=n, dtype=np.int64)


def _tenths(x: np.ndarray) -> np.ndarray:
    """Round to one decimal so that each value is the double nearest k/10 (prints as 2.2, not 2.2000000000000002)."""
    return np.rint(x * 10.0) / 10.0


def _features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The 20 feature columns, drawn in a fixed order (the order is part of the determinism)."""
    c: dict[str, np.ndarray] = {}
    c["battery_power"] = _uniform_int(rng, 501, 1998, n)
    c["blue"] = (rng.random(n) < 0.5).astype(np.int64)
    c["clock_speed"] = np.maximum(0.5, _tenths(rng.uniform(0.0, 3.0, n)))
    c["dual_sim"] = (rng.random(n) < 0.5).astype(np.int64)
    c["pc"] = _uniform_int(rng, 0, 20, n)
    c["fc"] = np.minimum(np.floor(rng.random(n) * (c["pc"] + 1)).astype(np.int64), c["pc"])
    c["four_g"] = (rng.random(n) < 0.52).astype(np.int64)
    # four_g = 1 implies three_g = 1; among the rest half have 3G: P(three_g) = 0.52 + 0.48 * 0.5 = 0.76
    c["three_g"] = np.where(c["four_g"] == 1, 1, (rng.random(n) < 0.5).astype(np.int64))
    c["int_memory"] = _uniform_int(rng, 2, 64, n)
    c["m_dep"] = np.clip(_tenths(rng.uniform(0.0, 1.0, n)), 0.1, 1.0)
    c["mobile_wt"] = _uniform_int(rng, 80, 200, n)
    c["n_cores"] = _uniform_int(rng, 1, 8, n)
    c["px_width"] = _uniform_int(rng, 500, 1998, n)
    c["px_height"] = np.minimum(np.floor(rng.random(n) * c["px_width"]).astype(np.int64), PX_HEIGHT_MAX)
    c["ram"] = _uniform_int(rng, 256, 3998, n)
    c["sc_h"] = _uniform_int(rng, 5, 19, n)
    c["sc_w"] = np.floor(rng.random(n) * c["sc_h"]).astype(np.int64)
    c["talk_time"] = _uniform_int(rng, 2, 20, n)
    c["touch_screen"] = (rng.random(n) < 0.5).astype(np.int64)
    c["wifi"] = (rng.random(n) < 0.5).astype(np.int64)
    return c


def _z(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def price_classes(score: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Rank-based quantile cut: class = floor(rank * n_classes / n), so classes are as equal as possible."""
    n = score.size
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(score, kind="stable")] = np.arange(n)
    return (rank * n_classes) // n


def synth_phone(rows: int = 2000, seed: int = 42) -> pd.DataFrame:
    """A phone-like table of `rows` rows: the 20 PHONE_SCHEMA features in order, then price_range."""
    if int(rows) < N_CLASSES:
        raise UsageError(f"synth needs at least {N_CLASSES} rows (one per class), got {rows}")
    n = int(rows)
    rng = np.random.default_rng(int(seed))
    cols = _features(rng, n)
    score = sum(w * _z(cols[name].astype(np.float64)) for name, w in SCORE_WEIGHTS.items())
    score = score + rng.normal(0.0, SCORE_NOISE, n)
    df = pd.DataFrame({name: cols[name] for name in PHONE_SCHEMA.feature_names})
    df[PHONE_SCHEMA.label] = price_classes(score)
    return df
