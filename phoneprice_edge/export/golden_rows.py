"""Golden rows for an export (build side): validation or schema-drawn inputs, the PyTorch
checkpoint's logits for them, and the precision's tolerance derived from the profile's parity
tolerance; written to golden.bin (format: phoneprice_edge/golden.py, cpp_runtime/FORMAT.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge import golden
from phoneprice_edge.errors import UsageError
from phoneprice_edge.export.profile import ExportProfile
from phoneprice_edge.schema import FeatureSchema

SOURCES = ("validation", "schema")
DEFAULT_ROWS = 256


@dataclass(frozen=True)
class GoldenOptions:
    """How many golden rows an export writes (0: none) and where they come from."""

    rows: int = DEFAULT_ROWS
    source: str = "validation"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.rows <= golden.MAX_ROWS:
            raise UsageError(f"--golden-rows must be 0..{golden.MAX_ROWS}, got {self.rows}")
        if self.source not in SOURCES:
            raise UsageError(f"--golden-source must be one of {', '.join(SOURCES)}, "
                             f"got {self.source!r}")


CONFIDENCE = 0.999  # a floor a passing artifact misses on 1 golden-row sample in 1000


def agreement_floor(min_top1: float, rows: int, confidence: float = CONFIDENCE) -> float:
    """The top-1 floor for `rows` golden rows consistent with the profile's population floor:
    1 - k/rows, k the `confidence` quantile of Binomial(rows, 1 - min_top1) disagreements (an
    artifact with exactly the profile's worst allowed disagreement rate passes on 99.9% of
    samples; 1.0 stays 1.0). 256 rows: 0.995 -> 0.9766 (6 rows), 0.99 -> 0.9648 (9 rows)."""
    p = 1.0 - min_top1
    if p <= 0 or rows == 0:
        return float(min_top1)
    cdf, k = 0.0, 0
    while k <= rows:
        cdf += math.comb(rows, k) * p ** k * (1 - p) ** (rows - k)
        if cdf >= confidence:
            break
        k += 1
    return 1.0 - k / rows


def golden_tolerance(profile: ExportProfile, rows: int) -> golden.Tolerance:
    """The profile's parity tolerance as a golden-row tolerance: fp32/fp16 keep its elementwise
    max_abs (and max_rel) bound; int8 (max_abs unset) has none (abs_tol=inf); the top-1 floor is
    agreement_floor of the profile's for this many rows."""
    t = profile.tolerance
    floor = agreement_floor(float(t.min_top1_agreement), rows)
    if t.max_abs is None:
        return golden.Tolerance(math.inf, 0.0, floor)
    return golden.Tolerance(float(t.max_abs), float(t.max_rel or 0.0), floor)


def schema_rows(schema: FeatureSchema, n: int, seed: int) -> np.ndarray:
    """n rows drawn uniformly inside each feature's [min, max] (integers rounded, binary 0/1);
    a feature without a range uses the scaler's mean +- 3 std."""
    rng = np.random.default_rng(seed)
    cols = []
    for i, f in enumerate(schema.features):
        lo, hi = f.min, f.max
        if lo is None or hi is None:
            if schema.scaler_mean is None or schema.scaler_std is None:
                raise UsageError(f"feature {f.name!r} has no range and the schema no scaler "
                                 f"statistics: use --golden-source validation")
            m, s = schema.scaler_mean[i], schema.scaler_std[i]
            lo = m - 3 * s if lo is None else lo
            hi = m + 3 * s if hi is None else hi
        col = rng.uniform(lo, hi, n)
        if f.kind in ("integer", "binary"):
            col = np.clip(np.rint(col), math.ceil(lo), math.floor(hi))
        cols.append(col)
    return np.ascontiguousarray(np.stack(cols, axis=1), dtype=np.float32)


def golden_inputs(opts: GoldenOptions, schema: FeatureSchema, val_x: np.ndarray) -> np.ndarray:
    """The rows: the first opts.rows validation rows, or schema-drawn ones."""
    if opts.source == "schema":
        return schema_rows(schema, opts.rows, opts.seed)
    return np.ascontiguousarray(val_x[: opts.rows], dtype=np.float32)


def reference_logits(model: Any, x: np.ndarray) -> np.ndarray:
    """The eager checkpoint's float32 logits for x (eval mode, no grad)."""
    import torch

    with torch.inference_mode():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(x))).float().numpy()


def write_golden(out_dir: Path, opts: GoldenOptions, model: Any, schema: FeatureSchema,
                 profile: ExportProfile, val_x: np.ndarray) -> dict[str, Any] | None:
    """Write out_dir/golden.bin; return the manifest's `golden` record (None for 0 rows)."""
    if opts.rows == 0:
        return None
    x = golden_inputs(opts, schema, val_x)
    tol = golden_tolerance(profile, len(x))
    golden.write(out_dir / golden.GOLDEN_FILE, golden.Golden(x, reference_logits(model, x), tol))
    return {"file": golden.GOLDEN_FILE, "source": opts.source, "rows": int(len(x)),
            "seed": opts.seed if opts.source == "schema" else None,
            "tolerance": {"abs_tol": None if math.isinf(tol.abs_tol) else tol.abs_tol,
                          "rel_tol": tol.rel_tol, "min_top1": tol.min_top1}}
