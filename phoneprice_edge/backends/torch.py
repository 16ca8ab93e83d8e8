"""PyTorch backends: the reference (a checkpoint in eval mode) and TorchScript artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.backends.base import Backend, IOSpec, TensorSpec
from phoneprice_edge.backends.common import artifact_file, artifact_manifest, io_from_manifest
from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.errors import ArtifactError, BackendUnavailable


def _device(device: str) -> torch.device:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"device {device!r} requested but torch sees no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise BackendUnavailable(f"torch backends run on cpu or cuda, not {device!r}")
    return torch.device(device)


class _TorchModuleBackend(Backend):
    """Shared run path: numpy -> tensor on the device -> logits -> numpy float32."""

    def __init__(self, module: torch.nn.Module, spec: IOSpec, device: str) -> None:
        self._dev = _device(device)
        self._module = module.to(self._dev).eval()
        self._spec = spec
        self.device = device

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self._module(torch.from_numpy(x).to(self._dev))
        return out.float().cpu().numpy()


class TorchBackend(_TorchModuleBackend):
    """The reference: the PyTorch checkpoint in eval mode (artifact = the .pt file or a run dir)."""

    name = "torch"

    @classmethod
    def load(cls, artifact: str | Path, device: str = "cpu", **options: Any) -> TorchBackend:
        path = Path(artifact)
        if path.is_dir():
            path = path / "checkpoints" / "best_model.pt"
        if options.get("threads"):
            torch.set_num_threads(int(options["threads"]))
        loaded = load_model(path)
        spec = IOSpec(inputs=(TensorSpec("input", (None, loaded.config.in_features)),),
                      outputs=(TensorSpec("logits", (None, loaded.config.num_classes)),))
        return cls(loaded.model, spec, device)


class TorchScriptBackend(_TorchModuleBackend):
    """A TorchScript export folder (model.pt) loaded with torch.jit.load."""

    name = "torchscript"

    @classmethod
    def load(cls, artifact: str | Path, device: str = "cpu", **options: Any) -> TorchScriptBackend:
        manifest = options.get("manifest") or artifact_manifest(artifact)
        if options.get("threads"):
            torch.set_num_threads(int(options["threads"]))
        path = artifact_file(artifact, manifest, "torchscript")
        if manifest.get("precision") == "int8" and device != "cpu":
            raise BackendUnavailable("torch int8 (quantized::linear, fbgemm/x86) modules run on the CPU only")
        try:
            module = torch.jit.load(str(path), map_location=_device(device))
        except RuntimeError as exc:
            raise ArtifactError(f"{path}: torch.jit.load failed: {str(exc).splitlines()[0]}") \
                from None
        return cls(module, io_from_manifest(manifest), device)
