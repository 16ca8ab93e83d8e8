"""Schema inference for any table: numeric columns become features, the label's values the classes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from phoneprice_edge.errors import DataError
from phoneprice_edge.schema import FeatureSchema, FeatureSpec, Kind

# A column counts as numeric (a feature) when at least this share of its non-missing cells parse
# as numbers; the rest are then reported cell by cell as non-numeric values by the validation.
NUMERIC_SHARE = 0.5


def label_str(value: Any) -> str | None:
    """The class name of one label cell: 1, 1.0 and "1" all give "1"; None/NaN give None."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text or None


def to_numeric(col: pd.Series) -> pd.Series:
    """float64 values of a column; cells that are not numbers become NaN (empty strings too)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return pd.to_numeric(col, errors="coerce").astype("float64")
    stripped = col.map(lambda v: v.strip() if isinstance(v, str) else v)
    stripped = stripped.map(lambda v: float(v) if isinstance(v, bool) else v)
    return pd.to_numeric(stripped.replace("", np.nan), errors="coerce").astype("float64")


def is_numeric_column(col: pd.Series) -> bool:
    """True when the column is numeric, or mostly numeric cells (so bad cells get reported)."""
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return True
    present = int(col.notna().sum())
    parsed = int(to_numeric(col).notna().sum())
    return present > 0 and parsed / present >= NUMERIC_SHARE


def sorted_classes(values: list[str]) -> tuple[str, ...]:
    """Distinct class names, numerically sorted when all are numbers, else as strings."""
    distinct = set(values)
    try:
        return tuple(sorted(distinct, key=float))
    except ValueError:
        return tuple(sorted(distinct))


def infer_schema(df: pd.DataFrame, label: str, source: str = "") -> FeatureSchema:
    """A schema for any table: every numeric column but the label is a feature (kind and range
    from its values, in table order); the classes are the sorted distinct label values."""
    where = source or "<table>"
    if label not in df.columns:
        cols = ", ".join(map(str, df.columns)) or "none"
        raise DataError(f"{where}: label column {label!r} not found (columns: {cols})")
    if len(df) == 0:
        raise DataError(f"{where}: the table has no data rows; cannot infer a schema")
    features, ignored = [], []
    for name in df.columns:
        if name == label:
            continue
        col = df[name]
        if isinstance(col, pd.DataFrame):
            raise DataError(f"{where}: duplicated column name {name!r}")
        if is_numeric_column(col):
            features.append(_infer_feature(str(name), col))
        else:
            ignored.append(str(name))
    if not features:
        raise DataError(f"{where}: no numeric feature columns besides the label {label!r}")
    names = [s for s in (label_str(v) for v in df[label].tolist()) if s is not None]
    classes = sorted_classes(names)
    if len(classes) < 2:
        raise DataError(f"{where}: label column {label!r} has {len(classes)} distinct value(s); "
                        "a classifier needs at least 2")
    return FeatureSchema(features=tuple(features), label=str(label), classes=classes,
                         meta={"name": "inferred", "source": where, "ignored_columns": ignored})


def _infer_feature(name: str, col: pd.Series) -> FeatureSpec:
    vals = to_numeric(col).to_numpy()
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        return FeatureSpec(name, "float", None, None)
    integral = bool(np.all(finite == np.round(finite)))
    kind: Kind = "float"
    if integral and set(np.unique(finite).tolist()) <= {0.0, 1.0}:
        return FeatureSpec(name, "binary", 0.0, 1.0)
    if integral:
        kind = "integer"
    return FeatureSpec(name, kind, float(finite.min()), float(finite.max()))
