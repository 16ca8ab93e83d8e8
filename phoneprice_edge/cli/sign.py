"""pe sign / pe keygen: Ed25519-sign existing artifact folders, make a key pair."""

from __future__ import annotations

from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT


@click.command(context_settings=CONTEXT)
@click.argument("artifacts", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--key", "key", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ed25519 private key (PEM; `pe keygen` writes one).")
def cmd(artifacts: tuple[Path, ...], key: Path) -> int:
    """Sign each export folder: verify it fully (digest, files, hashes), then write manifest.sig,
    the Ed25519 signature of its manifest digest. `pe verify --key KEY.pub` and the loaders
    (with $PE_VERIFY_KEY) then refuse any change. Updating a manifest later (pe parity) removes
    the signature: sign after the last step."""
    from phoneprice_edge.artifact import load_artifact
    from phoneprice_edge.artifact.signing import load_private_key, sign

    load_private_key(key)  # a bad key fails before any folder is touched
    for art in artifacts:
        path = sign(art, load_artifact(art), key)
        click.echo(f"signed {art}: {path.name}")
    return 0


@click.command(context_settings=CONTEXT)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> int:
    """Write a new Ed25519 private key to OUT (mode 0600) and its public key to OUT.pub."""
    from phoneprice_edge.artifact.signing import generate_key, key_id, load_public_key

    private, public = generate_key(out)
    click.echo(f"wrote {private} (private: keep it off devices) and {public} "
               f"(key id {key_id(load_public_key(public))})")
    return 0
