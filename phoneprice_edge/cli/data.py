"""`pe-data`: validate a table against its schema, synthesise the built-in data, write a schema."""

from __future__ import annotations

import json
from typing import Any

import click

from phoneprice_edge.cli.common import CONTEXT
from phoneprice_edge.errors import DataError

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
    from phoneprice_edge.data.summary import check_source, raise_if_unusable, render
    from phoneprice_edge.data.validate import source_name
    from phoneprice_edge.schema import FeatureSchema

    where = source_name(source, table, query)
    given = FeatureSchema.load(schema_file) if schema_file else None
    try:
        summary = check_source(source, fmt=fmt, table=table, query=query, delimiter=delimiter,
                               schema=given, label=label,
                               origin="file " + schema_file if schema_file else None,
                               max_rows=max_rows, chunk_rows=chunk_rows, impute=impute,
                               strict=strict, source=where, allow_unlabelled=unlabelled)
    except DataError as exc:
        if as_json:
            click.echo(json.dumps({"source": where, "ok": False, "errors": [str(exc)], "warnings": []}))
        raise
    click.echo(json.dumps(summary, indent=2) if as_json else render(summary))
    raise_if_unusable(summary)


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
