"""The environment a benchmark ran in: CPU, cores, SIMD flags, OS, libraries, GPU, threads, date."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from phoneprice_edge.host import cpu_flags, cpu_model, library_versions

_LIBS = ("torch", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "openvino", "tensorrt",
         "matplotlib")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None where unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    cores, phys = set(), "0"
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = val.strip()
        elif key == "core id":
            cores.add((phys, val.strip()))
    return len(cores) or None


def gpu_info() -> dict[str, Any] | None:
    """GPU name, driver, memory and CUDA versions from nvidia-smi and torch.cuda; None without one."""
    info: dict[str, Any] = {}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=20, check=True)
            first = out.stdout.strip().splitlines()[0]
            name, driver, mem = (s.strip() for s in first.split(","))
            info.update(name=name, driver=driver, memory=mem)
        except (OSError, subprocess.SubprocessError, IndexError, ValueError):
            pass
    try:
        import torch
        if torch.cuda.is_available():
            info.setdefault("name", torch.cuda.get_device_name(0))
            cap = torch.cuda.get_device_capability(0)
            info.update(torch_cuda=torch.version.cuda, compute_capability=f"{cap[0]}.{cap[1]}",
                        device_count=torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - a broken CUDA install must not stop a CPU benchmark
        pass
    return info or None


def ort_providers() -> list[str]:
    """ONNX Runtime's available execution providers ([] where it is not installed)."""
    try:
        import onnxruntime as ort
        return list(ort.get_available_providers())
    except ImportError:
        return []


def thread_settings() -> dict[str, Any]:
    """Thread-related environment variables and torch's intra-op thread count."""
    out: dict[str, Any] = {v: os.environ.get(v) for v in _THREAD_VARS}
    try:
        import torch
        out["torch_num_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return out


def capture_env(threads: list[int] | None = None, device: str = "cpu") -> dict[str, Any]:
    """Everything needed to judge whether two reports are comparable."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "cpus_available": affinity,
        "cpu_flags": cpu_flags(),
        "load_average": load,
        "versions": library_versions(_LIBS),
        "ort_providers": ort_providers(),
        "gpu": gpu_info(),
        "device": device,
        "threads": threads,
        "thread_settings": thread_settings(),
    }
