"""Helpers the backends share: manifest verification, I/O specs, lazy vendor imports."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from phoneprice_edge.backends.base import IOSpec, TensorSpec
from phoneprice_edge.errors import ArtifactError, BackendUnavailable
from phoneprice_edge.export.manifest import verify_artifact


def artifact_manifest(artifact: str | Path) -> dict[str, Any]:
    """The verified manifest of an export folder (sha256 of every file checked)."""
    path = Path(artifact)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an export folder (expected a directory with manifest.json)")
    return verify_artifact(path)


def io_from_manifest(manifest: dict[str, Any]) -> IOSpec:
    """The IOSpec recorded in a manifest."""
    def spec(d: dict[str, Any]) -> TensorSpec:
        return TensorSpec(d["name"], tuple(d["shape"]), d.get("dtype", "float32"))
    try:
        return IOSpec(inputs=tuple(spec(d) for d in manifest["inputs"]),
                      outputs=tuple(spec(d) for d in manifest["outputs"]))
    except (KeyError, TypeError, IndexError) as exc:
        raise ArtifactError(f"manifest has a malformed inputs/outputs spec ({exc})") from None


def artifact_file(artifact: str | Path, manifest: dict[str, Any], target: str) -> Path:
    """The file of the target's format (its Target.suffix) that the manifest lists, in artifact."""
    from phoneprice_edge.targets import TARGETS

    suffix = TARGETS[target].suffix
    name = next((n for n in manifest.get("files") or {} if n.endswith(suffix)), None)
    if name is None:
        raise ArtifactError(f"{artifact}: manifest lists no {suffix} file")
    return Path(artifact) / name


def vendor(module: str, extra: str) -> ModuleType:
    """Import a vendor package or raise BackendUnavailable naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendUnavailable(f"{module} is not installed: install phoneprice_edge[{extra}]") \
            from None
