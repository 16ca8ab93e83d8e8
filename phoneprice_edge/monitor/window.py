"""Read a live window of traffic from a prediction log (SQL URL, SQLite file, JSONL) or a raw table."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.monitor.store import read_sql_log
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.serve.hooks import JSONL_FORMAT

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_REL = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class LiveWindow:
    """Rows of live traffic in schema feature order; prediction fields are None for a raw table."""

    X: np.ndarray                      # float64 [n, F], NaN where missing or unparsable
    ts: np.ndarray | None = None       # float64 [n] unix seconds
    request_id: np.ndarray | None = None
    row: np.ndarray | None = None
    predicted: np.ndarray | None = None
    labels: np.ndarray | None = None   # true labels when the table carries the label column
    source: str = ""

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def parse_since(value: str, now: float | None = None) -> float:
    """Unix seconds from '1700000000', an ISO date/time, or a relative age such as '30m', '2h', '1d'."""
    v = value.strip()
    m = _REL.match(v)
    if m:
        return (now or time.time()) - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(v)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise UsageError(f"--since {value!r}: use unix seconds, an ISO date/time or an age like 2h") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _features_from_lists(values: list[Any], schema: FeatureSchema, source: str) -> np.ndarray:
    f = schema.n_features
    out = np.full((len(values), f), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, dict):
            v = [v.get(name) for name in schema.feature_names]
        if not isinstance(v, list | tuple) or len(v) != f:
            raise DataError(f"{source}: record {i + 1}: 'features' must hold {f} values in schema order")
        out[i] = [np.nan if x is None else x for x in v]
    return out


def _explode(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per row: serve's JSONL sink writes one line per batch (features [[...], ...])."""
    out: list[dict[str, Any]] = []
    for r in recs:
        feats = r.get("features")
        if isinstance(feats, list) and feats and isinstance(feats[0], list):
            preds = r.get("predicted") or [None] * len(feats)
            for i, (f, p) in enumerate(zip(feats, preds, strict=False)):
                out.append({**r, "features": f, "predicted": p, "row": i})
        else:
            out.append(r)
    return out


def _from_records(recs: list[dict[str, Any]], schema: FeatureSchema, source: str) -> LiveWindow:
    recs = _explode(recs)
    X = _features_from_lists([r["features"] for r in recs], schema, source)
    def col(key: str, dtype: Any) -> np.ndarray | None:
        if not recs or key not in recs[0]:
            return None
        return np.asarray([r.get(key) for r in recs], dtype=dtype)
    labels = col("label", np.float64)
    return LiveWindow(X=X, ts=col("ts", np.float64) if recs and "ts" in recs[0] else col("timestamp", np.float64),
                      request_id=col("request_id", object), row=col("row", np.int64),
                      predicted=col("predicted", np.int64),
                      labels=None if labels is None else labels.astype(np.int64), source=source)


def _from_table(df: pd.DataFrame, schema: FeatureSchema, source: str) -> LiveWindow:
    missing = [n for n in schema.feature_names if n not in df.columns]
    if missing:
        raise DataError(f"{source}: missing feature column(s): {', '.join(missing)}")
    X = np.column_stack([pd.to_numeric(df[n], errors="coerce").to_numpy(np.float64)
                         for n in schema.feature_names]) if len(df) else np.zeros((0, schema.n_features))
    labels = None
    if schema.label in df.columns:
        y = pd.to_numeric(df[schema.label], errors="coerce")
        if y.isna().any():
            raise DataError(f"{source}: label column {schema.label!r} has missing or non-numeric values")
        labels = y.to_numpy(np.int64)
    ts = df["ts"].to_numpy(np.float64) if "ts" in df.columns else None
    return LiveWindow(X=X, ts=ts, labels=labels, source=source)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    recs = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {i}: not valid JSON ({exc.msg})") from None
                stamp = rec.get("format") if isinstance(rec, dict) else None
                if stamp is not None and stamp != JSONL_FORMAT:
                    raise DataError(f"{path}: line {i}: prediction log format {stamp!r}, this "
                                    f"version reads {JSONL_FORMAT!r}")
                recs.append(rec)
    return recs


def _select(w: LiveWindow, window: int | None, since: float | None) -> LiveWindow:
    keep = np.ones(w.n, dtype=bool)
    if since is not None:
        if w.ts is None:
            raise UsageError(f"{w.source}: --since needs a timestamp column ('ts'); this table has none")
        keep &= w.ts >= since
    idx = np.flatnonzero(keep)
    if window is not None:
        idx = idx[-window:]
    pick = lambda a: None if a is None else a[idx]  # noqa: E731
    return LiveWindow(X=w.X[idx], ts=pick(w.ts), request_id=pick(w.request_id), row=pick(w.row),
                      predicted=pick(w.predicted), labels=pick(w.labels), source=w.source)


def read_window(source: str | Path, schema: FeatureSchema, *, window: int | None = None,
                since: float | None = None) -> LiveWindow:
    """The last `window` rows (and/or rows since `since`) of a log or a raw feature table."""
    if window is not None and window < 1:
        raise UsageError(f"--window must be >= 1, got {window}")
    s = str(source)
    path = Path(s)
    if "://" in s or path.suffix.lower() in SQLITE_SUFFIXES:
        recs = read_sql_log(s, window=window, since=since)
        return _from_records(recs, schema, s)
    if not path.is_file():
        raise DataError(f"{s}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        recs = _read_jsonl(path)
        if recs and "features" in recs[0]:
            w = _from_records(recs, schema, s)
        else:
            w = _from_table(pd.DataFrame.from_records(recs), schema, s)
    elif suffix == ".csv":
        w = _from_table(_read_csv(path), schema, s)
    elif suffix in (".parquet", ".pq"):
        w = _from_table(pd.read_parquet(path), schema, s)
    else:
        raise UsageError(f"{s}: unknown log format (use a SQLAlchemy URL, .db/.sqlite, .jsonl, .csv or .parquet)")
    return _select(w, window, since)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
