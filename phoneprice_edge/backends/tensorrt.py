"""TensorRT backend (TensorRT 10 Python API; CUDA buffers and stream from cuda-python, no torch);
refuses an engine built for another GPU or TensorRT version."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend, IOSpec, LoadOptions
from phoneprice_edge.backends.common import (
    artifact_file,
    io_from_manifest,
    manifest_of,
)
from phoneprice_edge.errors import ArtifactError, BackendUnavailable


def check_engine_host(built: dict[str, Any], here: dict[str, Any], artifact: str | Path) -> None:
    """Refuse an engine whose TensorRT version or GPU differs from this host's (pure)."""
    for key, what in (("tensorrt_version", "TensorRT version"),
                      ("compute_capability", "GPU compute capability"), ("gpu_name", "GPU")):
        if built.get(key) != here.get(key):
            raise ArtifactError(
                f"{artifact}: engine was built for {what} {built.get(key)!r}, this host has "
                f"{here.get(key)!r}; engines are not portable: rebuild it here with "
                f"pe-export --run RUN_DIR --profile {built.get('profile', 'PROFILE')} "
                f"(or run its build_engine.sh on this machine)")


def tensorrt_module() -> ModuleType:
    """NVIDIA's tensorrt package, or the one-line "install" error (it is not a pip extra: it comes
    with the TensorRT image, JetPack, or NVIDIA's pip wheel for this CUDA)."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailable(
            "tensorrt is not installed: use NVIDIA's TensorRT 10 (the Dockerfile.gpu image, "
            "JetPack, or `pip install tensorrt`) plus pip install 'phoneprice_edge[tensorrt]'"
        ) from None
    return tensorrt


def gpu_facts(trt: Any, device: int = 0) -> dict[str, Any]:
    """TensorRT version, GPU name and compute capability of this host (engines are tied to them).
    The GPU comes from cuda-python's CUDA runtime (the runtime path needs no torch); a build host
    without cuda-python but with torch CUDA uses torch."""
    from phoneprice_edge.backends import cudart

    try:
        gpu = cudart.gpu_facts(device)
    except cudart.CudaBindingsMissing as exc:
        gpu = _torch_gpu_facts(device, exc)
    return {"tensorrt_version": trt.__version__, **gpu}


def _torch_gpu_facts(device: int, why: BackendUnavailable) -> dict[str, str]:
    """The fallback where cuda-python is missing: torch CUDA, else the original one-line reason."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise why
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs an NVIDIA GPU with CUDA; none on this host")
    major, minor = torch.cuda.get_device_capability(device)
    return {"gpu_name": torch.cuda.get_device_name(device), "compute_capability": f"{major}.{minor}"}


class TensorRTBackend(Backend):
    """A TensorRT engine (model.plan) run with execute_async_v3 on one CUDA stream; device buffers
    come from cuda-python's CUDA runtime bindings (no torch)."""

    name = "tensorrt"

    def __init__(self, engine: Any, spec: IOSpec, device: int) -> None:
        from phoneprice_edge.backends import cudart

        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise ArtifactError("TensorRT could not create an execution context (GPU memory?)")
        self._spec = spec
        self._in, self._out = spec.inputs[0].name, spec.outputs[0].name
        self._stream = cudart.Stream(device)
        self._dx, self._dy = cudart.DeviceBuffer(self._stream.rt), cudart.DeviceBuffer(self._stream.rt)
        self.device = f"cuda:{device}"

    @classmethod
    def load(cls, artifact: str | Path, device: str = "cuda",
             options: LoadOptions | None = None, **more: Any) -> TensorRTBackend:
        """As Backend.load, on the GPU by default."""
        return super().load(artifact, device, options, **more)

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> TensorRTBackend:
        trt = tensorrt_module()
        from phoneprice_edge.backends import cudart

        manifest = manifest_of(artifact, options)
        index = 0 if device == "cpu" else cudart.device_index(device)
        built = dict(manifest.fact("tensorrt") or {})
        built["profile"] = manifest.profile_name
        check_engine_host(built, gpu_facts(trt, index), artifact)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        plan = artifact_file(artifact, manifest, "tensorrt")
        engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if engine is None:
            raise ArtifactError(f"{artifact}: TensorRT could not deserialize {plan.name}")
        return cls(engine, io_from_manifest(manifest), index)

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty((x.shape[0], self._spec.n_classes), dtype=np.float32)
        dx, dy = self._dx.reserve(max(x.nbytes, 4)), self._dy.reserve(max(out.nbytes, 4))
        self._stream.to_device(dx, x)
        if not self._context.set_input_shape(self._in, tuple(x.shape)):
            raise ArtifactError(f"TensorRT refused input shape {tuple(x.shape)} (outside the "
                                "engine's optimization profile)")
        self._context.set_tensor_address(self._in, dx)
        self._context.set_tensor_address(self._out, dy)
        if not self._context.execute_async_v3(int(self._stream.handle)):
            raise ArtifactError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        self._stream.to_host(out, dy)
        self._stream.synchronize()
        return out

    def _close(self) -> None:
        self._context = None
        self._engine = None
        for res in ("_dx", "_dy", "_stream"):
            obj = getattr(self, res, None)
            if obj is not None:
                (obj.free if res != "_stream" else obj.close)()
