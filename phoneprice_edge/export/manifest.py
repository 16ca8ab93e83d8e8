"""manifest.json beside every artifact: what it is, how it was built, and the sha256 of each file."""

from __future__ import annotations

import json
import platform
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

from phoneprice_edge import __version__
from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.io_utils import atomic_write_json, sha256_file

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "phoneprice_edge.manifest/1"
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
    """Hash the artifact files in out_dir and write manifest.json atomically; return the dict."""
    out_dir = Path(out_dir)
    hashes = {}
    for name in files:
        p = out_dir / name
        if not p.is_file():
            raise ArtifactError(f"{p}: artifact file missing after export")
        hashes[name] = sha256_file(p)
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
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


def read_manifest(artifact_dir: str | Path) -> dict[str, Any]:
    """Read manifest.json without checking the files (cheap; for listings)."""
    path = Path(artifact_dir) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{artifact_dir}: no {MANIFEST} (not an export folder?)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: manifest is not valid JSON ({exc})") from None
    if not isinstance(m, dict) or m.get("manifest_format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path}: not a phoneprice_edge manifest")
    return m


def verify_artifact(artifact_dir: str | Path) -> dict[str, Any]:
    """Read the manifest and check every listed file's sha256; refuse a tampered or truncated one."""
    artifact_dir = Path(artifact_dir)
    m = read_manifest(artifact_dir)
    files = m.get("files") or {}
    if not files:
        raise ArtifactError(f"{artifact_dir}: manifest lists no files")
    for name, want in files.items():
        p = artifact_dir / name
        if not p.is_file():
            raise ArtifactError(f"{p}: artifact file missing")
        got = sha256_file(p)
        if got != want:
            raise ArtifactError(f"{p}: sha256 mismatch (file is truncated or was modified after "
                                f"export: expected {want[:12]}..., got {got[:12]}...); re-export it")
    return m


def update_manifest(artifact_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Set top-level fields (e.g. parity) in an existing manifest, atomically."""
    m = read_manifest(artifact_dir)
    m.update(fields)
    atomic_write_json(Path(artifact_dir) / MANIFEST, m)
    return m
