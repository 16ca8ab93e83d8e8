"""Writing manifest.json (build side): what the artifact is, how it was built, the sha256 of each
file and the digest over it all; reading and checking it is phoneprice_edge.artifact's job."""

from __future__ import annotations

import platform
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

from phoneprice_edge import __version__
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
from phoneprice_edge.io_utils import atomic_write_json, sha256_file

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "Manifest", "host_info", "library_versions",
           "load_artifact", "read_manifest", "update_manifest", "verify_artifact",
           "write_manifest"]
_LIBS = ("torch", "numpy", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt")


def library_versions(names: tuple[str, ...] = _LIBS) -> dict[str, str]:
    """Installed versions of the libraries an artifact may depend on (absent ones omitted)."""
    out = {"phoneprice_edge": __version__, "python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_flags() -> list[str]:
    """The SIMD flags that matter for inference speed and precision (from /proc/cpuinfo)."""
    wanted = {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16",
              "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sse4_2"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return sorted(wanted & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return []


def cpu_model() -> str:
    """CPU model name, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where the artifact was built: machine, OS, CPU model and flags (+ GPU facts from extra)."""
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
    }
    info.update(extra or {})
    return info


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
