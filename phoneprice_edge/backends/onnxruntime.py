"""ONNX Runtime backend: CPU, and the CUDA / TensorRT execution providers where they load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend, IOSpec, LoadOptions
from phoneprice_edge.backends.common import (
    artifact_file,
    io_from_manifest,
    manifest_of,
    vendor,
)

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class OnnxRuntimeBackend(Backend):
    """An ONNX export folder run with onnxruntime.InferenceSession."""

    name = "onnxruntime"

    def __init__(self, session: Any, spec: IOSpec, device: str) -> None:
        self._session = session
        self._spec = spec
        self._in = session.get_inputs()[0].name
        self._out = [session.get_outputs()[0].name]
        self._sess_run = session.run
        self.device = device

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> OnnxRuntimeBackend:
        ort = vendor("onnxruntime", "onnx")
        from phoneprice_edge.artifact import version_note
        from phoneprice_edge.errors import ArtifactError, BackendUnavailable

        manifest = manifest_of(artifact, options)
        kind, _, index = device.partition(":")
        if kind not in PROVIDERS or (index and (kind == "cpu" or not index.isdigit())):
            raise BackendUnavailable(f"onnxruntime device must be one of {', '.join(PROVIDERS)} "
                                     f"(cuda:N, tensorrt:N for the N-th GPU), got {device!r}")
        wanted = PROVIDERS[kind]
        gpu = {"device_id": int(index)} if index else {}
        so = ort.SessionOptions()
        if options.threads:
            so.intra_op_num_threads = options.threads
        so.log_severity_level = 3
        path = artifact_file(artifact, manifest, "onnx")
        try:
            session = ort.InferenceSession(str(path), sess_options=so, providers=wanted,
                                           provider_options=[gpu if p != wanted[-1] else {}
                                                             for p in wanted])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ArtifactError(f"{path}: onnxruntime cannot load it: {str(exc).splitlines()[0]}"
                                f"{version_note(manifest, 'onnxruntime')}") from None
        # ONNX Runtime falls back to the CPU silently when a GPU provider cannot load.
        if wanted[0] not in session.get_providers():
            raise BackendUnavailable(
                f"{wanted[0]} did not load (available here: "
                f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu with "
                f"matching CUDA/TensorRT libraries, or use --device cpu")
        return cls(session, io_from_manifest(manifest), device)

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self._sess_run(self._out, {self._in: x})[0]

    def _close(self) -> None:
        self._session = None
        self._sess_run = None
