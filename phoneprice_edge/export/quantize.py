"""Reduced precision: calibration rows, ONNX fp16 conversion, ONNX static QDQ int8, torch static int8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.errors import DataError, ExportError
from phoneprice_edge.export import quiet
from phoneprice_edge.targets import LAYER_ROLES

# Only the matrix products are quantized: the Sub/Div standardisation reads raw features whose
# ranges (0/1 flags next to RAM in MB) would not survive one 8-bit scale.
QUANTIZED_OPS = ["Gemm", "MatMul"]


def calibration_rows(train_x: np.ndarray, val_x: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Up to `samples` training rows that do not occur in the validation split (seeded sample)."""
    val_keys = {row.tobytes() for row in np.ascontiguousarray(val_x, dtype=np.float32)}
    train_x = np.ascontiguousarray(train_x, dtype=np.float32)
    keep = np.array([row.tobytes() not in val_keys for row in train_x], dtype=bool)
    pool = train_x[keep]
    if len(pool) == 0:
        raise DataError("no training rows outside the validation split to calibrate int8 with")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pool), size=min(samples, len(pool)), replace=False)
    return pool[np.sort(idx)]


class ArrayCalibrationReader:
    """onnxruntime.quantization CalibrationDataReader over float32 rows, fed in small batches."""

    def __init__(self, input_name: str, x: np.ndarray, batch: int = 64) -> None:
        self._batches = [x[i:i + batch] for i in range(0, len(x), batch)]
        self._name = input_name
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= len(self._batches):
            return None
        self._pos += 1
        return {self._name: self._batches[self._pos - 1]}

    def rewind(self) -> None:
        self._pos = 0


def onnx_static_qdq(fp32_path: Path, out_path: Path, calib_x: np.ndarray, method: str,
                    per_channel: bool, quantize_bias: bool = True,
                    activation_symmetric: bool = True,
                    keep_input_layers_float: bool = False,
                    float_outputs: bool = False, split: bool = False,
                    act_levels: int = 255) -> dict[str, Any]:
    """ORT quantize_static in QDQ format: symmetric int8 weights; activations symmetric int8, or
    asymmetric uint8 (activation_symmetric=False: ReLU outputs use all 256 levels; measured on
    the real data: 99.25% top-1 agreement instead of 98.5%).

    quantize_bias=False keeps Gemm biases float (TensorRT's explicit quantization takes int8
    Q/DQ only, not ORT's int32 bias DequantizeLinear). keep_input_layers_float leaves the
    Gemm/MatMul nodes that read the standardised input (first layer, wide path) float: one
    per-tensor 8-bit scale for 20 raw features costs top-1 agreement. float_outputs leaves the
    Gemm/MatMul outputs unquantized (no Q/DQ on the head's logits contribution). Returns the
    settings used.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    pre = out_path.with_name(out_path.stem + ".pre.tmp.onnx")
    try:
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        graph = onnx.load(str(pre)).graph
        name = graph.input[0].name
        keep = input_layers(graph) if keep_input_layers_float else []
        quantize_static(str(pre), str(out_path), ArrayCalibrationReader(name, calib_x),
                        quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8 if activation_symmetric else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=per_channel,
                        op_types_to_quantize=QUANTIZED_OPS, calibrate_method=methods[method],
                        nodes_to_exclude=keep,
                        extra_options={"ActivationSymmetric": activation_symmetric, "WeightSymmetric": True,
                                       "QuantizeBias": quantize_bias,
                                       "OpTypesToExcludeOutputQuantization":
                                           QUANTIZED_OPS if float_outputs else []})
        if act_levels != 255:
            _narrow_activations(out_path, act_levels)
        split_nodes = split_activations(out_path, act_levels) if split else []
    except Exception as exc:
        raise ExportError(f"int8 static quantization failed: {str(exc).splitlines()[0][:300]}") \
            from exc
    finally:
        pre.unlink(missing_ok=True)
    return {"format": "QDQ", "activation_split": split_nodes,
            "activations": "int8 symmetric" if activation_symmetric else "uint8 asymmetric", "weights": "int8 symmetric",
            "per_channel": per_channel, "calibration_method": method,
            "weight_levels": "-127..127",
            "activation_levels": f"0..{act_levels}",
            "calibration_rows": int(len(calib_x)), "quantized_ops": QUANTIZED_OPS,
            "bias": "int32" if quantize_bias else "float", "kept_float": keep,
            "quantized_outputs": not float_outputs}


def _narrow_activations(path: Path, levels: int) -> None:
    """Spread each uint8 activation range over 0..levels instead of 0..255 (same calibrated
    range, a coarser step): with levels <= 127 no pair of u8 x s8 products overflows int16."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    done = set()
    for n in model.graph.node:
        if n.op_type != "QuantizeLinear" or n.input[0] in inits or n.input[1] in done:
            continue
        s = float(numpy_helper.to_array(inits[n.input[1]]))
        zp = numpy_helper.to_array(inits[n.input[2]])
        if zp.dtype != np.uint8:
            continue
        lo, hi = -float(zp) * s, (255.0 - float(zp)) * s
        s2 = (hi - lo) / levels
        zp2 = np.uint8(min(levels, max(0, round(-lo / s2))))
        inits[n.input[1]].CopyFrom(numpy_helper.from_array(np.array(s2, dtype=np.float32), n.input[1]))
        inits[n.input[2]].CopyFrom(numpy_helper.from_array(np.array(zp2), n.input[2]))
        done.add(n.input[1])
    onnx.save(model, str(path))


