"""Writing manifest.json (build side): what the artifact is, how it was built, the sha256 of each
file and the digest over it all; reading and checking it is phoneprice_edge.artifact's job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.artifact import (
    MANIFEST,
    MANIFEST_FORMAT,
    SIGNATURE,
    Manifest,
    check_inventory,
    load_artifact,
    read_manifest,
    safe_name,
    with_digest,
)
from phoneprice_edge.artifact.manifest import read_raw
from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.host import cpu_flags, cpu_model, host_info, library_versions
from phoneprice_edge.io_utils import atomic_write_json, sha256_file

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "Manifest", "cpu_flags", "cpu_model", "host_info", "library_versions",
           "load_artifact", "read_manifest", "update_manifest", "verify_artifact",
           "write_manifest"]
def write_manifest(out_dir: str | Path, *, target: str, precision: str, fmt: str,
                   files: list[str], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                   schema: dict[str, Any], source_checkpoint_sha256: str, opset: int | None = None,
                   profile: dict[str, Any] | None = None, host_extra: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hash the artifact files in out_dir (which must hold nothing else) and write manifest.json
    with its digest atomically; return the dict."""
    out_dir = Path(out_dir)
    hashes = {}
    for name in files:
        p = safe_name(name, out_dir)
        if not p.is_file():
            raise ArtifactError(f"{p}: artifact file missing after export")
        hashes[name] = sha256_file(p)
    check_inventory(out_dir, hashes)
    manifest: dict[str, Any] = {
        "manifest_format": MANIFEST_FORMAT,
        "format": fmt,
        "target": target,
        "precision": precision,
        "files": hashes,
        "inputs": inputs,
        "outputs": outputs,
        "features": [f["name"] for f in schema["features"]],
        "classes": list(schema["classes"]),
        "schema": schema,
        "opset": opset,
        "source_checkpoint_sha256": source_checkpoint_sha256,
        "versions": library_versions(),
        "host": host_info(host_extra),
        "profile": profile or {},
        "parity": None,
    }
    manifest.update(extra or {})
    return _write(out_dir, manifest)


def _write(folder: Path, body: dict[str, Any]) -> dict[str, Any]:
    out = with_digest(body)
    atomic_write_json(folder / MANIFEST, out)
    return out


def verify_artifact(artifact_dir: str | Path, verify_key: str | Path | None = None) -> Manifest:
    """The manifest after every check a loader runs (see artifact.load_artifact)."""
    return load_artifact(artifact_dir, verify_key=verify_key)


def update_manifest(artifact_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Set top-level fields (e.g. parity) in an existing manifest, atomically, with a new digest.
    A signature (manifest.sig) signs the old digest, so it is removed: sign again with `pe sign`."""
    folder = Path(artifact_dir)
    read_manifest(folder)  # format and digest: never re-digest a manifest edited by hand
    raw = read_raw(folder / MANIFEST)
    raw.update(fields)
    out = _write(folder, raw)
    (folder / SIGNATURE).unlink(missing_ok=True)
    return out
