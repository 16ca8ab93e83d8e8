"""OpenVINO backend: a compiled model and one reused infer request, precision hint from the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.artifact import Manifest, version_note
from phoneprice_edge.backends.base import Backend, IOSpec, LoadOptions
from phoneprice_edge.backends.common import (
    artifact_file,
    io_from_manifest,
    manifest_of,
    vendor,
)
from phoneprice_edge.errors import ArtifactError, BackendUnavailable


class OpenVINOBackend(Backend):
    """An OpenVINO IR export folder (model.xml + model.bin)."""

    name = "openvino"

    def __init__(self, compiled: Any, spec: IOSpec, device: str, precision: str) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._spec = spec
        self.device = device
        self.inference_precision = precision

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> OpenVINOBackend:
        from phoneprice_edge.numerics import openvino_uncapped

        ov = vendor("openvino", "openvino")
        manifest = manifest_of(artifact, options)
        facts = manifest.fact("openvino") or {}
        ov_device = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU"}.get(device.lower(), device)
        precision = options.inference_precision or facts.get("inference_precision", "f32")
        with openvino_uncapped():  # its own oneDNN must not run capped at SSE4.1
            return cls._compile(ov, artifact, manifest, device, ov_device, precision, options)

    @classmethod
    def _compile(cls, ov: Any, artifact: str | Path, manifest: Manifest, device: str,
                 ov_device: str, precision: str, options: LoadOptions) -> OpenVINOBackend:
        core = ov.Core()
        if ov_device.split(".")[0] not in {d.split(".")[0] for d in core.available_devices}:
            raise BackendUnavailable(f"OpenVINO device {ov_device} not present (available: "
                                     f"{', '.join(core.available_devices)})")
        xml = artifact_file(artifact, manifest, "openvino")
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision}
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        try:
            compiled = core.compile_model(core.read_model(str(xml)), ov_device, config)
        except RuntimeError as exc:
            raise ArtifactError(f"{xml}: OpenVINO cannot load it: {str(exc).splitlines()[0]}"
                                f"{version_note(manifest, 'openvino')}") from None
        got = compiled.get_property("INFERENCE_PRECISION_HINT")
        if ov_device == "CPU" and got != getattr(ov.Type, precision):
            raise BackendUnavailable(f"OpenVINO {ov_device} ignored inference precision "
                                     f"{precision} (runs {got})")
        return cls(compiled, io_from_manifest(manifest), device, precision)

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = self._request.infer({0: x}, share_inputs=True)
        return np.asarray(out[0], dtype=np.float32).copy()

    def _close(self) -> None:
        self._request = None
        self._compiled = None
