"""Batch prediction of a whole table with an export folder: read, check, predict in chunks, write."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from phoneprice_edge.errors import DataError, UsageError

CARRY_COLUMNS: tuple[str, ...] = ("id",)


@dataclass
class PredictSummary:
    """What predict_file did: rows, output path, model id, class counts, data warnings."""

    rows: int
    out: Path
    model_id: str
    class_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def predict_frame(model: object, x: np.ndarray, chunk_size: int,
                  progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, C] and class indices [N] of x, chunk_size rows per backend call."""
    from phoneprice_edge.serve.model import ServedModel

    assert isinstance(model, ServedModel)
    n = x.shape[0]
    probs = np.empty((n, len(model.classes)), dtype=np.float32)
    idx = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        probs[start:stop], idx[start:stop] = model.predict(np.ascontiguousarray(x[start:stop]))
        if progress is not None:
            progress(stop - start)
    return probs, idx


def output_frame(df: pd.DataFrame, probs: np.ndarray, idx: np.ndarray, classes: Sequence[str],
                 carry: Sequence[str] = CARRY_COLUMNS) -> pd.DataFrame:
    """The carried columns (e.g. id), then predicted_class, predicted_label, prob_<class>..."""
    out = pd.DataFrame({c: df[c].to_numpy() for c in carry if c in df.columns})
    out["predicted_class"] = idx
    out["predicted_label"] = np.asarray(classes, dtype=object)[idx]
    for k, name in enumerate(classes):
        out[f"prob_{name}"] = probs[:, k]
    return out


def predict_file(artifact_dir: str | os.PathLike[str], data: str | os.PathLike[str],
                 out: str | os.PathLike[str], *, chunk_size: int = 8192, device: str = "cpu",
                 fmt: str | None = None, carry: Sequence[str] = CARRY_COLUMNS,
                 impute: str = "none", strict: bool = False,
                 progress: Callable[[int], None] | None = None,
                 verify_key: str | os.PathLike[str] | None = None) -> PredictSummary:
    """Predict every row of data (CSV, Parquet, JSON, JSONL) and write out atomically (format by
    extension). Columns in carry (default `id`) are copied through; other extra columns ignored.
    verify_key (else $PE_VERIFY_KEY): refuse an artifact not signed by that Ed25519 key."""
    from phoneprice_edge.data import read_table, write_table
    from phoneprice_edge.data.ingest import detect_format
    from phoneprice_edge.data.validate import prepare_unlabelled
    from phoneprice_edge.serve.model import load_served_model

    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be >= 1, got {chunk_size}")
    if detect_format(out) == "sql":
        raise UsageError(f"{out}: output must be .csv, .parquet, .json or .jsonl")
    df = read_table(data, fmt)
    if len(df) == 0:
        raise DataError(f"{data}: no rows to predict")
    model = load_served_model(artifact_dir, device=device, verify_key=verify_key)
    try:
        dropped = [c for c in carry if c in df.columns and c not in model.schema.feature_names]
        ds = prepare_unlabelled(df.drop(columns=dropped), model.schema, impute=impute,
                                strict=strict, source=str(data))
        probs, idx = predict_frame(model, ds.X, chunk_size, progress)
        frame = output_frame(df, probs, idx, model.classes, carry)
        path = write_table(frame, out)
        counts = np.bincount(idx, minlength=len(model.classes))
        return PredictSummary(rows=len(frame), out=path, model_id=model.model_id,
                              class_counts={c: int(n) for c, n in zip(model.classes, counts,
                                                                      strict=True)},
                              warnings=list(ds.warnings))
    finally:
        model.close()
