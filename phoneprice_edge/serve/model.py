"""The served model: a Backend plus what the API says about it (id, version, schema, classes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.artifact import Manifest
from phoneprice_edge.backends.base import Backend
from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.schema import FeatureSchema


@dataclass
class ServedModel:
    """A loaded artifact: run() gives probabilities and class indices for float32 [N, F] rows."""

    backend: Backend
    manifest: dict[str, Any]
    schema: FeatureSchema
    model_id: str
    version: str

    @property
    def classes(self) -> list[str]:
        return list(self.schema.classes)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities float32 [N, C] and argmax class indices int64 [N]."""
        logits = self.backend.run(x)
        z = logits - logits.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z, z.argmax(axis=1)

    def warm_up(self, runs: int = 20) -> None:
        """Run mid-range rows through the backend (batch 1 and 64) so first requests are not slow."""
        row = np.array([_mid(f.min, f.max) for f in self.schema.features], dtype=np.float32)
        for n in (1, 64):
            xs = np.repeat(row[None, :], n, axis=0)
            for _ in range(max(1, runs)):
                self.predict(xs)

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"id": self.model_id, "version": self.version, "target": m.get("target"),
                "precision": m.get("precision"), "format": m.get("format"),
                "backend": self.backend.name, "device": self.backend.device,
                "source_checkpoint_sha256": m.get("source_checkpoint_sha256"),
                "files": m.get("files", {}), "versions": m.get("versions", {}),
                "features": self.schema.feature_names, "classes": self.classes,
                "parity": m.get("parity"), "schema": self.schema.to_dict()}

    def close(self) -> None:
        self.backend.close()


def _mid(lo: float | None, hi: float | None) -> float:
    if lo is not None and hi is not None:
        return (lo + hi) / 2.0
    return lo if lo is not None else (hi if hi is not None else 0.0)


def model_identity(manifest: dict[str, Any]) -> tuple[str, str]:
    """(id, version): id = first 12 hex digits of the sha256 over the artifact files' hashes;
    version = the manifest's model_version, else the toolkit version that exported it."""
    files = manifest.get("files") or {}
    digest = hashlib.sha256("".join(f"{k}:{v};" for k, v in sorted(files.items())).encode())
    version = manifest.get("model_version") or (manifest.get("versions") or {}).get(
        "phoneprice_edge", "unknown")
    return digest.hexdigest()[:12], str(version)


def load_served_model(artifact_dir: str | Path, device: str = "cpu", **opts: Any) -> ServedModel:
    """Verify and load an export folder through backends.registry (ArtifactError on any problem)."""
    from phoneprice_edge.backends.registry import load_backend

    backend = load_backend(artifact_dir, device=device, **opts)
    try:
        verified = backend.manifest or backend_manifest(artifact_dir)
        return served_from(backend, verified.to_dict())
    except BaseException:
        backend.close()
        raise


def backend_manifest(artifact_dir: str | Path) -> Manifest:
    from phoneprice_edge.artifact import read_manifest

    return read_manifest(artifact_dir)


def served_from(backend: Backend, manifest: dict[str, Any]) -> ServedModel:
    """Wrap a loaded backend; the manifest's schema must match the backend's input/output."""
    if not isinstance(manifest.get("schema"), dict):
        raise ArtifactError("manifest has no feature schema; re-export the artifact")
    schema = FeatureSchema.from_dict(manifest["schema"], source="manifest schema")
    spec = backend.describe()
    if spec.n_features != schema.n_features or spec.n_classes != schema.n_classes:
        raise ArtifactError(f"artifact takes {spec.n_features} features / gives {spec.n_classes} "
                            f"classes but its schema lists {schema.n_features} / {schema.n_classes}")
    model_id, version = model_identity(manifest)
    return ServedModel(backend, manifest, schema, model_id, version)
