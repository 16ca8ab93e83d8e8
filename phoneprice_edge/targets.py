"""The registry of export targets: formats, precisions, typed options, and what each needs on the host."""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
# The Linear layers an int8_keep_fp32 option may name by role: "first" reads the standardised
# input, "last" produces the logits (the head), "wide" is the linear skip path into the logits.
LAYER_ROLES: tuple[str, ...] = ("first", "last", "wide")
_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
          list: "a list"}


@dataclass(frozen=True)
class Option:
    """One export option: its type, default, allowed values (choices; for a list, the allowed
    items) or range, and whether a profile may set it (fixed: the value this target's shared code
    path always uses, e.g. TensorRT's ONNX is always per-channel; a profile setting it is an
    unknown key)."""

    kind: type
    default: Any = None  # None: not set (the library's own default, e.g. TensorRT's level 3)
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    pattern: str = ""  # strings: a full-match regex
    fixed: bool = False
    help: str = ""

    def allowed(self) -> str:
        """What a value must be, in words ('one of a, b', 'an integer in 0..5', ...)."""
        if self.kind is list:
            return f"a list of {', '.join(map(str, self.choices))} (each at most once)" \
                if self.choices else "a list"
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        what = _NAMES[self.kind]
        if self.min is not None and self.max is not None:
            what += f" in {self.min:g}..{self.max:g}"
        elif self.min is not None:
            what += f" >= {self.min:g}"
        elif self.max is not None:
            what += f" <= {self.max:g}"
        if self.pattern:
            what += f" matching {self.pattern}"
        return what

    def check(self, value: Any) -> Any:
        """The value, normalised (int -> float for floats); ValueError(allowed()) if not allowed."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, self.kind) and (self.kind is bool) == isinstance(value, bool)
        if ok and self.kind is list:
            ok = not self.choices or (all(isinstance(v, str) and v in self.choices for v in value)
                                      and len(set(value)) == len(value))
        elif ok and self.choices:
            ok = value in self.choices
        if ok and self.min is not None:
            ok = value >= self.min
        if ok and self.max is not None:
            ok = value <= self.max
        if ok and self.pattern:
            ok = re.fullmatch(self.pattern, value) is not None
        if not ok:
            raise ValueError(self.allowed())
        return list(value) if self.kind is list else value


# section -> key -> Option: the TOML section(s) a target reads (fixed options included)
OptionTable = dict[str, dict[str, Option]]

@dataclass(frozen=True)
class Target:
    """One deployment target: the format it writes, what it supports, and where its code lives."""

    name: str
    fmt: str
    suffix: str
    precisions: tuple[str, ...]
    exporter: str  # "module:function": ExportInputs -> ExportOutput (export/base.py)
    backend: str  # "module:Class" implementing backends.base.Backend
    needs_gpu: bool = False
    packages: tuple[str, ...] = ()  # python modules the exporter and backend import
    int8_packages: tuple[str, ...] = ()  # extra modules int8 export needs
    install_hint: str = ""  # how to get the packages
    calibration_methods: tuple[str, ...] = ()  # () = int8 takes no calibration section
    options: OptionTable = field(default_factory=dict)  # the target's own TOML section, typed
    deferrable: bool = False  # can write the build recipe instead of building (--defer-build)
    # "module:function" returning why this host cannot run the target beyond python packages
    # (a native library not built, ...), or None; called only when the packages are present.
    host_check: str = ""
    # how int8 layers quantize their inputs: "static" (calibrated per-tensor uint8 ranges) or
    # "dynamic" (symmetric int8 per row at run time); export/int8_prep.py simulates it
    int8_activations: str = "static"
    runtime: str = ""  # the README table's runtime column
    notes: str = ""  # the README table's notes column

    def option_spec(self, key: str) -> Option:
        """The Option `key` of this target's section; KeyError (a programming error) if none."""
        for table in self.options.values():
            if key in table:
                return table[key]
        raise KeyError(f"target {self.name} has no option {key!r}")

    def has_option(self, key: str) -> bool:
        return any(key in table for table in self.options.values())

    def settable(self) -> OptionTable:
        """The options a profile may set, per section (fixed ones left out)."""
        return {sec: {k: o for k, o in table.items() if not o.fixed}
                for sec, table in self.options.items()}

    def load_exporter(self) -> Callable[..., Any]:
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
_LEVELS = "uint8 levels a calibrated range is spread over (127 keeps u8 x s8 pairs inside int16)"
_SPLIT = "int8 layers quantize their input twice (coarse + residual, same int8 weights)"
_FILE = r"[A-Za-z0-9][A-Za-z0-9._-]*"