def split_activations(path: Path, levels: int = 255) -> list[str]:
    """Give every quantized Gemm/MatMul of a QDQ model a second, residual pass (in place):
    y = W . DQ(Q(x)) + b  becomes  y = W . DQ(Q(x)) + b + W . DQ(Q_r(x - DQ(Q(x)))), where Q_r
    has 1/255 of Q's scale (the residual is at most half a step), so both products are int8 x int8
    (ONNX Runtime fuses each into a QGemm) and the input keeps ~15 bits instead of 8. The rows
    near a decision boundary of the default recipe need it (export/int8_prep.py). Returns the
    names of the split nodes."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    split, new_nodes = [], []
    for node in list(g.node):
        if node.op_type not in QUANTIZED_OPS:
            continue
        dq = producer.get(node.input[0])
        q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is None or q.op_type != "QuantizeLinear" or len(q.input) < 3:
            continue
        scale = float(numpy_helper.to_array(inits[q.input[1]]))
        zp = numpy_helper.to_array(inits[q.input[2]])
        base = node.name or node.output[0]
        x, xq, out = q.input[0], dq.output[0], node.output[0]
        res, rsh, rq, rdq, y2, y1, y3 = (f"{base}.{k}" for k in
                                         ("res", "res_shift", "res_q", "res_dq", "res_y", "y", "res_y0"))
        names = {k: f"{base}.res_{k}" for k in ("scale", "zero_point", "half", "offset")}
        w = _dequantized_weight(g, producer, inits, node)
        # uint8: the residual r in [-s/2, s/2] is shifted to r + s/2 in [0, s] and quantized with
        # zero point 0 over all 256 levels; the shift's contribution W . (s/2) leaves again as a
        # constant
        r_scale, r_zp, half = (scale / levels, np.uint8(0), scale / 2.0) if zp.dtype == np.uint8 \
            else (scale / 254.0, np.int8(0), 0.0)
        offset = -half * w.sum(axis=1)  # per output: W . (s/2, ..., s/2)
        g.initializer.extend([
            numpy_helper.from_array(np.array(r_scale, dtype=np.float32), names["scale"]),
            numpy_helper.from_array(np.array(r_zp), names["zero_point"]),
            numpy_helper.from_array(np.array(half, dtype=np.float32), names["half"]),
            numpy_helper.from_array(offset.astype(np.float32), names["offset"])])
        node.output[0] = y1  # the sum takes over the node's output name: consumers unchanged
        second = helper.make_node(node.op_type, [rdq] + list(node.input[1:2]), [y3],
                                  name=f"{base}.residual")
        second.attribute.extend(a for a in node.attribute if a.name != "beta")
        qargs = [names["scale"], names["zero_point"]]
        new_nodes.append((node, [
            helper.make_node("Sub", [x, xq], [res], name=f"{base}.res_sub"),
            helper.make_node("Add", [res, names["half"]], [rsh], name=f"{base}.res_shift"),
            helper.make_node("QuantizeLinear", [rsh] + qargs, [rq], name=f"{base}.res_quant"),
            helper.make_node("DequantizeLinear", [rq] + qargs, [rdq], name=f"{base}.res_dequant"),
            second,
            helper.make_node("Add", [y3, names["offset"]], [y2], name=f"{base}.res_unshift"),
            helper.make_node("Add", [y1, y2], [out], name=f"{base}.res_add")]))
        split.append(node.name)
    for node, extra in new_nodes:
        at = list(g.node).index(node) + 1
        for k, n in enumerate(extra):
            g.node.insert(at + k, n)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return split


def _dequantized_weight(g: Any, producer: dict[str, Any], inits: dict[str, Any],
                        node: Any) -> np.ndarray:
    """The [out, in] float weight a quantized Gemm/MatMul multiplies by (its DequantizeLinear)."""
    from onnx import helper, numpy_helper

    dq = producer[node.input[1]]
    q = numpy_helper.to_array(inits[dq.input[0]]).astype(np.float64)
    s = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float64)
    axis = next((helper.get_attribute_value(a) for a in dq.attribute if a.name == "axis"), 1)
    zp = numpy_helper.to_array(inits[dq.input[2]]).astype(np.float64) if len(dq.input) > 2 else 0.0
    shape = [1] * q.ndim
    if np.ndim(s):
        shape[axis] = -1
    w = (q - np.reshape(zp, shape) if np.ndim(zp) else q - zp) * np.reshape(s, shape)
    trans_b = node.op_type == "Gemm" and any(
        a.name == "transB" and helper.get_attribute_value(a) for a in node.attribute)
    return w if trans_b else w.T  # MatMul and Gemm without transB hold [in, out]


def input_layers(graph: Any) -> list[str]:
    """The Gemm/MatMul nodes that read the standardisation's output (first layer, wide path)."""
    std = set(fp32_standardisation(graph))
    z = {o for n in graph.node if n.name in std for o in n.output}
    return [n.name for n in graph.node if n.op_type in QUANTIZED_OPS and n.name not in std
            and any(i in z for i in n.input)]


