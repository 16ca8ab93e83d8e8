"""Facts about this host (runtime side): library versions, CPU model and SIMD flags, machine."""

from __future__ import annotations

import platform
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

from phoneprice_edge import __version__

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
