"""`pe-predict`: batch prediction of a whole file with an export folder."""

from __future__ import annotations

import sys

import click

from phoneprice_edge.cli.common import CONTEXT, device_option


@click.command("predict", context_settings=CONTEXT)
@click.option("--artifact", default=None, type=click.Path(file_okay=False, path_type=str),
              help="Export folder (manifest.json + artifact files); verified before use.")
@click.option("--url", default=None, metavar="URL",
              help="Instead of --artifact: a running pe-serve (e.g. http://127.0.0.1:8000); rows "
                   "go as binary float32 requests (its API key from PE_API_KEY).")
@click.option("--data", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Rows to predict: .csv, .parquet, .json or .jsonl (an `id` column is carried "
                   "through; the label column and other extra columns are ignored).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output file; format from the extension (.csv, .parquet, .json, .jsonl); "
                   "written atomically.")
@click.option("--format", "fmt", default=None, help="Input format when the extension does not say.")
@click.option("--chunk-size", type=click.IntRange(1), default=8192, show_default=True,
              help="Rows per backend call (per request with --url, at most the server's limit).")
@device_option
@click.option("--carry", default="id", show_default=True,
              help="Comma-separated input columns copied to the output when present.")
@click.option("--strict", is_flag=True, help="Out-of-range values are errors, not warnings.")
@click.option("--verify-key", type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="Ed25519 public key: refuse an artifact not signed by it [default: "
                   "$PE_VERIFY_KEY when set].")
def cmd(artifact: str | None, url: str | None, data: str, out: str, fmt: str | None,
        chunk_size: int, device: str, carry: str, strict: bool, verify_key: str | None) -> None:
    """Predict every row of --data with --artifact (or the server at --url) and write class, label
    and probabilities."""
    from tqdm import tqdm

    from phoneprice_edge.predict import predict_file

    bar = tqdm(desc="predict", unit="row", disable=not sys.stderr.isatty(), leave=False)
    try:
        summary = predict_file(artifact, data, out, chunk_size=chunk_size, device=device, fmt=fmt,
                               carry=tuple(c.strip() for c in carry.split(",") if c.strip()),
                               strict=strict, progress=bar.update, url=url,
                               verify_key=verify_key)
    finally:
        bar.close()
    for w in summary.warnings:
        click.echo(f"warning: {w}", err=True)
    counts = ", ".join(f"{k}: {v}" for k, v in summary.class_counts.items())
    click.echo(f"predicted {summary.rows} rows with model {summary.model_id} -> {summary.out} "
               f"({counts})")
