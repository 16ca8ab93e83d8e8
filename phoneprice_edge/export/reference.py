"""The eager PyTorch reference (build side): a run's checkpoint in eval mode behind the Backend
protocol, for parity, golden rows and `pe bench --reference`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.backends.base import IOSpec, LoadOptions, TensorSpec
from phoneprice_edge.backends.torch import TorchModuleBackend, import_torch
from phoneprice_edge.checkpoint import load_model


class TorchBackend(TorchModuleBackend):
    """The reference: the PyTorch checkpoint in eval mode (artifact = the .pt file or a run dir)."""

    name = "torch"

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> TorchBackend:
        path = Path(artifact)
        if path.is_dir():
            path = path / "checkpoints" / "best_model.pt"
        if options.threads:
            import_torch().set_num_threads(options.threads)
        loaded = load_model(path)
        spec = IOSpec(inputs=(TensorSpec("input", (None, loaded.config.in_features)),),
                      outputs=(TensorSpec("logits", (None, loaded.config.num_classes)),))
        return cls(loaded.model, spec, device)


def load_reference(run_dir: str | Path, device: str = "cpu", **opts: Any) -> TorchBackend:
    """The PyTorch reference: RUN_DIR/checkpoints/best_model.pt in eval mode."""
    return TorchBackend.load(Path(run_dir), device=device, **opts)


def reference_loader():  # noqa: ANN201 - (run_dir, device, threads) -> Backend
    """The loader the bench harness calls for its eager reference row (injected by build-side callers)."""
    return lambda run_dir, device, threads: load_reference(run_dir, device=device, threads=threads)
