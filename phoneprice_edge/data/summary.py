"""A checked table's summary (what `pe-data validate` and `pe pipeline` print): build, render, refuse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from phoneprice_edge.errors import DataError

if TYPE_CHECKING:
    from phoneprice_edge.data.validate import CheckResult
    from phoneprice_edge.schema import FeatureSchema

__all__ = ["check_file", "check_source", "raise_if_unusable", "render", "summarize"]


def summarize(df: pd.DataFrame, res: CheckResult, schema_origin: str | None = None) -> dict[str, Any]:
    """A JSON-able summary of a checked table (features without finite values: None statistics)."""
    from phoneprice_edge.data.stream import Totals
    from phoneprice_edge.data.stream import schema_origin as origin_of

    totals = Totals()
    totals.count(df, res.schema)
    return {
        "source": res.source, "ok": res.ok, "rows": int(len(df)), "columns": int(len(df.columns)),
        "schema": origin_of(res.schema, schema_origin), "label": res.schema.label,
        "classes": totals.class_counts(res.schema),
        "features": totals.features(res.schema, with_empty=True),
        "errors": res.errors, "warnings": res.warnings,
    }


def check_file(path: str, /, *, schema: FeatureSchema | None = None, label: str | None = None,
               origin: str | None = None, read: dict[str, Any] | None = None,
               **check: Any) -> dict[str, Any]:
    """Read a table (read: read_table's options), resolve its schema (the given one, built in or
    inferred), check it (check: validate_frame's options; source defaults to path) and
    summarise it: what `pe-data validate` and `pe pipeline` print."""
    from phoneprice_edge.data.ingest import read_table
    from phoneprice_edge.data.validate import resolve_schema, validate_frame

    where = check.setdefault("source", path)
    df = read_table(path, **(read or {}))
    resolved = resolve_schema(df, schema, label, where)
    return summarize(df, validate_frame(df, resolved, **check), schema_origin=origin)


def check_source(source: str, /, *, fmt: str | None = None, table: str | None = None,
                 query: str | None = None, delimiter: str | None = None,
                 schema: FeatureSchema | None = None, label: str | None = None,
                 origin: str | None = None, max_rows: int | None = None,
                 chunk_rows: int = 50_000, **check: Any) -> dict[str, Any]:
    """The summary of a file (check_file) or a SQL source (streamed chunk_rows rows at a time,
    data.stream.validate_sql); check: validate_frame's options (impute, strict, source,
    allow_unlabelled)."""
    from phoneprice_edge.data.ingest import detect_format

    if detect_format(source, fmt) == "sql":
        from phoneprice_edge.data.stream import validate_sql

        return validate_sql(source, table, query, schema, label, check, max_rows, chunk_rows,
                            origin)
    return check_file(source, schema=schema, label=label, origin=origin,
                      read={"fmt": fmt, "table": table, "query": query, "delimiter": delimiter,
                            "max_rows": max_rows}, **check)


def raise_if_unusable(summary: dict[str, Any]) -> None:
    """DataError (exit 1) when the summary lists errors."""
    if summary["errors"]:
        raise DataError(f"{summary['source']}: {len(summary['errors'])} problem(s) make the table "
                        "unusable")


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def render(s: dict[str, Any]) -> str:
    """The human-readable summary."""
    lines = [f"source:  {s['source']}", f"rows:    {s['rows']}    columns: {s['columns']}",
             f"schema:  {s['schema']}, {len(s['features'])} feature column(s) present"]
    if s["classes"] is None:
        lines.append(f"label:   {s['label']} (absent: features only)")
    else:
        counts = ", ".join(f"{k} ({v})" for k, v in s["classes"].items())
        lines.append(f"label:   {s['label']}; classes: {counts}")
    width = max([len(c["name"]) for c in s["features"]] + [6])
    lines.append("")
    lines.append(f"{'column':<{width}}  {'kind':<7}  {'allowed':>15}  {'min':>10}  {'max':>10}  {'mean':>10}")
    for c in s["features"]:
        allowed = f"[{_num(c['range'][0])}, {_num(c['range'][1])}]"
        lines.append(f"{c['name']:<{width}}  {c['kind']:<7}  {allowed:>15}  {_num(c['min']):>10}  "
                     f"{_num(c['max']):>10}  {_num(c['mean']):>10}")
    lines.append("")
    problems = [f"  error:   {e}" for e in s["errors"]] + [f"  warning: {w}" for w in s["warnings"]]
    lines.append("problems: " + ("none" if not problems else str(len(problems))))
    lines.extend(problems)
    lines.append("result:  " + ("usable" if s["ok"] else "UNUSABLE"))
    return "\n".join(lines)
