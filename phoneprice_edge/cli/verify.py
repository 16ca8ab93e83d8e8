"""pe verify: check each artifact's golden rows on this host's runtime (no run folder, no torch)."""

from __future__ import annotations

from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT, device_option


@click.command(context_settings=CONTEXT)
@click.argument("artifacts", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@device_option
@click.option("--key", "verify_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ed25519 public key: refuse an artifact not signed by it [default: "
                   "$PE_VERIFY_KEY when set].")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report (host, one entry per artifact) to this JSON file.")
def cmd(artifacts: tuple[Path, ...], device: str, verify_key: Path | None,
        json_out: Path | None) -> int:
    """Run each export folder ARTIFACT on this host with the runtime installed here and check its
    golden rows (inputs and the PyTorch checkpoint's logits, written by pe export) with the
    precision's tolerance. The folder itself is checked first: manifest digest, every file
    listed and its sha256, the signature with --key. One line per artifact; exit 1 when any
    fails (a tampered artifact too, with the reason)."""
    from phoneprice_edge.io_utils import atomic_write_json
    from phoneprice_edge.verify import report, verify_one

    results = []
    for art in artifacts:
        r = verify_one(art, device=device, verify_key=verify_key)
        click.echo(r.line())
        results.append(r)
    if json_out is not None:
        atomic_write_json(json_out, report(results))
        click.echo(f"wrote {json_out}")
    failed = sum(not r.passed for r in results)
    click.echo(f"verified {len(results)}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
