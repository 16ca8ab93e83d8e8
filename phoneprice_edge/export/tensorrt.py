"""TensorRT export: a TensorRT-friendly ONNX (QDQ for int8), then an engine built with the TRT 10
Python API on the GPU, or (--defer-build) a build_engine.sh with the equivalent trtexec command.
The torch-free run-time half (GPU facts, finalize after build_engine.sh) is tensorrt_engine.py."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import BackendUnavailable, ExportError
from phoneprice_edge.export.base import ExportInputs, ExportOutput
from phoneprice_edge.export.onnx import INPUT_NAME, ONNX_FILE, write_onnx_for_precision
from phoneprice_edge.export.profile import ExportProfile
from phoneprice_edge.export.tensorrt_engine import ENGINE_FILE, SCRIPT_FILE, gpu_facts
from phoneprice_edge.io_utils import atomic_write_bytes, atomic_write_text

# Ops this exporter emits that onnx-tensorrt (TensorRT 10, opsets 9..20) documents as supported
# (docs/operators.md of onnx/onnx-tensorrt); anything else is refused before a build is tried.
TRT_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Gemm", "MatMul", "Relu", "Gelu", "Erf",
                     "LayerNormalization", "BatchNormalization", "Identity", "Cast",
                     "QuantizeLinear", "DequantizeLinear", "Constant", "Reshape", "Flatten"})
QUANTIZED_CONSUMERS = ("Gemm", "MatMul")


@dataclass(frozen=True)
class BuilderSettings:
    """What the TensorRT builder (or trtexec) is told: shapes, precision flags, memory, cache."""

    input_name: str
    min_shape: tuple[int, int]
    opt_shape: tuple[int, int]
    max_shape: tuple[int, int]
    fp16: bool
    int8: bool
    workspace_bytes: int
    timing_cache: str
    device_name: str | None
    compute_capability: str | None
    build_on_device: bool
    optimization_level: int | None = None  # builder optimization level 0..5; None: TensorRT's (3)


def builder_settings(profile: ExportProfile, n_features: int) -> BuilderSettings:
    """Translate an export profile into builder settings (pure; testable without TensorRT). The
    values were checked against the option table (targets.py) when the profile was read."""
    b = profile.batch
    return BuilderSettings(
        input_name=INPUT_NAME, min_shape=(b.min, n_features), opt_shape=(b.opt, n_features),
        max_shape=(b.max, n_features), fp16=profile.precision in ("fp16", "int8"),
        int8=profile.precision == "int8",
        workspace_bytes=profile.option("workspace_mb") << 20,
        timing_cache=profile.option("timing_cache"),
        device_name=profile.option("device_name"),
        compute_capability=profile.option("compute_capability"),
        build_on_device=profile.option("build_on_device"),
        optimization_level=profile.option("builder_optimization_level"))


def trtexec_command(s: BuilderSettings, onnx: str = ONNX_FILE, engine: str = ENGINE_FILE) -> list[str]:
    """The trtexec command line equivalent to build_engine()."""
    def shape(t: tuple[int, int]) -> str:
        return f"{s.input_name}:{t[0]}x{t[1]}"
    cmd = ["trtexec", f"--onnx={onnx}", f"--saveEngine={engine}", f"--minShapes={shape(s.min_shape)}",
           f"--optShapes={shape(s.opt_shape)}", f"--maxShapes={shape(s.max_shape)}",
           f"--memPoolSize=workspace:{s.workspace_bytes >> 20}M",
           f"--timingCacheFile={s.timing_cache}"]
    if s.fp16:
        cmd.append("--fp16")
    if s.int8:
        cmd.append("--int8")  # explicit quantization: scales come from the QDQ nodes, no calibrator
    if s.optimization_level is not None:
        cmd.append(f"--builderOptimizationLevel={s.optimization_level}")
    return cmd


def build_script(s: BuilderSettings) -> str:
    """build_engine.sh: run trtexec beside the ONNX, on the device the engine is for."""
    where = (f"# Build this ON THE TARGET DEVICE ({s.device_name}, compute capability "
             f"{s.compute_capability}): a TensorRT engine only runs on the GPU model and TensorRT\n"
             "# version it was built with; cross-building from another GPU is not supported.\n"
             if s.build_on_device else
             "# Run on the machine with the NVIDIA GPU the engine is for (engines are not portable\n"
             "# across GPU models or TensorRT versions).\n")
    return ("#!/usr/bin/env bash\n"
            "# Builds model.plan from model.onnx with TensorRT's trtexec (written by pe-export --defer-build).\n"
            + where +
            "set -euo pipefail\ncd \"$(dirname \"$0\")\"\n"
            + " \\\n  ".join(shlex.quote(a) for a in trtexec_command(s)) + "\n"
            "echo \"built $(pwd)/model.plan; record it with: python -m phoneprice_edge.export.tensorrt_engine"
            " finalize $(pwd)\"\n")


def check_trt_friendly(model: Any, int8: bool) -> None:
    """Static ranks, ops from TRT_OPS, and (int8) QDQ feeding every Gemm/MatMul with zero points 0."""
    import onnx
    from onnx import numpy_helper

    g = model.graph
    for vi in list(g.input) + list(g.output):
        if not vi.type.tensor_type.HasField("shape") or len(vi.type.tensor_type.shape.dim) != 2:
            raise ExportError(f"ONNX tensor {vi.name} has no static rank 2 (TensorRT needs static ranks)")
    bad = sorted({n.op_type for n in g.node} - TRT_OPS)
    if bad:
        raise ExportError(f"ONNX uses op(s) outside the TensorRT allow-list: {', '.join(bad)}")
    if not int8:
        return
    producer = {o: n for n in g.node for o in n.output}
    inits = {t.name: t for t in g.initializer}
    for node in g.node:
        if node.op_type in QUANTIZED_CONSUMERS:
            for i in node.input[:2]:
                p = producer.get(i)
                if p is None or p.op_type != "DequantizeLinear":
                    raise ExportError(f"int8 ONNX: input {i!r} of {node.op_type} {node.name!r} is "
                                      "not fed by DequantizeLinear (explicit quantization needs QDQ)")
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zp = inits.get(node.input[2])
            if zp is not None and (numpy_helper.to_array(zp) != 0).any():
                raise ExportError(f"int8 ONNX: {node.name} has a non-zero zero point "
                                  "(TensorRT needs symmetric quantization)")
            if zp is not None and zp.data_type != onnx.TensorProto.INT8:
                raise ExportError(f"int8 ONNX: {node.name} quantizes to a type other than int8")


def export_tensorrt(inp: ExportInputs) -> ExportOutput:
    """Exporter for target 'tensorrt': model.onnx + model.plan, or (inp.defer_build) model.onnx
    + build_engine.sh, a deferred artifact."""
    import onnx

    from phoneprice_edge.export.onnx import write_fp32_onnx

    cfg = inp.loaded.config
    onnx_path = inp.out_dir / ONNX_FILE
    int8 = inp.profile.precision == "int8"
    if int8:  # the QDQ ONNX: symmetric int8 activations (fixed [tensorrt] options), float biases
        facts = write_onnx_for_precision(inp, onnx_path, quantize_bias=False)
    else:  # fp16 engines are built from the fp32 ONNX with the FP16 builder flag
        write_fp32_onnx(inp, onnx_path)
        facts = {}
    check_trt_friendly(onnx.load(str(onnx_path)), int8)
    s = builder_settings(inp.profile, cfg.in_features)
    facts["tensorrt_build"] = {"trtexec": trtexec_command(s), "target_device": s.device_name,
                               "target_compute_capability": s.compute_capability}
    if inp.defer_build:
        atomic_write_text(inp.out_dir / SCRIPT_FILE, build_script(s))
        (inp.out_dir / SCRIPT_FILE).chmod(0o755)
        return ExportOutput((ONNX_FILE, SCRIPT_FILE), facts, opset=inp.profile.opset,
                            fmt="onnx+trtexec-recipe", deferred=True)
    gpu = build_engine(onnx_path, inp.out_dir / ENGINE_FILE, s, inp.out_dir)
    # every file in the folder is listed (the timing cache too)
    return ExportOutput((ONNX_FILE, ENGINE_FILE, s.timing_cache), {**facts, "tensorrt": gpu},
                        opset=inp.profile.opset, host_extra={"gpu": gpu})


def configure(config: Any, trt: Any, s: BuilderSettings) -> None:
    """Apply the settings to a TensorRT IBuilderConfig: workspace, precision flags, optimization
    level (the same choices as trtexec_command; trt is the tensorrt module)."""
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, s.workspace_bytes)
    if s.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if s.int8:
        config.set_flag(trt.BuilderFlag.INT8)
    if s.optimization_level is not None:
        config.builder_optimization_level = s.optimization_level


def build_engine(onnx_path: Path, engine_path: Path, s: BuilderSettings, cache_dir: Path) -> dict[str, Any]:
    """Build and serialize an engine with the TensorRT 10 Python API; return the GPU facts."""
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailable("tensorrt is not installed (NVIDIA's TensorRT 10 Python package "
                                 "and a CUDA GPU are needed; or pass --defer-build)") from None
    facts = gpu_facts(trt)
    if s.build_on_device and s.compute_capability and facts["compute_capability"] != s.compute_capability:
        raise ExportError(f"this profile must be built on {s.device_name} (compute capability "
                          f"{s.compute_capability}); this GPU is {facts['gpu_name']} "
                          f"({facts['compute_capability']}). Use --defer-build and run "
                          f"{SCRIPT_FILE} on the device")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path.name}: {errs[:400]}")
    config = builder.create_builder_config()
    configure(config, trt, s)
    opt = builder.create_optimization_profile()
    opt.set_shape(s.input_name, s.min_shape, s.opt_shape, s.max_shape)
    config.add_optimization_profile(opt)
    cache_file = cache_dir / s.timing_cache
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError("TensorRT engine build failed (see the TensorRT log above)")
    atomic_write_bytes(engine_path, bytes(plan))
    atomic_write_bytes(cache_file, bytes(config.get_timing_cache().serialize()))
    return facts


if __name__ == "__main__":  # build_engine.sh written before tensorrt_engine.py names this module
    import runpy  # the command line lives in cli/tensorrt_engine.py

    runpy.run_module("phoneprice_edge.cli.tensorrt_engine", run_name="__main__")
