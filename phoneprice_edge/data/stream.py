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


class _Totals:
    """What the summary needs, accumulated over chunks (never the rows themselves)."""

    def __init__(self) -> None:
        self.rows, self.columns = 0, 0
        self.errors: dict[str, None] = {}
        self.warnings: dict[str, None] = {}
        self.classes: Counter[str] = Counter()
        self.has_label = False
        self.stats: dict[str, list[float]] = {}  # name -> [min, max, sum, count] of finite values

    def add(self, df: pd.DataFrame, res: CheckResult, empty_note: str) -> None:
        self.rows += len(df)
        self.columns = max(self.columns, len(df.columns))
        self.errors.update(dict.fromkeys(res.errors))
        self.warnings.update(dict.fromkeys(w for w in res.warnings if not w.startswith(empty_note)))
        schema = res.schema
        if schema.label in df.columns:
            self.has_label = True
            self.classes.update(label_str(v) for v in df[schema.label].tolist())
        for f in schema.features:
            if f.name not in df.columns or isinstance(df[f.name], pd.DataFrame):
                continue
            vals = to_numeric(df[f.name]).to_numpy(dtype=np.float64)
            fin = vals[np.isfinite(vals)]
            if not fin.size:
                continue
            s = self.stats.setdefault(f.name, [np.inf, -np.inf, 0.0, 0.0])
            s[0], s[1] = min(s[0], float(fin.min())), max(s[1], float(fin.max()))
            s[2] += float(fin.sum())
            s[3] += fin.size


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
    totals = _Totals()
    for chunk in iter_sql_chunks(url, table=table, query=query, chunksize=chunk_rows,
                                 max_rows=max_rows):
        if schema is None:
            schema = resolve_schema(chunk, None, label, where)
        res = validate_frame(chunk, schema, row_offset=totals.rows, **opts)
        totals.add(chunk, res, empty_note)
    assert schema is not None  # iter_sql_chunks yields at least one (possibly empty) frame
    return _summary(totals, schema, where, schema_origin)


def _summary(t: _Totals, schema: FeatureSchema, where: str, origin: str | None) -> dict[str, Any]:
    classes = None
    if t.has_label:
        classes = {c: t.classes.get(c, 0) for c in schema.classes}
        classes.update({k: v for k, v in t.classes.items() if k not in schema.classes})
        empty = [c for c in schema.classes if t.classes.get(c, 0) == 0]
        if empty and not t.errors:
            t.warnings[f"{where}: class(es) with no rows: {', '.join(empty)}"] = None
    features = []
    for f in schema.features:
        if f.name in t.stats:
            lo, hi, total, n = t.stats[f.name]
            features.append({"name": f.name, "kind": f.kind, "range": [f.min, f.max],
                             "min": lo, "max": hi, "mean": total / n})
    origin = origin or ("built in (phone)" if schema.meta.get("name") == "phone_price" else "inferred")
    errors, warnings = list(t.errors), list(t.warnings)
    return {"source": where, "ok": not errors, "rows": t.rows, "columns": t.columns,
            "schema": origin, "label": schema.label, "classes": classes, "features": features,
            "errors": errors, "warnings": warnings, "chunked": True}
