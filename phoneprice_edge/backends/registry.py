"""Pick and load the backend for an export folder (manifest, files and signature verified first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.artifact import Manifest
from phoneprice_edge.backends.base import Backend
from phoneprice_edge.backends.common import artifact_manifest
from phoneprice_edge.errors import ArtifactError


def load_backend(artifact_dir: str | Path, device: str = "cpu",
                 verify_key: str | Path | None = None, **opts: Any) -> Backend:
    """Verify the folder (artifact.load_artifact: digest, inventory, every sha256, the signature
    when verify_key or $PE_VERIFY_KEY is set), then load it on its target's backend."""
    return open_backend(artifact_dir, artifact_manifest(artifact_dir, verify_key), device, **opts)


def open_backend(artifact_dir: str | Path, manifest: Manifest, device: str = "cpu",
                 **opts: Any) -> Backend:
    """Load an already verified folder on its target's backend; the manifest becomes the
    backend's `manifest`."""
    from phoneprice_edge.targets import TARGETS

    target = manifest.target
    if target not in TARGETS:
        raise ArtifactError(f"{artifact_dir}: unknown target {target!r} in manifest")
    if manifest.deferred_build:
        raise ArtifactError(f"{artifact_dir}: the {target} engine has not been built yet; run "
                            f"{Path(artifact_dir) / 'build_engine.sh'} on the target device")
    cls = TARGETS[target].load_backend()
    backend = cls.load(artifact_dir, device=device, manifest=manifest, **opts)
    backend.manifest = manifest
    return backend
