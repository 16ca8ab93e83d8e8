"""TensorRT backend (TensorRT 10 Python API, torch CUDA tensors as device buffers); refuses an
engine built for another GPU or TensorRT version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend, IOSpec
from phoneprice_edge.backends.common import (
    artifact_file,
    io_from_manifest,
    manifest_of,
    vendor,
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


def gpu_facts(trt: Any) -> dict[str, Any]:
    """TensorRT version, GPU name and compute capability of this host (engines are tied to them)."""
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs an NVIDIA GPU with CUDA; none on this host")
    major, minor = torch.cuda.get_device_capability(0)
    return {"tensorrt_version": trt.__version__, "gpu_name": torch.cuda.get_device_name(0),
            "compute_capability": f"{major}.{minor}"}


class TensorRTBackend(Backend):
    """A TensorRT engine (model.plan) executed with execute_async_v3 on one CUDA stream."""

    name = "tensorrt"

    def __init__(self, engine: Any, spec: IOSpec, device: str, torch: Any) -> None:
        self._torch = torch
        self._engine = engine
        self._context = engine.create_execution_context()
        self._spec = spec
        self._in, self._out = spec.inputs[0].name, spec.outputs[0].name
        self._dev = torch.device(device if device.startswith("cuda") else "cuda")
        self._stream = torch.cuda.Stream(device=self._dev)
        self.device = str(self._dev)

    @classmethod
    def load(cls, artifact: str | Path, device: str = "cuda", **options: Any) -> TensorRTBackend:
        trt = vendor("tensorrt", "tensorrt")
        import torch

        manifest = manifest_of(artifact, options)
        if not torch.cuda.is_available():
            raise BackendUnavailable("TensorRT engines need an NVIDIA GPU with CUDA; none here")
        built = dict(manifest.fact("tensorrt") or {})
        built["profile"] = manifest.profile_name
        check_engine_host(built, gpu_facts(trt), artifact)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        plan = artifact_file(artifact, manifest, "tensorrt")
        engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if engine is None:
            raise ArtifactError(f"{artifact}: TensorRT could not deserialize {plan.name}")
        dev = "cuda" if device == "cpu" else device
        return cls(engine, io_from_manifest(manifest), dev, torch)

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        n = x.shape[0]
        with torch.cuda.stream(self._stream):
            xin = torch.from_numpy(x).to(self._dev, non_blocking=True)
            out = torch.empty((n, self._spec.n_classes), dtype=torch.float32, device=self._dev)
            self._context.set_input_shape(self._in, (n, x.shape[1]))
            self._context.set_tensor_address(self._in, xin.data_ptr())
            self._context.set_tensor_address(self._out, out.data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            result = out.cpu()
        self._stream.synchronize()
        return result.numpy()

    def close(self) -> None:
        self._context = None
        self._engine = None
