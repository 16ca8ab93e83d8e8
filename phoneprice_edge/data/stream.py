"""Checking a SQL table chunk by chunk: bounded memory, global row numbers, table-wide summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from phoneprice_edge.data.infer import label_str, to_numeric
from phoneprice_edge.data.ingest import is_sql_url, iter_sql_chunks
from phoneprice_edge.data.validate import CheckResult, resolve_schema, validate_frame
from phoneprice_edge.schema import FeatureSchema


def schema_origin(schema: FeatureSchema, given: str | None = None) -> str:
    """Where the schema came from, as the summary says it (given, built in or inferred)."""
    return given or ("built in (phone)" if schema.meta.get("name") == "phone_price" else "inferred")


class Totals:
    """What a table summary needs, accumulated over chunks (never the rows themselves)."""

    def __init__(self) -> None:
        self.rows, self.columns = 0, 0
        self.errors: dict[str, None] = {}
        self.warnings: dict[str, None] = {}
        self.classes: Counter[str] = Counter()
        self.has_label = False
        # name -> [min, max, sum, count] of finite values, for every feature column seen
        self.stats: dict[str, list[float]] = {}

    def add(self, df: pd.DataFrame, res: CheckResult, empty_note: str) -> None:
        self.rows += len(df)
        self.columns = max(self.columns, len(df.columns))
        self.errors.update(dict.fromkeys(res.errors))
        self.warnings.update(dict.fromkeys(w for w in res.warnings if not w.startswith(empty_note)))
        self.count(df, res.schema)

    def count(self, df: pd.DataFrame, schema: FeatureSchema) -> None:
        """Label classes and the finite values of each feature column of df."""
        if schema.label in df.columns:
            self.has_label = True
            self.classes.update(label_str(v) for v in df[schema.label].tolist())
        for f in schema.features:
            if f.name not in df.columns or isinstance(df[f.name], pd.DataFrame):
                continue
            vals = to_numeric(df[f.name]).to_numpy(dtype=np.float64)
            fin = vals[np.isfinite(vals)]
            s = self.stats.setdefault(f.name, [np.inf, -np.inf, 0.0, 0.0])
            if fin.size:
                s[0], s[1] = min(s[0], float(fin.min())), max(s[1], float(fin.max()))
                s[2] += float(fin.sum())
                s[3] += fin.size

    def class_counts(self, schema: FeatureSchema) -> dict[str, int] | None:
        """Rows per class, the schema's classes first (None when no label column was seen)."""
        if not self.has_label:
            return None
        classes = {c: self.classes.get(c, 0) for c in schema.classes}
        classes.update({k: v for k, v in self.classes.items() if k not in schema.classes})
        return classes

    def features(self, schema: FeatureSchema, with_empty: bool) -> list[dict[str, Any]]:
        """Per-feature kind, allowed range, min/max/mean of the finite values; a column without
        finite values is listed with None statistics when with_empty, else left out."""
        out = []
        for f in schema.features:
            if f.name not in self.stats:
                continue
            lo, hi, total, n = self.stats[f.name]
            if not n and not with_empty:
                continue
            out.append({"name": f.name, "kind": f.kind, "range": [f.min, f.max],
                        "min": lo if n else None, "max": hi if n else None,
                        "mean": total / n if n else None})
        return out


def validate_sql(source: str, table: str | None, query: str | None,
                 schema: FeatureSchema | None, label: str | None, opts: dict[str, Any],
                 max_rows: int | None = None, chunk_rows: int = 50_000,
                 schema_origin: str | None = None) -> dict[str, Any]:
    """Validate a SQL table or query chunk_rows rows at a time; the summary pe-data validate prints.

    opts are validate_frame's keyword options (impute, strict, source, allow_unlabelled). The
    schema is the given one, else resolved from the first chunk. Messages give global row numbers.
    """
    url = source if is_sql_url(source) else f"sqlite:///{source}"
    where = opts.get("source") or "<table>"
    empty_note = f"{where}: class(es) with no rows"
    totals = Totals()
    for chunk in iter_sql_chunks(url, table=table, query=query, chunksize=chunk_rows,
                                 max_rows=max_rows):
        if schema is None:
            schema = resolve_schema(chunk, None, label, where)
        res = validate_frame(chunk, schema, row_offset=totals.rows, **opts)
        totals.add(chunk, res, empty_note)
    assert schema is not None  # iter_sql_chunks yields at least one (possibly empty) frame
    return _summary(totals, schema, where, schema_origin)


def _summary(t: Totals, schema: FeatureSchema, where: str, origin: str | None) -> dict[str, Any]:
    classes = t.class_counts(schema)
    if classes is not None:
        empty = [c for c in schema.classes if classes[c] == 0]
        if empty and not t.errors:
            t.warnings[f"{where}: class(es) with no rows: {', '.join(empty)}"] = None
    errors, warnings = list(t.errors), list(t.warnings)
    return {"source": where, "ok": not errors, "rows": t.rows, "columns": t.columns,
            "schema": schema_origin(schema, origin), "label": schema.label, "classes": classes,
            "features": t.features(schema, with_empty=False),
            "errors": errors, "warnings": warnings, "chunked": True}
