"""The registry of export targets: formats, precisions, options, and what each needs on the host."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
# The Linear layers an int8_keep_fp32 option may name by role: "first" reads the standardised
# input, "last" produces the logits (the head), "wide" is the linear skip path into the logits.
LAYER_ROLES: tuple[str, ...] = ("first", "last", "wide")

# Option tables: section -> key -> allowed python type(s) (a tuple of strings = allowed values).
OptionTable = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """One deployment target: the format it writes, what it supports, and where its code lives."""

    name: str
    fmt: str
    suffix: str
    precisions: tuple[str, ...]
    exporter: str  # "module:function" taking an ExportContext, returning the files it wrote
    backend: str  # "module:Class" implementing backends.base.Backend
    needs_gpu: bool = False
    packages: tuple[str, ...] = ()  # python modules the exporter and backend import
    int8_packages: tuple[str, ...] = ()  # extra modules int8 export needs
    install_hint: str = ""  # how to get the packages
    calibration_methods: tuple[str, ...] = ()  # () = int8 takes no calibration section
    options: OptionTable = field(default_factory=dict)  # the target's own TOML section(s)
    deferrable: bool = False  # can write the build recipe instead of building (--defer-build)
    # "module:function" returning why this host cannot run the target beyond python packages
    # (a native library not built, ...), or None; called only when the packages are present.
    host_check: str = ""
    # how int8 layers quantize their inputs: "static" (calibrated per-tensor uint8 ranges) or
    # "dynamic" (symmetric int8 per row at run time); export/int8_prep.py simulates it
    int8_activations: str = "static"
    int8_split_default: bool = False  # activation_split when a profile does not say

    def load_exporter(self) -> Callable[..., list[str]]:
        return _resolve(self.exporter)

    def load_backend(self) -> type:
        return _resolve(self.backend)

    def unavailable_reason(self, precision: str = "fp32", defer_build: bool = False) -> str | None:
        """Why this target cannot export/run here (None when it can)."""
        for spec in (self.exporter, self.backend):
            module = spec.partition(":")[0]
            if importlib.util.find_spec(module) is None:
                return f"{module} is not part of this installation yet"
        if defer_build and self.deferrable:
            return None
        mods = self.packages + (self.int8_packages if precision == "int8" else ())
        missing = [m for m in mods if importlib.util.find_spec(m) is None]
        reasons = []
        if missing:
            hint = f" ({self.install_hint})" if self.install_hint else ""
            reasons.append(f"python package(s) not installed: {', '.join(missing)}{hint}")
        if self.needs_gpu and not cuda_available():
            reasons.append("no NVIDIA GPU with CUDA on this host")
        if self.host_check and not missing:
            why = _resolve(self.host_check)()
            if why:
                reasons.append(why)
        return "; ".join(reasons) or None


def _resolve(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def cuda_available() -> bool:
    """True when torch sees a CUDA device (the GPU probe every GPU target uses)."""
    try:
        import torch
        return bool(torch.cuda.is_available())
    except ImportError:
        return False


_ONNX_CALIB = ("minmax", "entropy", "percentile")

TARGETS: dict[str, Target] = {
    "torchscript": Target(
        name="torchscript", fmt="torchscript", suffix=".pt", precisions=("fp32", "int8"),
        exporter="phoneprice_edge.export.torchscript:export_torchscript",
        backend="phoneprice_edge.backends.torch:TorchScriptBackend",
        options={"torchscript": {"method": ("trace", "script"),
                                 "int8_keep_fp32": list, "activation_split": bool}},
    ),
    "onnx": Target(
        name="onnx", fmt="onnx", suffix=".onnx", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.onnx:export_onnx",
        backend="phoneprice_edge.backends.onnxruntime:OnnxRuntimeBackend",
        packages=("onnx", "onnxruntime"), calibration_methods=_ONNX_CALIB,
        options={"onnx": {"per_channel": bool, "activation_symmetric": bool,
                          "keep_input_layers_float": bool, "float_outputs": bool,
                          "activation_split": bool, "exporter": ("dynamo", "legacy")}},
    ),
    "openvino": Target(
        name="openvino", fmt="openvino-ir", suffix=".xml", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.openvino:export_openvino",
        backend="phoneprice_edge.backends.openvino:OpenVINOBackend",
        packages=("onnx", "openvino"), int8_packages=("nncf",), install_hint="install phoneprice_edge[openvino]",
        calibration_methods=("minmax",),
        options={"openvino": {"device": str, "inference_precision": ("f32", "f16", "bf16"),
                              "preset": ("performance", "mixed"), "keep_first_float": bool,
                              "quantizer": ("onnx-qdq", "nncf"), "activation_split": bool,
                              "activation_levels": int, "per_channel": bool}},
    ),
    "tensorrt": Target(
        name="tensorrt", fmt="tensorrt-engine", suffix=".plan", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.tensorrt:export_tensorrt",
        backend="phoneprice_edge.backends.tensorrt:TensorRTBackend",
        needs_gpu=True, packages=("onnx", "onnxruntime", "tensorrt"),
        install_hint="NVIDIA TensorRT 10 for Python, on a host with a CUDA GPU",
        calibration_methods=_ONNX_CALIB, deferrable=True,
        options={"tensorrt": {"workspace_mb": int, "timing_cache": str, "device_name": str,
                              "compute_capability": str, "build_on_device": bool,
                              "builder_optimization_level": int}},
    ),
    "cpp": Target(
        name="cpp", fmt="cpp-edge", suffix=".pem", precisions=("fp32", "int8"),
        exporter="phoneprice_edge.export.cpp:export_cpp",
        backend="phoneprice_edge.backends.cpp:CppBackend",
        # the export's reload check runs the artifact through libpe_runtime.so
        host_check="phoneprice_edge.backends.cpp:unavailable_reason",
        # int8 takes no calibration: activation scales are computed per row at run time
        options={"cpp": {"int8_keep_fp32": list, "activation_split": bool,
                          "activation_scheme": ("dynamic", "static")}},
        int8_activations="dynamic", int8_split_default=True,
    ),
}


def target_names() -> list[str]:
    """Registered target names in registry order (for click.Choice and docs)."""
    return list(TARGETS)
