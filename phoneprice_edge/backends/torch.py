"""The TorchScript backend (model.pt run with torch.jit); torch is imported only on load, and a
host without it gets a one-line BackendUnavailable. The eager reference is build side
(export/reference.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend, IOSpec, LoadOptions
from phoneprice_edge.backends.common import artifact_file, io_from_manifest, manifest_of
from phoneprice_edge.errors import ArtifactError, BackendUnavailable


def import_torch() -> Any:
    """torch, or BackendUnavailable naming what to install."""
    try:
        import torch
    except ImportError:
        raise BackendUnavailable("TorchScript artifacts need torch, which is not installed here: "
                                 "install torch (pip install torch), or export to onnx or cpp "
                                 "for this device") from None
    return torch


def torch_device(torch: Any, device: str) -> Any:
    """A torch.device for cpu or cuda (BackendUnavailable for a missing GPU or another device)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"device {device!r} requested but torch sees no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise BackendUnavailable(f"torch backends run on cpu or cuda, not {device!r}")
    return torch.device(device)


class TorchModuleBackend(Backend):
    """Shared run path: numpy -> tensor on the device -> logits -> numpy float32."""

    def __init__(self, module: Any, spec: IOSpec, device: str) -> None:
        self._torch = import_torch()
        self._dev = torch_device(self._torch, device)
        self._module = module.to(self._dev).eval()
        self._spec = spec
        self.device = device

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self._module(torch.from_numpy(x).to(self._dev))
        return out.float().cpu().numpy()

    def _close(self) -> None:
        self._module = None


class TorchScriptBackend(TorchModuleBackend):
    """A TorchScript export folder (model.pt) loaded with torch.jit.load."""

    name = "torchscript"

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> TorchScriptBackend:
        from phoneprice_edge.artifact import version_note

        manifest = manifest_of(artifact, options)
        torch = import_torch()
        if options.threads:
            torch.set_num_threads(options.threads)
        path = artifact_file(artifact, manifest, "torchscript")
        if manifest.precision == "int8" and device != "cpu":
            raise BackendUnavailable("torch int8 (quantized::linear, fbgemm/x86) modules run on the CPU only")
        try:
            module = torch.jit.load(str(path), map_location=torch_device(torch, device))
        except RuntimeError as exc:
            raise ArtifactError(f"{path}: torch.jit.load failed: {str(exc).splitlines()[0]}"
                                f"{version_note(manifest, 'torch')}") from None
        return cls(module, io_from_manifest(manifest), device)
