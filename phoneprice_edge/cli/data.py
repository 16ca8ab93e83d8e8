"""`pe-data`: validate a table against its schema, synthesise the built-in data, write a schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from phoneprice_edge.cli.common import CONTEXT
from phoneprice_edge.errors import DataError

if TYPE_CHECKING:
    from phoneprice_edge.schema import FeatureSchema

_FORMAT = click.Choice(["csv", "parquet", "json", "jsonl", "sql"])
_SOURCE_HELP = "FILE is a .csv/.parquet/.json/.jsonl file or a SQLAlchemy URL (sqlite:///file.db)."


def _source_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--format", "fmt", type=_FORMAT, help="Input format (default: from the extension)."),
        click.option("--table", help="SQL table to read (with a database URL)."),
        click.option("--query", help="SQL query to read instead of a table."),
        click.option("--delimiter", help="CSV field separator (default ',')."),
        click.option("--label", help="Label column; any table that is not the phone table needs it."),
        click.option("--schema", "schema_file", type=click.Path(dir_okay=False),
                     help="schema.json to check against (default: built in or inferred)."),
    ]):
        f = opt(f)
    return f


@click.group("data", context_settings=CONTEXT)
def cmd() -> None:
    """Check tables, synthesise the built-in phone-like data set, write schemas."""


@cmd.command("validate", context_settings=CONTEXT, epilog=_SOURCE_HELP)
@click.argument("source", metavar="FILE")
@_source_options
@click.option("--impute", type=click.Choice(["none", "median"]), default="none", show_default=True,
              help="Replace missing/infinite feature values by the column median instead of failing.")
@click.option("--strict", is_flag=True, help="Out-of-range values and unknown columns are errors, not warnings.")
@click.option("--unlabelled", is_flag=True, help="Check features only (rows to predict, no label column).")
@click.option("--max-rows", type=click.IntRange(min=1), help="Check only the first N rows (samples a large SQL table).")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="SQL sources are streamed and checked this many rows at a time (bounded memory); "
                   "row numbers stay global. --impute median then uses each chunk's median.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def validate_cmd(source: str, fmt: str | None, table: str | None, query: str | None,
                 delimiter: str | None, label: str | None, schema_file: str | None, impute: str,
                 strict: bool, unlabelled: bool, max_rows: int | None, chunk_rows: int,
                 as_json: bool) -> None:
    """Check a table and print a summary: rows, columns, classes, per-column statistics, problems.

    Exits 1 when the table is unusable. Row numbers are 1-based data rows (the header not counted).
    """
    from phoneprice_edge.data.ingest import detect_format
    from phoneprice_edge.data.validate import source_name
    from phoneprice_edge.schema import FeatureSchema

    where = source_name(source, table, query)
    given = FeatureSchema.load(schema_file) if schema_file else None
    origin = "file " + schema_file if schema_file else None
    opts = {"impute": impute, "strict": strict, "source": where, "allow_unlabelled": unlabelled}
    try:
        if detect_format(source, fmt) == "sql":
            from phoneprice_edge.data.stream import validate_sql

            summary = validate_sql(source, table, query, given, label, opts, max_rows, chunk_rows,
                                   origin)
        else:
            summary = check_file(source, schema=given, label=label, origin=origin,
                                 read={"fmt": fmt, "table": table, "query": query,
                                       "delimiter": delimiter, "max_rows": max_rows}, **opts)
    except DataError as exc:
        if as_json:
            click.echo(json.dumps({"source": where, "ok": False, "errors": [str(exc)], "warnings": []}))
        raise
    click.echo(json.dumps(summary, indent=2) if as_json else render(summary))
    raise_if_unusable(summary)


def summarize(df: pd.DataFrame, res: Any, schema_origin: str | None = None) -> dict[str, Any]:
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


@cmd.command("synth", context_settings=CONTEXT)
@click.option("--rows", type=click.IntRange(min=4), default=2000, show_default=True, help="Number of rows.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output file; the format comes from the extension (.csv, .parquet, .json, .jsonl).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "jsonl"]),
              help="Output format (default: from the extension).")
def synth_cmd(rows: int, seed: int, out: str, fmt: str | None) -> None:
    """Write the built-in phone-like data set (20 features + price_range), deterministic from --seed."""
    from phoneprice_edge.data.ingest import write_table
    from phoneprice_edge.data.synth import synth_phone

    path = write_table(synth_phone(rows=rows, seed=seed), out, fmt=fmt)
    click.echo(f"wrote {rows} rows (seed {seed}) to {path}")


@cmd.command("schema", context_settings=CONTEXT, epilog=_SOURCE_HELP)
@click.argument("source", metavar="FILE")
@_source_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="schema.json to write.")
def schema_cmd(source: str, fmt: str | None, table: str | None, query: str | None,
               delimiter: str | None, label: str | None, schema_file: str | None, out: str) -> None:
    """Write the schema of a table (built in for the phone table, else inferred with --label)."""
    from phoneprice_edge.data.ingest import read_table
    from phoneprice_edge.data.validate import resolve_schema, source_name
    from phoneprice_edge.schema import FeatureSchema

    where = source_name(source, table, query)
    df = read_table(source, fmt=fmt, table=table, query=query, delimiter=delimiter)
    schema = resolve_schema(df, FeatureSchema.load(schema_file) if schema_file else None, label, where)
    schema.save(out)
    click.echo(f"wrote schema ({schema.n_features} features, label {schema.label!r}, "
               f"classes {', '.join(schema.classes)}) to {out}")


if __name__ == "__main__":  # `python -m phoneprice_edge.cli.data`, same exit codes as pe-data
    from phoneprice_edge.cli.common import entry

    entry(cmd)(prog_name="pe-data")
