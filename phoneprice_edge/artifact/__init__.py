"""The artifact folder's contract (bottom of the package, runtime side): a typed, frozen manifest,
the digest over its canonical JSON, the file inventory and hashes, Ed25519 signatures.

Build side writes it (export/manifest.py); every loader opens it with load_artifact."""

from phoneprice_edge.artifact.folder import (
    artifact_path,
    check_hashes,
    check_inventory,
    load_artifact,
    read_manifest,
    safe_name,
    version_note,
)
from phoneprice_edge.artifact.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    MANIFEST_FORMAT,
    SIGNATURE,
    GoldenInfo,
    Manifest,
    TensorSpec,
    canonical_bytes,
    manifest_digest,
    parse,
    with_digest,
)

__all__ = [
    "FORMAT_VERSION", "MANIFEST", "MANIFEST_FORMAT", "SIGNATURE", "GoldenInfo", "Manifest",
    "TensorSpec", "artifact_path", "canonical_bytes", "check_hashes", "check_inventory",
    "load_artifact", "manifest_digest", "parse", "read_manifest", "safe_name", "version_note",
    "with_digest",
]