# The ops that may form the linear tail kept in fp32: the output Gemm, the wide path's Gemm and
# the Add that sums them (or a MatMul + bias Add pair).
_TAIL_OPS = {"Gemm", "MatMul", "Add", "Sum"}
_ELEMENTWISE = {"Sub", "Div", "Mul", "Add"}


def fp32_tail(graph: Any) -> list[str]:
    """Names of the nodes that compute the graph output from the last activations: the node that
    produces the output and, behind an Add/Sum, the Gemm/MatMul/Add nodes that feed it."""
    producer = {o: n for n in graph.node for o in n.output}
    out = producer.get(graph.output[0].name)
    if out is None or out.op_type not in _TAIL_OPS:
        return []
    keep, todo = [], [out]
    while todo:
        node = todo.pop()
        if node.name in keep:
            continue
        keep.append(node.name)
        if node.op_type in ("Add", "Sum"):
            todo += [producer[i] for i in node.input
                     if i in producer and producer[i].op_type in _TAIL_OPS]
    return keep


def fp32_standardisation(graph: Any) -> list[str]:
    """Names of the elementwise nodes with constant operands that read the graph input before the
    first layer (the Sub/Div standardisation): raw features such as RAM in MB (~4000, fp16
    spacing 2) and their means would lose ~1e-3 of a standard deviation in fp16."""
    consts = {i.name for i in graph.initializer}
    consts |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    keep, frontier = [], {graph.input[0].name}
    while True:
        step = [n for n in graph.node if n.op_type in _ELEMENTWISE and n.name not in keep
                and any(i in frontier for i in n.input)
                and all(i in frontier or i in consts for i in n.input)]
        if not step:
            return keep
        keep += [n.name for n in step]
        frontier = {o for n in step for o in n.output}


