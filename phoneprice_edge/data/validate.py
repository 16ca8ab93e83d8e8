"""Checking a table against a feature schema and casting it to float32 features and int64 labels.

Row numbers in every message are 1-based data rows: the first row after the header is data row 1
(in a CSV file, data row N is on line N + 1).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from phoneprice_edge.data.infer import infer_schema, label_str, to_numeric
from phoneprice_edge.data.ingest import is_sql_url, read_table, safe_url
from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.schema import PHONE_SCHEMA, FeatureSchema, FeatureSpec

log = logging.getLogger("phoneprice_edge.data")
IMPUTE_CHOICES: tuple[str, ...] = ("none", "median")
_SHOW_ROWS = 5
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Dataset:
    """A checked table: X float32 [n, F] in schema order, y int64 [n] class indices (or None)."""

    X: np.ndarray
    y: np.ndarray | None
    schema: FeatureSchema
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


@dataclass
class CheckResult:
    """Everything validate_frame found: errors make the table unusable, warnings do not."""

    source: str
    schema: FeatureSchema
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    row_offset: int = 0  # rows before this frame (a chunk of a streamed table)

    @property
    def ok(self) -> bool:
        return not self.errors


def rows_text(mask: np.ndarray, offset: int = 0) -> str:
    """'data row 4' or 'data rows 4, 9, 17 (and 3 more)' for a boolean mask over positions
    (offset: rows before position 0, so a chunk of a streamed table gives global row numbers)."""
    idx = np.flatnonzero(mask) + 1 + offset
    shown = ", ".join(str(i) for i in idx[:_SHOW_ROWS])
    more = f" (and {idx.size - _SHOW_ROWS} more)" if idx.size > _SHOW_ROWS else ""
    return f"data row{'s' if idx.size > 1 else ''} {shown}{more}"


def resolve_schema(df: pd.DataFrame, schema: FeatureSchema | None, label: str | None,
                   source: str = "") -> FeatureSchema:
    """The schema to check df with: the given one; PHONE_SCHEMA when the label is None or
    price_range and at least half the phone columns are present; else inferred (label required)."""
    where = source or "<table>"
    if schema is not None:
        if label is not None and label != schema.label:
            raise UsageError(f"{where}: --label {label!r} differs from the schema's label {schema.label!r}")
        return schema
    if label in (None, PHONE_SCHEMA.label) and looks_like_phone_table(df):
        return PHONE_SCHEMA
    if label is None:
        raise UsageError(f"{where}: not the phone price table; name the label column with "
                         "--label COL (or give --schema FILE)")
    return infer_schema(df, label, source=where)


def looks_like_phone_table(df: pd.DataFrame) -> bool:
    """At least half the phone columns present: checked against PHONE_SCHEMA, so a renamed or
    missing column is reported by name instead of giving a different inferred schema."""
    cols = {str(c) for c in df.columns}
    return 2 * sum(name in cols for name in PHONE_SCHEMA.feature_names) >= PHONE_SCHEMA.n_features


def validate_frame(df: pd.DataFrame, schema: FeatureSchema, *, impute: str = "none",
                   strict: bool = False, source: str = "",
                   allow_unlabelled: bool = False, row_offset: int = 0) -> CheckResult:
    """Check df against schema, collecting every problem; X and y are set only when no error.

    row_offset: data rows that precede df (df is a chunk of a larger table): messages name
    global row numbers.
    """
    if impute not in IMPUTE_CHOICES:
        raise UsageError(f"unknown impute mode {impute!r} (use {', '.join(IMPUTE_CHOICES)})")
    res = CheckResult(source=source or "<table>", schema=schema, row_offset=row_offset)
    if not _check_shape(df, schema, res, allow_unlabelled, strict):
        return res
    columns = [_check_feature(df[f.name], f, res, impute, strict) for f in schema.features]
    y = None
    if schema.label in df.columns and not allow_unlabelled:
        y = _check_label(df[schema.label], schema, res)
    if res.errors:
        return res
    res.X = np.column_stack(columns).astype(np.float32, copy=False)
    res.y = y
    return res


def _check_shape(df: pd.DataFrame, schema: FeatureSchema, res: CheckResult,
                 allow_unlabelled: bool, strict: bool) -> bool:
    """Empty table, duplicated and missing/unexpected columns; False when nothing more can be checked."""
    w = res.source
    cols = [str(c) for c in df.columns]
    if not cols:
        res.errors.append(f"{w}: the table has no columns")
        return False
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        res.errors.append(f"{w}: duplicated column name(s): {', '.join(dup)}")
        return False
    if len(df) == 0:
        res.errors.append(f"{w}: the table has no data rows (only a header)")
    wanted = schema.feature_names
    missing = [c for c in wanted if c not in cols]
    label_missing = schema.label not in cols
    if label_missing and not allow_unlabelled:
        missing.append(schema.label)
    known = set(wanted) | {schema.label}
    unexpected = [c for c in cols if c not in known]
    if missing == [schema.label]:
        res.errors.append(f"{w}: missing label column {schema.label!r} (rows to predict? check "
                          "features only with --unlabelled)")
        return False
    if missing:
        hint = f" (the table has column(s) not in the schema: {', '.join(unexpected)})" if unexpected else ""
        res.errors.append(f"{w}: missing column(s): {', '.join(missing)}{hint}")
        return False
    if unexpected:
        msg = f"{w}: column(s) not in the schema, ignored: {', '.join(unexpected)}"
        (res.errors if strict and not allow_unlabelled else res.warnings).append(msg)
    if allow_unlabelled and not label_missing:
        res.warnings.append(f"{w}: label column {schema.label!r} ignored (features only)")
    return len(df) > 0


def _check_feature(col: pd.Series, spec: FeatureSpec, res: CheckResult, impute: str,
                   strict: bool) -> np.ndarray:
    """float64 values of one feature column, with its problems appended to res."""
    w, name = res.source, spec.name
    vals = to_numeric(col).to_numpy(dtype=np.float64, copy=True)
    raw_missing = col.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(col.dtype):  # only non-numeric columns hold blank strings
        raw_missing = raw_missing | col.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy()
    bad = np.isnan(vals) & ~raw_missing
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        res.errors.append(f"{w}: column {name!r}: non-numeric value {col.iloc[first]!r} in "
                          f"{rows_text(bad, res.row_offset)}")
    nonfinite = ~np.isfinite(vals) & ~bad
    if nonfinite.any():
        _handle_nonfinite(vals, nonfinite, spec, res, impute)
    _check_float32(vals, spec, res)
    _check_range(vals, spec, res, strict)
    return vals


def _handle_nonfinite(vals: np.ndarray, mask: np.ndarray, spec: FeatureSpec, res: CheckResult,
                      impute: str) -> None:
    """Missing/infinite cells: an error, or replaced by the column median (rounded for integer kinds)."""
    w, name = res.source, spec.name
    what = _nonfinite_kind(vals[mask])
    if impute == "none":
        res.errors.append(f"{w}: column {name!r}: {what} in {rows_text(mask, res.row_offset)}; fix the data "
                          "or pass --impute median")
        return
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        res.errors.append(f"{w}: column {name!r}: no finite value to impute the median from")
        return
    median = float(np.median(finite))
    if spec.kind in ("integer", "binary"):
        median = float(np.floor(median + 0.5))
    vals[mask] = median
    res.warnings.append(f"{w}: column {name!r}: {what} in {rows_text(mask, res.row_offset)} replaced by the "
                        f"median {median:g}")


def _check_float32(vals: np.ndarray, spec: FeatureSpec, res: CheckResult) -> None:
    """Finite values that become infinite when cast to the model's float32: always an error."""
    over = np.isfinite(vals) & (np.abs(vals) > FLOAT32_MAX)
    if over.any():
        first = int(np.flatnonzero(over)[0])
        res.errors.append(f"{res.source}: column {spec.name!r}: value {vals[first]:g} in "
                          f"{rows_text(over, res.row_offset)} overflows float32 (largest "
                          f"magnitude {FLOAT32_MAX:.7g}); fix the data")