def _onnx_options(**kw: Option) -> dict[str, Option]:
    """The options the shared ONNX writer (export/onnx.py) reads, with per-target overrides."""
    base = {
        "exporter": Option(str, "dynamo", ("dynamo", "legacy"), help="torch.onnx exporter"),
        "per_channel": Option(bool, True, help="int8 weights per output channel"),
        "activation_symmetric": Option(bool, False, help="int8 activations symmetric (int8) "
                                                         "instead of uint8 asymmetric"),
        "keep_input_layers_float": Option(bool, False, help="int8: the first layer stays float"),
        "float_outputs": Option(bool, False, help="int8: no Q/DQ on the Gemm outputs"),
        "activation_split": Option(bool, False, help=_SPLIT),
        "activation_levels": Option(int, 255, min=2, max=255, help=_LEVELS),
    }
    return {**base, **kw}


def _fixed(opt: Option, value: Any) -> Option:
    return Option(opt.kind, value, opt.choices, opt.min, opt.max, opt.pattern, True, opt.help)


_ONNX = _onnx_options()
_FIXED_ONNX = {k: _fixed(o, o.default) for k, o in _ONNX.items()}

TARGETS: dict[str, Target] = {
    "torchscript": Target(
        name="torchscript", fmt="torchscript", suffix=".pt", precisions=("fp32", "int8"),
        exporter="phoneprice_edge.export.torchscript:export_torchscript",
        backend="phoneprice_edge.backends.torch:TorchScriptBackend",
        options={"torchscript": {
            "method": Option(str, "trace", ("trace", "script"), help="torch.jit.trace or script"),
            "int8_keep_fp32": Option(list, [], LAYER_ROLES, help="int8: layers kept fp32"),
            "activation_split": Option(bool, False, help=_SPLIT),
            "activation_levels": _fixed(_ONNX["activation_levels"], 255)}},
        runtime="libtorch / PyTorch",
        notes="int8: static fbgemm int8 Linear layers (calibrated input scales)",
    ),
    "onnx": Target(
        name="onnx", fmt="onnx", suffix=".onnx", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.onnx:export_onnx",
        backend="phoneprice_edge.backends.onnxruntime:OnnxRuntimeBackend",
        packages=("onnx", "onnxruntime"), calibration_methods=_ONNX_CALIB,
        options={"onnx": {**_ONNX, "activation_levels": _fixed(_ONNX["activation_levels"], 255)}},
        runtime="ONNX Runtime (CPU; CUDA / TensorRT providers checked, never silently CPU)",
        notes="int8: static QDQ calibrated on training rows (ORT fuses it into QGemm)",
    ),
    "openvino": Target(
        name="openvino", fmt="openvino-ir", suffix=".xml", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.openvino:export_openvino",
        backend="phoneprice_edge.backends.openvino:OpenVINOBackend",
        packages=("onnx", "openvino"), int8_packages=("nncf",), install_hint="install phoneprice_edge[openvino]",
        calibration_methods=("minmax",),
        options={"openvino": {
            "device": Option(str, "CPU", help="OpenVINO device the artifact is validated on"),
            "inference_precision": Option(str, "f32", ("f32", "f16", "bf16"),
                                          help="pinned inference precision hint"),
            "preset": Option(str, "mixed", ("performance", "mixed"), help="NNCF preset"),
            "keep_first_float": Option(bool, True, help="NNCF: the first MatMul stays float"),
            "quantizer": Option(str, "nncf", ("onnx-qdq", "nncf"), help="int8 quantizer"),
            "activation_split": _ONNX["activation_split"],
            "activation_levels": _ONNX["activation_levels"],
            "per_channel": _ONNX["per_channel"],
            "exporter": _FIXED_ONNX["exporter"]}},
        runtime="OpenVINO",
        notes="inference precision pinned from the manifest (this CPU runs bf16 by default); int8 "
              "from the QDQ ONNX (activations on 0..127, safe from int16 saturation on CPUs "
              "without VNNI), or NNCF with `quantizer = \"nncf\"`",
    ),
    "tensorrt": Target(
        name="tensorrt", fmt="tensorrt-engine", suffix=".plan", precisions=("fp32", "fp16", "int8"),
        exporter="phoneprice_edge.export.tensorrt:export_tensorrt",
        backend="phoneprice_edge.backends.tensorrt:TensorRTBackend",
        needs_gpu=True, packages=("onnx", "onnxruntime", "tensorrt"),
        install_hint="NVIDIA TensorRT 10 for Python, on a host with a CUDA GPU",
        calibration_methods=_ONNX_CALIB, deferrable=True,
        options={"tensorrt": {
            "workspace_mb": Option(int, 1024, min=1, help="builder workspace (MiB)"),
            "timing_cache": Option(str, "timing.cache", pattern=_FILE,
                                   help="timing cache file name in the artifact folder"),
            "device_name": Option(str, None, help="the device a build_on_device engine is for"),
            "compute_capability": Option(str, None, pattern=r"[0-9]+\.[0-9]+",
                                         help="its compute capability, e.g. 8.7"),
            "build_on_device": Option(bool, False, help="refuse to build on another GPU"),
            "builder_optimization_level": Option(int, None, min=0, max=5,
                                                 help="TensorRT builder optimization level "
                                                      "(unset: TensorRT's default, 3)"),
            # the QDQ ONNX TensorRT reads: symmetric int8 activations, biases left float
            **_FIXED_ONNX, "activation_symmetric": _fixed(_ONNX["activation_symmetric"], True)}},
        runtime="TensorRT 10",
        notes="needs a GPU and TensorRT; `--defer-build` writes the ONNX + `build_engine.sh` "
              "(trtexec) for the device",
    ),
    "cpp": Target(
        name="cpp", fmt="cpp-edge", suffix=".pem", precisions=("fp32", "int8"),
        exporter="phoneprice_edge.export.cpp:export_cpp",
        backend="phoneprice_edge.backends.cpp:CppBackend",
        # the export's reload check runs the artifact through libpe_runtime.so
        host_check="phoneprice_edge.backends.cpp:unavailable_reason",
        # int8: static (calibrated on the training rows at export; the built-in cpp-int8 profile,
        # int16 activations) or dynamic (per-row scales at run time, no calibration)
        options={"cpp": {
            "int8_keep_fp32": Option(list, list(LAYER_ROLES), LAYER_ROLES,
                                     help="int8: layers kept fp32"),
            "activation_split": Option(bool, True, help=_SPLIT),
            "activation_scheme": Option(str, "dynamic", ("dynamic", "static"),
                                        help="int8 activation scales per row at run time, or "
                                             "calibrated at export"),
            "activation_bits": Option(int, 8, (8, 16),
                                      help="static int8: activation width, 8 (uint8) or 16 (int16, "
                                           "W8A16, .pem format version 3)"),
            "activation_levels": _fixed(_ONNX["activation_levels"], 255)}},
        int8_activations="dynamic",
        runtime="[cpp_runtime/](cpp_runtime/README.md)",
        notes="`model.pem` + `model_pem.h`, C and C++ APIs, no dependencies; int8: integer-only, "
              "per-channel int8 weights, static int16 activations calibrated at export (W8A16; "
              "`activation_bits = 8` or the per-row `dynamic` scheme on request)",
    ),
}


def target_names() -> list[str]:
    """Registered target names in registry order (for click.Choice and docs)."""
    return list(TARGETS)
