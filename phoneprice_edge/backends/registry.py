"""Pick and load the backend for an export folder (manifest verified first) or the reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.backends.base import Backend
from phoneprice_edge.backends.common import artifact_manifest
from phoneprice_edge.errors import ArtifactError


def load_backend(artifact_dir: str | Path, device: str = "cpu", **opts: Any) -> Backend:
    """Verify the manifest (sha256 of every file), then load the artifact on its target's backend."""
    from phoneprice_edge.targets import TARGETS

    manifest = artifact_manifest(artifact_dir)
    target = manifest.get("target")
    if target not in TARGETS:
        raise ArtifactError(f"{artifact_dir}: unknown target {target!r} in manifest")
    if manifest.get("deferred_build"):
        raise ArtifactError(f"{artifact_dir}: the {target} engine has not been built yet; run "
                            f"{Path(artifact_dir) / 'build_engine.sh'} on the target device")
    cls = TARGETS[target].load_backend()
    return cls.load(artifact_dir, device=device, manifest=manifest, **opts)


def load_reference(run_dir: str | Path, device: str = "cpu", **opts: Any) -> Backend:
    """The PyTorch reference: RUN_DIR/checkpoints/best_model.pt in eval mode."""
    from phoneprice_edge.backends.torch import TorchBackend

    return TorchBackend.load(Path(run_dir), device=device, **opts)