def _nonfinite_kind(values: np.ndarray) -> str:
    n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    parts = ([f"{n_nan} missing value(s) (NaN/empty)"] if n_nan else []) + \
        ([f"{n_inf} infinite value(s)"] if n_inf else [])
    return " and ".join(parts)


def _check_range(vals: np.ndarray, spec: FeatureSpec, res: CheckResult, strict: bool) -> None:
    w, name = res.source, spec.name
    target = res.errors if strict else res.warnings
    finite = np.isfinite(vals)
    lo = -np.inf if spec.min is None else spec.min
    hi = np.inf if spec.max is None else spec.max
    out = finite & ((vals < lo) | (vals > hi))
    if out.any():
        first = int(np.flatnonzero(out)[0])
        target.append(f"{w}: column {name!r}: {int(out.sum())} value(s) outside the allowed range "
                      f"[{spec.min:g}, {spec.max:g}], e.g. {vals[first]:g} in {rows_text(out, res.row_offset)}"
                      if spec.min is not None and spec.max is not None else
                      f"{w}: column {name!r}: {int(out.sum())} value(s) outside the allowed range, "
                      f"e.g. {vals[first]:g} in {rows_text(out, res.row_offset)}")
    if spec.kind in ("integer", "binary"):
        frac = finite & (vals != np.round(vals))
        if frac.any():
            first = int(np.flatnonzero(frac)[0])
            target.append(f"{w}: column {name!r} is {spec.kind} but has non-integral value "
                          f"{vals[first]:g} in {rows_text(frac, res.row_offset)}")


