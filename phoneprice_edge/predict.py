"""Batch prediction of a whole table with an export folder or a running server: read, check,
predict in chunks, write."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from phoneprice_edge.errors import DataError, InputError, UsageError
from phoneprice_edge.schema import FeatureSchema

CARRY_COLUMNS: tuple[str, ...] = ("id",)


@dataclass
class PredictSummary:
    """What predict_file did: rows, output path, model id, class counts, data warnings."""

    rows: int
    out: Path
    model_id: str
    class_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


class Predictor(Protocol):
    """What predict_file needs of a model: a local ServedModel or a serve.client.PredictClient."""

    schema: FeatureSchema
    model_id: str

    @property
    def classes(self) -> list[str]: ...

    def close(self) -> None: ...


def predict_frame(model: Any, x: np.ndarray, chunk_size: int,
                  progress: Callable[[int], None] | None = None,
                  source: str = "<rows>") -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, C] and class indices [N] of x, chunk_size rows per backend call (or per
    request, for a PredictClient, whose errors then name the row in x); InputError when the
    model's output for a row is not finite."""
    # a PredictClient exists only once serve.client (httpx) is imported: the device install has no httpx
    client = sys.modules.get("phoneprice_edge.serve.client")
    remote = client is not None and isinstance(model, client.PredictClient)
    n = x.shape[0]
    probs = np.empty((n, len(model.classes)), dtype=np.float32)
    idx = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        chunk = np.ascontiguousarray(x[start:stop])
        probs[start:stop], idx[start:stop] = (model.predict(chunk, first_row=start) if remote
                                              else model.predict(chunk))
        _check_finite(probs[start:stop], start, source)
        if progress is not None:
            progress(stop - start)
    return probs, idx


def _check_finite(probs: np.ndarray, offset: int, source: str) -> None:
    """InputError naming the data rows whose probabilities are not finite (never written)."""
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        from phoneprice_edge.data.validate import rows_text

        raise InputError(f"{source}: the model's output is not finite for {rows_text(bad, offset)} (values "
                         "too large for the network's float32 arithmetic?); nothing written")


def output_frame(df: pd.DataFrame, probs: np.ndarray, idx: np.ndarray, classes: Sequence[str],
                 carry: Sequence[str] = CARRY_COLUMNS) -> pd.DataFrame:
    """The carried columns (e.g. id), then predicted_class, predicted_label, prob_<class>..."""
    out = pd.DataFrame({c: df[c].to_numpy() for c in carry if c in df.columns})
    out["predicted_class"] = idx
    out["predicted_label"] = np.asarray(classes, dtype=object)[idx]
    for k, name in enumerate(classes):
        out[f"prob_{name}"] = probs[:, k]
    return out


def predict_file(artifact_dir: str | os.PathLike[str] | None, data: str | os.PathLike[str],
                 out: str | os.PathLike[str], *, chunk_size: int = 8192, device: str = "cpu",
                 fmt: str | None = None, carry: Sequence[str] = CARRY_COLUMNS,
                 impute: str = "none", strict: bool = False,
                 progress: Callable[[int], None] | None = None,
                 url: str | None = None,
                 verify_key: str | os.PathLike[str] | None = None) -> PredictSummary:
    """Predict every row of data (CSV, Parquet, JSON, JSONL) and write out atomically (format by
    extension). Columns in carry (default `id`) are copied through; other extra columns ignored.
    verify_key (else $PE_VERIFY_KEY): refuse an artifact not signed by that Ed25519 key.

    With url (and no artifact_dir) the rows go to a running pe-serve as binary float32 requests
    of at most chunk_size rows (and the server's limits); the server's schema checks them first."""
    from phoneprice_edge.data import read_table
    from phoneprice_edge.data.ingest import output_format

    if (artifact_dir is None) == (url is None):
        raise UsageError("give exactly one of --artifact EXPORT_DIR or --url SERVER")
    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be >= 1, got {chunk_size}")
    output_format(out, "--out")
    df = read_table(data, fmt)
    if len(df) == 0:
        raise DataError(f"{data}: no rows to predict")
    model = _open(artifact_dir, url, device, verify_key)
    try:
        if url is not None:
            chunk_size = min(chunk_size, model.max_rows)  # type: ignore[attr-defined]
        return _predict(model, df, out, str(data), chunk_size, carry, impute, strict, progress)
    finally:
        model.close()


def _open(artifact_dir: str | os.PathLike[str] | None, url: str | None, device: str,
          verify_key: str | os.PathLike[str] | None = None) -> Any:
    if url is not None:
        from phoneprice_edge.serve.client import PredictClient

        return PredictClient(url)
    from phoneprice_edge.serve.model import load_served_model

    assert artifact_dir is not None
    return load_served_model(artifact_dir, device=device, verify_key=verify_key)


def _predict(model: Predictor, df: pd.DataFrame, out: str | os.PathLike[str], source: str,
             chunk_size: int, carry: Sequence[str], impute: str, strict: bool,
             progress: Callable[[int], None] | None) -> PredictSummary:
    from phoneprice_edge.data import write_table
    from phoneprice_edge.data.validate import prepare_unlabelled

    dropped = [c for c in carry if c in df.columns and c not in model.schema.feature_names]
    ds = prepare_unlabelled(df.drop(columns=dropped), model.schema, impute=impute,
                            strict=strict, source=source)
    probs, idx = predict_frame(model, ds.X, chunk_size, progress, source=source)
    frame = output_frame(df, probs, idx, model.classes, carry)
    path = write_table(frame, out)
    counts = np.bincount(idx, minlength=len(model.classes))
    return PredictSummary(rows=len(frame), out=path, model_id=model.model_id,
                          class_counts={c: int(n) for c, n in zip(model.classes, counts,
                                                                  strict=True)},
                          warnings=list(ds.warnings))
