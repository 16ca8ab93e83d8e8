"""The CUDA runtime through cuda-python's bindings (no torch): GPU facts, streams, device buffers
and copies for the TensorRT backend. Every call returns (cudaError_t, *values); errors become
one-line BackendUnavailable / ArtifactError messages."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from phoneprice_edge.errors import ArtifactError, BackendUnavailable

INSTALL_HINT = "pip install 'phoneprice_edge[tensorrt]' (cuda-python)"
# Reported when the CUDA runtime answers but no usable GPU/driver is there (not a user's artifact).
NO_GPU_ERRORS = frozenset({"cudaErrorNoDevice", "cudaErrorInsufficientDriver",
                           "cudaErrorInitializationError", "cudaErrorSystemDriverMismatch",
                           "cudaErrorCompatNotSupportedOnDevice"})


class CudaBindingsMissing(BackendUnavailable):
    """cuda-python is not installed (a build host may fall back to torch CUDA)."""


def runtime() -> ModuleType:
    """cuda.bindings.runtime (cuda-python >= 12.6, cuda-bindings), else the older cuda.cudart."""
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise CudaBindingsMissing(f"the CUDA runtime bindings are not installed: {INSTALL_HINT}")


def call(rt: ModuleType, what: str, result: Any) -> Any:
    """Unpack a cuda-python result tuple: raise on an error, else the value(s) after the code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != rt.cudaError_t.cudaSuccess:
        name = rt.cudaGetErrorName(err)[1]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name in NO_GPU_ERRORS:
            raise BackendUnavailable(f"no usable NVIDIA GPU here: {what} failed with {name}")
        raise ArtifactError(f"CUDA {what} failed: {name}")
    return values[0] if len(values) == 1 else tuple(values) or None


def device_index(device: str) -> int:
    """'cuda' -> 0, 'cuda:1' -> 1 (the TensorRT backend's device strings)."""
    _, _, idx = device.partition(":")
    try:
        return int(idx) if idx else 0
    except ValueError:
        raise BackendUnavailable(f"device {device!r}: expected cuda or cuda:N") from None


def gpu_facts(device: int = 0) -> dict[str, str]:
    """Name and compute capability of CUDA device `device` (what an engine is tied to)."""
    rt = runtime()
    count = call(rt, "cudaGetDeviceCount", rt.cudaGetDeviceCount())
    if count <= device:
        raise BackendUnavailable(f"no CUDA device {device} here ({count} found)")
    props = call(rt, "cudaGetDeviceProperties", rt.cudaGetDeviceProperties(device))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return {"gpu_name": name.rstrip("\x00"), "compute_capability": f"{props.major}.{props.minor}"}


class DeviceBuffer:
    """A cudaMalloc'd buffer that grows to the largest size asked for (freed on close)."""

    def __init__(self, rt: ModuleType) -> None:
        self._rt, self.ptr, self.nbytes = rt, 0, 0

    def reserve(self, nbytes: int) -> int:
        if nbytes > self.nbytes:
            self.free()
            self.ptr = int(call(self._rt, "cudaMalloc", self._rt.cudaMalloc(nbytes)))
            self.nbytes = nbytes
        return self.ptr

    def free(self) -> None:
        if self.ptr:
            call(self._rt, "cudaFree", self._rt.cudaFree(self.ptr))
            self.ptr, self.nbytes = 0, 0


class Stream:
    """One CUDA stream on one device, with host<->device copies on it."""

    def __init__(self, device: int) -> None:
        self.rt = rt = runtime()
        call(rt, "cudaSetDevice", rt.cudaSetDevice(device))
        self.handle = call(rt, "cudaStreamCreate", rt.cudaStreamCreate())

    def to_device(self, dst: int, host: np.ndarray) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        call(self.rt, "cudaMemcpyAsync", self.rt.cudaMemcpyAsync(
            dst, host.ctypes.data, host.nbytes, kind, self.handle))

    def to_host(self, host: np.ndarray, src: int) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        call(self.rt, "cudaMemcpyAsync", self.rt.cudaMemcpyAsync(
            host.ctypes.data, src, host.nbytes, kind, self.handle))

    def synchronize(self) -> None:
        call(self.rt, "cudaStreamSynchronize", self.rt.cudaStreamSynchronize(self.handle))

    def close(self) -> None:
        if self.handle is not None:
            call(self.rt, "cudaStreamDestroy", self.rt.cudaStreamDestroy(self.handle))
            self.handle = None
