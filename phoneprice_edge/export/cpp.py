"""The `cpp` target: lower the dynamo-exported ONNX graph to a .pem program (+ model_pem.h)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import ExportError, UsageError
from phoneprice_edge.export.base import ExportInputs, ExportOutput
from phoneprice_edge.export.cpp_pem import (
    Op,
    Program,
    build_pem,
    header_source,
    run_reference,
    set_activation_split,
    set_int8_keep_fp32,
)
from phoneprice_edge.export.cpp_static import make_static
from phoneprice_edge.io_utils import atomic_write_bytes, atomic_write_text

PEM_FILE = "model.pem"
HEADER_FILE = "model_pem.h"
ACTIVATION_QUANT = "dynamic symmetric per row (scale = max|x|/127), int32 accumulation"
ACTIVATION_QUANT_SPLIT = ("dynamic per row, two-pass split (coarse + residual), int8: symmetric "
                          "per row (scale = max|x|/127), the residual quantized the same way, both "
                          "through the same int8 weights, int32 accumulation")
_ELEMENTWISE = ("relu", "gelu", "layernorm")
# Opset of the ONNX graph the lowering reads (torch's dynamo default): Gelu is an ONNX op from
# opset 20 on; below it the exporter decomposes GELU into Erf, which the lowering does not take.
GRAPH_OPSET = 20
LOWERING_CHECK_ROWS = 256  # the first validation rows the lowered program is checked on
STATIC_CALIB_ROWS = 4096  # at most this many training rows (evenly spaced) calibrate static int8
ACTIVATION_QUANT_STATIC = ("static (calibrated at export): uint8 per input feature / output channel, "
                           "int32 accumulation, integer requantisation with fixed-point multipliers "
                           "(ReLU folded), .pem format version 2")
ACTIVATION_QUANT_W8A16 = ("static (calibrated at export): int8 weights, int16 activations (W8A16): "
                          "symmetric int16 per input feature / output channel, int32 accumulation, "
                          "integer requantisation with fixed-point multipliers (ReLU folded), "
                          ".pem format version 3")


def export_onnx_graph(model: Any, n_features: int) -> Any:
    """The dynamo ONNX export (export.onnx.torch_to_onnx) into a temp folder, loaded as a ModelProto."""
    import onnx

    from phoneprice_edge.export.onnx import torch_to_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        torch_to_onnx(model, n_features, path, GRAPH_OPSET)
        return onnx.load(str(path))


@dataclass
class _VOp:
    kind: str
    src: str
    dst: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    eps: float = 0.0
    accumulate: bool = False


class _Lowering:
    """Walks ONNX nodes in order and produces ops on value names."""

    def __init__(self, graph: Any) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.consts = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in graph.initializer}
        self.graph = graph
        self.alias: dict[str, str] = {}
        self.pending_sub: dict[str, tuple[str, np.ndarray]] = {}
        self.vops: list[_VOp] = []
        self.consumers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1

    def val(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.helper.get_attribute_value(a) for a in node.attribute}

    def run(self) -> list[_VOp]:
        for node in self.graph.node:
            handler = getattr(self, f"op_{node.op_type}", None)
            if handler is None:
                raise ExportError(f"ONNX node {node.op_type} ({node.name}) is not supported by the "
                                  f"C++ runtime (ops: Sub/Div standardise, Gemm, MatMul, Add, "
                                  f"LayerNormalization, Relu, Gelu)")
            handler(node, self.attrs(node))
        return self.vops

    def op_Constant(self, node: Any, at: dict[str, Any]) -> None:
        from onnx import numpy_helper

        if "value" not in at:
            raise ExportError(f"Constant {node.name}: only tensor constants are supported")
        self.consts[node.output[0]] = numpy_helper.to_array(at["value"]).astype(np.float32)

    def op_Identity(self, node: Any, at: dict[str, Any]) -> None:
        self.alias[node.output[0]] = node.input[0]

    op_Dropout = op_Identity

    def op_Sub(self, node: Any, at: dict[str, Any]) -> None:
        a, b = node.input
        if b not in self.consts:
            raise ExportError(f"Sub {node.name}: only x - constant (standardisation) is supported")
        self.pending_sub[node.output[0]] = (self.val(a), self.consts[b].reshape(-1))

    def op_Div(self, node: Any, at: dict[str, Any]) -> None:
        a, b = node.input
        if a not in self.pending_sub or b not in self.consts:
            raise ExportError(f"Div {node.name}: only (x - mean) / std is supported")
        src, mean = self.pending_sub[a]
        self.vops.append(_VOp("standardize", src, node.output[0],
                              {"mean": mean, "std": self.consts[b].reshape(-1)}))

    def op_Gemm(self, node: Any, at: dict[str, Any]) -> None:
        if at.get("transA", 0):
            raise ExportError(f"Gemm {node.name}: transA is not supported")
        w = self.consts.get(node.input[1])
        if w is None:
            raise ExportError(f"Gemm {node.name}: weights must be constant")
        w = (w if at.get("transB", 0) else w.T) * float(at.get("alpha", 1.0))
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = np.broadcast_to(self.consts[node.input[2]] * float(at.get("beta", 1.0)),
                                   (w.shape[0],)).astype(np.float32)
        self._dense(node, w, bias)

    def op_MatMul(self, node: Any, at: dict[str, Any]) -> None:
        w = self.consts.get(node.input[1])
        if w is None or w.ndim != 2:
            raise ExportError(f"MatMul {node.name}: only x @ constant 2-D weights is supported")
        self._dense(node, w.T, None)

    def _dense(self, node: Any, w: np.ndarray, bias: np.ndarray | None) -> None:
        params = {"weight": np.ascontiguousarray(w, dtype=np.float32)}
        if bias is not None:
            params["bias"] = bias
        self.vops.append(_VOp("dense", self.val(node.input[0]), node.output[0], params))

    def op_Add(self, node: Any, at: dict[str, Any]) -> None:
        a, b = node.input
        if b in self.consts or a in self.consts:
            self._fold_bias(node, a if b in self.consts else b, self.consts.get(b, self.consts.get(a)))
            return
        single = self.consumers.get(a, 0) == 1 and self.consumers.get(b, 0) == 1
        a, b = self.val(a), self.val(b)
        idx = next((i for i, v in enumerate(self.vops) if v.dst == b and v.kind == "dense"), None)
        if idx is None or not single:
            raise ExportError(f"Add {node.name}: only a dense skip path (logits += W z) is supported")
        op = self.vops.pop(idx)
        op.dst, op.accumulate = a, True
        self.vops.append(op)
        self.alias[node.output[0]] = a

    def _fold_bias(self, node: Any, act: str, c: np.ndarray) -> None:
        prod = self.vops[-1] if self.vops else None
        if prod is None or prod.kind != "dense" or prod.dst != self.val(act) or "bias" in prod.params:
            raise ExportError(f"Add {node.name}: a constant may only be added as a dense bias")
        prod.params["bias"] = np.broadcast_to(c.reshape(-1), (prod.params["weight"].shape[0],)).copy()
        self.alias[node.output[0]] = prod.dst

    def op_LayerNormalization(self, node: Any, at: dict[str, Any]) -> None:
        if at.get("axis", -1) not in (-1, 1):
            raise ExportError(f"LayerNormalization {node.name}: only the last axis is supported")
        gamma = self.consts[node.input[1]].reshape(-1)
        beta = (self.consts[node.input[2]].reshape(-1) if len(node.input) > 2 and node.input[2]
                else np.zeros_like(gamma))
        self.vops.append(_VOp("layernorm", self.val(node.input[0]), node.output[0],
                              {"gamma": gamma, "beta": beta}, eps=float(at.get("epsilon", 1e-5))))

    def op_Relu(self, node: Any, at: dict[str, Any]) -> None:
        self.vops.append(_VOp("relu", self.val(node.input[0]), node.output[0]))

    def op_Gelu(self, node: Any, at: dict[str, Any]) -> None:
        approx = at.get("approximate", b"none")
        if (approx.decode() if isinstance(approx, bytes) else approx) != "none":
            raise ExportError(f"Gelu {node.name}: only the exact (erf) GELU is supported")
        self.vops.append(_VOp("gelu", self.val(node.input[0]), node.output[0]))


def _allocate(vops: list[_VOp], inp: str, out: str, dims: dict[str, int]) -> tuple[list[Op], int]:
    """Assign slots by liveness: input 0, output 1, scratch from 2; elementwise ops run in place."""
    last: dict[str, int] = {}
    for i, v in enumerate(vops):
        last[v.src] = i
        if v.accumulate:
            last[v.dst] = i
    slot, free, used, ops = {inp: 0, out: 1}, [], 2, []
    for i, v in enumerate(vops):
        if v.src not in slot:
            raise ExportError(f"value {v.src!r} is read before it is computed")
        if v.dst not in slot:
            if v.kind in _ELEMENTWISE and last.get(v.src) == i and slot[v.src] >= 2:
                slot[v.dst] = slot[v.src]
                del last[v.src]
            elif free:
                slot[v.dst] = free.pop(0)
            else:
                slot[v.dst], used = used, used + 1
        in_dim = dims[v.src]
        out_dim = v.params["weight"].shape[0] if v.kind == "dense" else in_dim
        dims[v.dst] = out_dim
        ops.append(Op(v.kind, slot[v.src], slot[v.dst], in_dim, out_dim, v.params, v.eps, v.accumulate))
        for name in [n for n, at in last.items() if at == i and slot[n] >= 2]:
            free.append(slot[name])
            free.sort()
            del last[name]
    return ops, used


def lower_onnx(model_proto: Any, features: list[str], classes: list[str]) -> Program:
    """Map the ONNX graph to a .pem program (names -> slots, weights from the initializers)."""
    graph = model_proto.graph
    inits = {i.name for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in inits]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ExportError("the C++ runtime needs a graph with one input and one output")
    lowering = _Lowering(graph)
    vops = lowering.run()
    out = lowering.val(graph.output[0].name)
    ops, n_slots = _allocate(vops, inputs[0], out, {inputs[0]: len(features)})
    if not ops or ops[-1].dst != 1 or ops[-1].out_dim != len(classes):
        raise ExportError("lowered program does not end in the logits")
    return Program(ops, n_slots, list(features), list(classes))


def lower_model(model: Any, features: list[str], classes: list[str]) -> Program:
    """TabularClassifier -> ONNX (dynamo) -> .pem program."""
    return lower_onnx(export_onnx_graph(model, len(features)), features, classes)


def _check_lowering(model: Any, program: Program, x: np.ndarray) -> float:
    """Max abs difference between the program (NumPy) and PyTorch on sample rows."""
    import torch

    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    return float(np.abs(run_reference(program, x) - ref).max())


def export_cpp(ctx: ExportInputs) -> ExportOutput:
    """Write model.pem and model_pem.h into ctx.out_dir; return their names."""
    precision = ctx.profile.precision
    if precision not in ("fp32", "int8"):
        raise UsageError(f"target cpp supports precision fp32 or int8, not {precision!r}")
    schema = ctx.loaded.schema
    program = lower_model(ctx.loaded.model, schema.feature_names, list(schema.classes))
    rows = np.asarray(ctx.val_x[:LOWERING_CHECK_ROWS], dtype=np.float32)
    if len(rows):
        err = _check_lowering(ctx.loaded.model, program, rows)
        if not err <= 1e-3:
            raise ExportError(f"C++ program does not reproduce the model (max abs diff {err:.3g})")
    facts: dict[str, Any] = {"weight_quantization": "none", "activation_quantization": "none"}
    if precision == "int8":
        program, facts = _int8_policy(ctx, program)
    data = build_pem(program, precision)
    atomic_write_bytes(Path(ctx.out_dir) / PEM_FILE, data)
    atomic_write_text(Path(ctx.out_dir) / HEADER_FILE, header_source(data))
    version = int.from_bytes(data[8:12], "little")
    facts = {"pem_format_version": version, "pem_ops": [op.kind for op in program.ops],
             "pem_bytes": len(data), **facts}
    return ExportOutput((PEM_FILE, HEADER_FILE), facts)


def _int8_policy(ctx: ExportInputs, program: Program) -> tuple[Program, dict[str, Any]]:
    """Apply [cpp] int8_keep_fp32, activation_split and activation_scheme (checked against the
    option table when the profile was read; defaults there: every role kept fp32, split on,
    dynamic) to the program's DENSE ops; return the program to write and the manifest facts."""
    keep = ctx.profile.option("int8_keep_fp32")
    split = ctx.profile.option("activation_split")
    scheme = ctx.profile.option("activation_scheme")
    layers = set_int8_keep_fp32(program, keep)
    n_int8 = sum(rec["weights"] == "int8" for rec in layers)
    facts: dict[str, Any] = {"int8_keep_fp32": keep, "activation_scheme": scheme, "layer_precisions": layers,
                             "weight_quantization": f"int8 symmetric per output channel on {n_int8} of "
                                                    f"{len(layers)} dense layers (the rest fp32)"}
    if scheme == "static":
        calib = _static_calibration_rows(ctx)
        bits = ctx.profile.option("activation_bits")
        if n_int8:
            program = make_static(program, calib, bits)
        n16 = sum(op.kind == "dense" and op.act16 for op in program.ops)
        n_static = sum(op.kind == "dense" and op.static for op in program.ops)
        if n16 == n_static and n16:
            act = ACTIVATION_QUANT_W8A16 + " at int8 layers"
        elif n16:
            act = (ACTIVATION_QUANT_W8A16 + f" at {n16} of {n_static} int8 layers; the others "
                   "(sums too wide for int32 with int16 inputs) " + ACTIVATION_QUANT_STATIC)
        else:
            act = (ACTIVATION_QUANT_STATIC + " at int8 layers") if n_int8 else "none"
        return program, {**facts, "activation_split": False, "activation_bits": bits,
                         "calibration": f"static: activation scales from {len(calib)} training rows "
                                        f"(max |x| per feature / channel)",
                         "activation_quantization": act}
    set_activation_split(program, split)
    act = ACTIVATION_QUANT_SPLIT if split else ACTIVATION_QUANT
    return program, {**facts, "activation_split": split,
                     "calibration": "none (activation scales are computed per row at run time)",
                     "activation_quantization": (act + " at int8 layers") if n_int8 else "none"}


def _static_calibration_rows(ctx: ExportInputs) -> np.ndarray:
    """Up to STATIC_CALIB_ROWS training rows, evenly spaced (deterministic)."""
    x = np.asarray(ctx.train_x, dtype=np.float32)
    if len(x) == 0:
        raise ExportError("[cpp] activation_scheme = 'static' needs training rows to calibrate on; the run has none")
    idx = np.linspace(0, len(x) - 1, min(len(x), STATIC_CALIB_ROWS)).astype(int)
    return x[np.unique(idx)]