def _check_label(col: pd.Series, schema: FeatureSchema, res: CheckResult) -> np.ndarray:
    w, name = res.source, schema.label
    names = [label_str(v) for v in col.tolist()]
    index = {c: i for i, c in enumerate(schema.classes)}
    missing = np.array([n is None for n in names], dtype=bool)
    if missing.any():
        res.errors.append(f"{w}: label column {name!r}: missing value in {rows_text(missing, res.row_offset)}")
    unknown = np.array([n is not None and n not in index for n in names], dtype=bool)
    if unknown.any():
        values = sorted({names[i] for i in np.flatnonzero(unknown)}, key=str)
        shown = ", ".join(repr(v) for v in values[:_SHOW_ROWS])
        res.errors.append(f"{w}: label column {name!r}: value(s) {shown} not among the classes "
                          f"{', '.join(schema.classes)}, in {rows_text(unknown, res.row_offset)}")
    y = np.array([index.get(n, -1) if n is not None else -1 for n in names], dtype=np.int64)
    counts = np.bincount(y[y >= 0], minlength=len(schema.classes))
    empty = [c for c, k in zip(schema.classes, counts, strict=True) if k == 0]
    if empty and not res.errors:
        res.warnings.append(f"{w}: class(es) with no rows: {', '.join(empty)}")
    return y


def prepare(df: pd.DataFrame, schema: FeatureSchema | None = None, label: str | None = None,
            impute: str = "none", strict: bool = False, source: str = "",
            allow_unlabelled: bool = False) -> Dataset:
    """Check df and cast it: X float32 in schema order, y int64 class indices; DataError if unusable.

    Without a schema, the phone table gets PHONE_SCHEMA and any other table an inferred one
    (label required). With allow_unlabelled, a table without the label column gives y=None.
    """
    where = source or "<table>"
    schema = resolve_schema(df, schema, label, where)
    unlabelled = allow_unlabelled and schema.label not in df.columns
    res = validate_frame(df, schema, impute=impute, strict=strict, source=where,
                         allow_unlabelled=unlabelled)
    return _dataset(res, schema, where, labelled=True)


def prepare_unlabelled(df: pd.DataFrame, schema: FeatureSchema, impute: str = "none",
                       strict: bool = False, source: str = "") -> Dataset:
    """Features of rows to predict (y=None): extra columns such as `id` and the label are ignored."""
    where = source or "<table>"
    res = validate_frame(df, schema, impute=impute, strict=strict, source=where,
                         allow_unlabelled=True)
    return _dataset(res, schema, where, labelled=False)


def _dataset(res: CheckResult, schema: FeatureSchema, where: str, labelled: bool) -> Dataset:
    """The Dataset of a validation result; DataError with the first problem when it has any."""
    if res.errors:
        more = f" (and {len(res.errors) - 1} more problem(s))" if len(res.errors) > 1 else ""
        raise DataError(res.errors[0] + more)
    assert res.X is not None
    return Dataset(X=res.X, y=res.y if labelled else None, schema=schema,
                   warnings=res.warnings, source=where)


def prepare_features(df: pd.DataFrame, schema: FeatureSchema, impute: str = "none",
                     strict: bool = False, source: str = "") -> np.ndarray:
    """float32 [n, F] features of unlabelled rows; notes (ignored columns) go to the log."""
    ds = prepare_unlabelled(df, schema, impute=impute, strict=strict, source=source)
    for note in ds.warnings:
        log.info(note)
    return ds.X


def source_name(source: str | os.PathLike[str], table: str | None = None,
                query: str | None = None) -> str:
    """How messages name a source: the file path, or the masked URL with its table/query."""
    if not is_sql_url(source):
        text = str(source)
        return f"{text} (table {table})" if table else text
    url = safe_url(str(source))
    return f"{url} (table {table})" if table else f"{url} (query)" if query else url


def load_dataset(source: str | os.PathLike[str], *, label: str | None = None,
                 schema: FeatureSchema | str | Path | None = None, table: str | None = None,
                 query: str | None = None, fmt: str | None = None, impute: str = "none",
                 strict: bool = False, allow_unlabelled: bool = False,
                 delimiter: str | None = None) -> Dataset:
    """Read a table and prepare it (see read_table and prepare)."""
    if isinstance(schema, str | Path):
        schema = FeatureSchema.load(schema)
    df = read_table(source, fmt=fmt, table=table, query=query, delimiter=delimiter)
    return prepare(df, schema=schema, label=label, impute=impute, strict=strict,
                   source=source_name(source, table, query), allow_unlabelled=allow_unlabelled)
