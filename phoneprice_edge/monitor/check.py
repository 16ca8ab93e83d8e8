"""One drift check end to end: read the window, load the reference, compute, join feedback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phoneprice_edge.errors import DataError
from phoneprice_edge.monitor.drift import compute_drift, feedback_verdict
from phoneprice_edge.monitor.reference import load_reference, predict_classes
from phoneprice_edge.monitor.thresholds import DriftThresholds
from phoneprice_edge.monitor.window import LiveWindow, read_window
from phoneprice_edge.schema import FeatureSchema


def read_feedback(path: str | Path, schema: FeatureSchema) -> pd.DataFrame:
    """A table of request_id, optional row (default 0) and the true label (schema label or 'label')."""
    from phoneprice_edge.data import read_table
    df = read_table(path)
    label = schema.label if schema.label in df.columns else "label"
    if "request_id" not in df.columns or label not in df.columns:
        raise DataError(f"{path}: feedback needs columns request_id and {schema.label} (or label)")
    y = pd.to_numeric(df[label], errors="coerce")
    if y.isna().any():
        raise DataError(f"{path}: feedback label column {label!r} has missing or non-numeric values")
    row = (pd.to_numeric(df["row"], errors="coerce").fillna(0) if "row" in df.columns
           else pd.Series(0, index=df.index))
    return pd.DataFrame({"request_id": df["request_id"].astype(str), "row": row.astype(np.int64),
                         "label": y.astype(np.int64)})


def join_feedback(live: LiveWindow, fb: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the window that have feedback, and their true labels."""
    if live.request_id is None:
        raise DataError(f"{live.source}: feedback needs a prediction log with request ids")
    rows = live.row if live.row is not None else np.zeros(live.n, dtype=np.int64)
    keys = pd.DataFrame({"request_id": live.request_id.astype(str), "row": rows, "pos": np.arange(live.n)})
    m = keys.merge(fb.drop_duplicates(["request_id", "row"], keep="last"), on=["request_id", "row"])
    return m["pos"].to_numpy(np.int64), m["label"].to_numpy(np.int64)


def _run_accuracy(run_dir: Path) -> float | None:
    try:
        v = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("accuracy")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return float(v) if isinstance(v, int | float) else None


def drift_check(run_dir: str | Path, log: str | Path, thresholds: DriftThresholds | None = None, *,
                window: int | None = None, since: float | None = None,
                feedback: str | Path | None = None) -> dict[str, Any]:
    """The drift verdict of a live window against RUN_DIR's training reference (+ feedback accuracy)."""
    run_dir = Path(run_dir)
    t = thresholds or DriftThresholds()
    schema = FeatureSchema.load(run_dir / "schema.json")
    live = read_window(log, schema, window=window, since=since)
    ref = load_reference(run_dir, bins=t.bins, max_categories=t.max_categories)
    predicted = live.predicted
    if predicted is None:  # a raw feature table: predict with the run's model
        predicted = predict_classes(run_dir, np.asarray(live.X, np.float32).astype(np.float64))
    result = compute_drift(ref, schema, live.X, predicted, t)
    result["source"] = str(log)
    result["run_dir"] = str(run_dir)
    if live.ts is not None and live.n:
        result["window"] = {"first_ts": float(np.nanmin(live.ts)), "last_ts": float(np.nanmax(live.ts))}
    pos, labels = None, None
    if feedback is not None:
        pos, labels = join_feedback(live, read_feedback(feedback, schema))
    elif live.labels is not None:
        pos, labels = np.arange(live.n), live.labels
    if pos is not None and predicted is not None:
        ok = predicted[pos] >= 0
        ts = None if live.ts is None else live.ts[pos][ok]
        fb = feedback_verdict(ts, labels[ok], predicted[pos][ok], _run_accuracy(run_dir), t)
        result["feedback"] = fb
        if fb["alarm"]:
            result["alarm"] = True
            result["reasons"].append(f"accuracy on feedback {fb['accuracy']:.3f} is more than "
                                     f"{t.max_accuracy_drop} below the run's {fb['run_accuracy']:.3f}")
    return result