def onnx_to_fp16(fp32_path: Path, out_path: Path) -> dict[str, Any]:
    """Mixed precision: fp16 weights and compute for the hidden layers; in fp32 on fp32 constants
    run the input standardisation and the linear tail that produces the logits (head Gemm, wide
    Gemm, their Add), so the logits are never rounded to fp16 (their spacing at |x| ~ 50 is
    0.03). float32 graph I/O. Returns the manifest facts."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    keep = set(fp32_standardisation(model.graph)) | set(fp32_tail(model.graph))
    tail = [n for n in model.graph.node if n.name in keep]
    names = [n.name for n in tail]
    try:
        model = convert_float_to_float16(model, keep_io_types=True, node_block_list=names)
        _toposort(model.graph)  # the converter appends its Casts after their consumers
        del model.graph.value_info[:]  # stale fp32 types of tensors that became fp16
        _drop_round_trips(model)
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"fp16 conversion failed: {str(exc).splitlines()[0][:300]}") from exc
    onnx.save(model, str(out_path))
    return {"keep_io_types": True, "fp32_nodes": names,
            "fp32_ops": [n.op_type for n in tail], "compute": "fp16 except fp32_nodes (standardisation and logits tail)"}


def _elem_types(model: Any) -> dict[str, int]:
    """Element type of every tensor (inputs, initializers, inferred values)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {i.name: i.data_type for i in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        types[vi.name] = vi.type.tensor_type.elem_type
    return types


def _drop_round_trips(model: Any) -> None:
    """Remove the converter's no-op Casts (to the type the tensor already has) and its lossy
    fp32 -> fp16 -> fp32 round trips between (and after) the nodes kept in fp32."""
    import onnx

    g = model.graph
    types = _elem_types(model)
    producer = {o: n for n in g.node for o in n.output}
    outputs = {o.name for o in g.output}
    alias: dict[str, str] = {}
    for node in g.node:
        if node.op_type != "Cast":
            continue
        src, to = node.input[0], onnx.helper.get_attribute_value(node.attribute[0])
        prev = producer.get(src)
        if (prev is not None and prev.op_type == "Cast" and types.get(prev.input[0]) == to
                and types.get(src) == onnx.TensorProto.FLOAT16):
            src = prev.input[0]  # fp32 -> fp16 -> fp32: read the fp32 tensor itself
        elif types.get(src) != to:
            continue
        if node.output[0] in outputs:  # keep the graph output's name: an Identity
            node.op_type, node.input[0] = "Identity", src
            del node.attribute[:]
        else:
            alias[node.output[0]] = src
    for node in g.node:
        for k, i in enumerate(node.input):
            while i in alias:
                i = alias[i]
            node.input[k] = i
    used = outputs | {i for n in g.node for i in n.input}
    while True:  # dead Casts left behind
        dead = [n for n in g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
        used = outputs | {i for n in g.node for i in n.input}


def _toposort(graph: Any) -> None:
    """Reorder graph.node so that every node comes after the producers of its inputs."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        progress = [n for n in pending if all(i in ready for i in n.input)]
        if not progress:
            raise ExportError("fp16 graph has a cycle or an input nobody produces")
        for n in progress:
            ordered.append(n)
            ready.update(n.output)
        pending = [n for n in pending if n not in progress]
    del graph.node[:]
    graph.node.extend(ordered)


class StaticInt8Linear(torch.nn.Module):
    """A Linear run as int8 x int8 (fbgemm/x86 kernel) with a fixed, calibrated input scale and a
    float32 output: int8 weights per output channel (symmetric), uint8 activations over all 256
    levels (no reduce_range), float bias, no requantization of the output. The input scale never
    depends on the batch, so every row gets the same answer in any batch. With split, a second
    int8 pass over the same weights adds the input's quantization residual (x - its uint8 value,
    on a 1/255 finer scale): ~15-bit inputs, every MAC still int8 (see quantize.split_activations).
    """

    def __init__(self, linear: torch.nn.Linear, lo: float, hi: float, split: bool = False) -> None:
        super().__init__()
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        self.x_scale = max((hi - lo) / 255.0, 1e-8)
        self.x_zero_point = int(min(255, max(0, round(-lo / self.x_scale))))
        self.split = split
        self.r_scale = self.x_scale / 255.0
        w = linear.weight.detach().float()
        scales = (w.abs().amax(1) / 127.0).clamp_min(1e-12).double()
        zeros = torch.zeros(len(scales), dtype=torch.long)
        with quiet.torch_quantized_tensors():
            qw = torch.quantize_per_channel(w, scales, zeros, 0, torch.qint8)
        bias = None if linear.bias is None else linear.bias.detach().float()
        self.packed = torch.ops.quantized.linear_prepack(qw, bias)
        self.packed_nobias = torch.ops.quantized.linear_prepack(qw, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
            x, self.x_scale, self.x_zero_point, self.packed)
        if not self.split:
            return y
        zp = float(self.x_zero_point)
        xq = (torch.clamp(torch.round(x / self.x_scale) + zp, 0.0, 255.0) - zp) * self.x_scale
        return y + torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
            x - xq, self.r_scale, 128, self.packed_nobias)


def linear_roles(model: torch.nn.Module, keep_fp32: list[str]) -> tuple[list[str], set[str]]:
    """(names of all Linear layers, names of those kept float) for keep_fp32 roles (LAYER_ROLES)."""
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    first = next((n for n in names if n.startswith("body.")), "head")
    skip = dict(zip(LAYER_ROLES, (first, "head", "wide"), strict=True))
    bad = sorted(set(keep_fp32) - set(LAYER_ROLES))
    if bad:
        raise ExportError(f"int8_keep_fp32: unknown layer(s) {bad} (use {', '.join(LAYER_ROLES)})")
    return names, {skip[k] for k in keep_fp32 if skip[k] in names}


def torch_static_int8(model: torch.nn.Module, keep_fp32: list[str],
                      calib_x: np.ndarray, split: bool = False) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Static post-training int8 of the Linear layers not kept float: each input's range is the
    min/max over the calibration rows (training rows outside the validation split). Modifies
    `model` in place; returns it and the manifest facts."""
    if len(calib_x) == 0:
        raise DataError("int8 static quantization needs calibration rows")
    names, kept = linear_roles(model, keep_fp32)
    ranges: dict[str, tuple[float, float]] = {}

    def hook(name: str) -> Any:
        def record(_m: torch.nn.Module, inp: tuple[torch.Tensor, ...], _o: Any) -> None:
            ranges[name] = (float(inp[0].min()), float(inp[0].max()))
        return record

    todo = [n for n in names if n not in kept]
    handles = [model.get_submodule(n).register_forward_hook(hook(n)) for n in todo]
    with torch.no_grad():
        model.eval()(torch.as_tensor(np.asarray(calib_x, dtype=np.float32)))
    for h in handles:
        h.remove()
    for name in todo:
        parent, _, leaf = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, leaf, StaticInt8Linear(getattr(owner, leaf), *ranges[name], split=split))
    facts = {"format": "torch static int8 (quantized::linear_with_input_q_dq_qweight_dq_output_fp32)",
             "weights": "int8 symmetric per output channel",
             "activations": "uint8 asymmetric, 256 levels, fixed scale from calibration min/max",
             "outputs": "float32 (not requantized)", "engine": torch.backends.quantized.engine,
             "calibration_method": "minmax", "calibration_rows": int(len(calib_x)),
             "quantized": todo, "kept_float": sorted(kept), "kept_fp32": list(keep_fp32),
             "activation_split": todo if split else []}
    return model, facts
