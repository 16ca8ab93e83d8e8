"""Helpers the backends share: the verified manifest, I/O specs, lazy vendor imports."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from phoneprice_edge.artifact import Manifest, artifact_path, load_artifact
from phoneprice_edge.backends.base import IOSpec
from phoneprice_edge.backends.options import LoadOptions
from phoneprice_edge.errors import ArtifactError, BackendUnavailable


def artifact_manifest(artifact: str | Path, verify_key: str | Path | None = None) -> Manifest:
    """The verified manifest of an export folder (digest, inventory, every sha256, and the
    signature when a verify key is given or $PE_VERIFY_KEY is set)."""
    return load_artifact(artifact, verify_key=verify_key)


def manifest_of(artifact: str | Path, options: LoadOptions) -> Manifest:
    """The manifest a registry already verified (options.manifest), else verify it here."""
    if options.manifest is None:
        return artifact_manifest(artifact, options.verify_key)
    return options.manifest


def io_from_manifest(manifest: Manifest) -> IOSpec:
    """The IOSpec recorded in a manifest."""
    if not manifest.inputs or not manifest.outputs:
        raise ArtifactError("manifest has an empty inputs/outputs spec")
    return IOSpec(inputs=manifest.inputs, outputs=manifest.outputs)


def artifact_file(artifact: str | Path, manifest: Manifest, target: str) -> Path:
    """The file of the target's format (its Target.suffix) that the manifest lists, in artifact."""
    from phoneprice_edge.targets import TARGETS

    return artifact_path(artifact, manifest, TARGETS[target].suffix)


def vendor(module: str, extra: str) -> ModuleType:
    """Import a vendor package or raise BackendUnavailable naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendUnavailable(f"{module} is not installed: install phoneprice_edge[{extra}]") \
            from None
