"""Int8 share of an export's weight MACs per row, read from the artifact (ONNX, OpenVINO IR, TorchScript, .pem)."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

from phoneprice_edge.artifact import Manifest, read_manifest
from phoneprice_edge.errors import ArtifactError, one_line

Layer = dict[str, Any]  # {"name", "in", "out", "macs", "int8", "passes"}

# ONNX TensorProto element types of the 8-bit integer tensors (UINT8 = 2, INT8 = 3).
_ONNX_8BIT = {2, 3}
# Integer-kernel ONNX ops (always int8) -> (index of the weight input, attribute that transposes it).
_ONNX_INTEGER_OPS = {"QLinearMatMul": (3, None), "MatMulInteger": (1, None), "QGemm": (3, "transB"),
                     "MatMulIntegerToFloat": (1, None), "DynamicQuantizeMatMul": (1, None)}
# Nodes a constant weight may pass through on its way to the MatMul / Gemm.
_ONNX_PASS = {"Identity", "Cast"}
# OpenVINO ops on the weight path (decompression, layout) and on the activation path.
_OV_WEIGHT_PASS = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose", "Unsqueeze", "Squeeze"}
_OV_ACT_PASS = {"Reshape", "Transpose", "Unsqueeze", "Squeeze", "Convert"}
_FQ_LEVELS = {255, 256}
# The format analysed for each target (tensorrt: the QDQ ONNX its engine is built from).
_KIND = {"onnx": "onnx", "tensorrt": "onnx", "openvino": "openvino", "torchscript": "torchscript",
         "cpp": "cpp"}


def _layer(name: str, n_in: int, n_out: int, int8: bool, passes: int = 1) -> Layer:
    return {"name": name, "in": int(n_in), "out": int(n_out), "macs": int(n_in) * int(n_out),
            "int8": bool(int8), "passes": int(passes)}


def _merge(found: list[tuple[str, Layer]]) -> list[Layer]:
    """One layer per weight (key): the nodes reading the same weight (an activation split's
    residual pass) become its passes; int8 when every pass is. MACs stay in*out of the weight."""
    by_key: dict[str, Layer] = {}
    for key, layer in found:
        have = by_key.get(key)
        if have is None:
            by_key[key] = dict(layer)
        else:
            have["passes"] += layer["passes"]
            have["int8"] = have["int8"] and layer["int8"]
    return list(by_key.values())


def _in_out(dims: list[int], transposed: bool) -> tuple[int, int]:
    """(in, out) of a weight of shape [in, out] ([out, in] when transposed); leading dims multiply out."""
    if len(dims) == 1:
        return dims[0], 1
    k, n = (dims[-1], dims[-2]) if transposed else (dims[-2], dims[-1])
    return k, n * math.prod(dims[:-2])


def share_from_layers(layers: list[Layer]) -> dict[str, Any]:
    """The share dict for a list of layers (share 0.0 when there are none); MACs are in*out of
    each weight, counted once however many passes read it."""
    int8_macs = sum(la["macs"] for la in layers if la["int8"])
    total = sum(la["macs"] for la in layers)
    return {"layers": layers, "int8_layers": sum(1 for la in layers if la["int8"]),
            "layers_total": len(layers), "int8_macs": int8_macs, "macs_total": total,
            "int8_mac_share": int8_macs / total if total else 0.0}


# --- ONNX -------------------------------------------------------------------------------------

def onnx_layers(path: str | Path) -> list[Layer]:
    """Gemm/MatMul nodes with a constant weight (behind DequantizeLinear / Transpose allowed);
    int8 = QDQ on both the activation and the weight (8-bit integer), or an integer-kernel op."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    try:  # fills value_info, so the type of every QuantizeLinear output is known
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - the fallbacks below cover the types that matter
        pass
    g = model.graph
    consts: dict[str, tuple[int, list[int]]] = {i.name: (i.data_type, list(i.dims))
                                                for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = (a.t.data_type, list(a.t.dims))
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in [*g.input, *g.value_info, *g.output]}
    types.update({k: v[0] for k, v in consts.items()})

    def attr(node: Any, name: str, default: Any) -> Any:
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def elem_type(name: str) -> int:
        if types.get(name):
            return types[name]
        q = producer.get(name)
        if q is not None and q.op_type in ("QuantizeLinear", "DynamicQuantizeLinear"):
            if q.op_type == "DynamicQuantizeLinear":
                return onnx.TensorProto.UINT8
            if len(q.input) > 2 and q.input[2]:
                return elem_type(q.input[2])
            return int(attr(q, "output_dtype", 0)) or onnx.TensorProto.UINT8
        return 0

    def weight(name: str, depth: int = 0) -> tuple[list[int], bool, str] | None:
        """(dims as the consumer sees them, came through a DequantizeLinear of 8-bit integers,
        name of the constant it comes from)."""
        if name in consts:
            return list(consts[name][1]), False, name
        node = producer.get(name)
        if node is None or depth > 8:
            return None
        if node.op_type in _ONNX_PASS:
            return weight(node.input[0], depth + 1)
        if node.op_type == "Transpose":
            got = weight(node.input[0], depth + 1)
            if got is None:
                return None
            perm = attr(node, "perm", None) or list(range(len(got[0])))[::-1]
            return [got[0][p] for p in perm], got[1], got[2]
        if node.op_type == "DequantizeLinear":
            got = weight(node.input[0], depth + 1)
            return None if got is None else (got[0], elem_type(node.input[0]) in _ONNX_8BIT, got[2])
        return None

    def act_is_q8(name: str) -> bool:
        node = producer.get(name)
        while node is not None and node.op_type == "Identity":
            node = producer.get(node.input[0])
        return (node is not None and node.op_type == "DequantizeLinear"
                and elem_type(node.input[0]) in _ONNX_8BIT)

    found: list[tuple[str, Layer]] = []
    for i, node in enumerate(g.node):
        name = node.name or node.output[0] or f"node{i}"
        if node.op_type in ("Gemm", "MatMul"):
            got = weight(node.input[1]) if len(node.input) > 1 else None
            if got is None or not got[0]:
                continue
            transposed = node.op_type == "Gemm" and bool(attr(node, "transB", 0))
            n_in, n_out = _in_out(got[0], transposed)
            found.append((got[2], _layer(name, n_in, n_out, got[1] and act_is_q8(node.input[0]))))
        elif node.op_type in _ONNX_INTEGER_OPS:
            idx, trans = _ONNX_INTEGER_OPS[node.op_type]
            got = weight(node.input[idx]) if len(node.input) > idx else None
            if got is None or not got[0]:
                continue
            n_in, n_out = _in_out(got[0], bool(trans and attr(node, trans, 0)))
            found.append((got[2], _layer(name, n_in, n_out, True)))
    return _merge(found)


# --- OpenVINO IR ------------------------------------------------------------------------------

def openvino_layers(path: str | Path) -> list[Layer]:
    """MatMuls with a constant weight; int8 = i8/u8 weights (through decompression) or a 255/256
    level FakeQuantize on them, and a 255/256 level FakeQuantize on the activation input."""
    import openvino as ov

    model = ov.Core().read_model(str(path))
    eight_bit = {ov.Type.i8, ov.Type.u8}

    def is_fq8(node: Any) -> bool:
        return node.get_type_name() == "FakeQuantize" and \
            int(node.get_attributes().get("levels", 0)) in _FQ_LEVELS

    def weight(node: Any, depth: int = 0) -> tuple[bool, str] | None:
        """(int8, unique name of the Constant) of a weight producer; None when not a constant."""
        kind = node.get_type_name()
        if kind == "Constant":
            return node.get_output_element_type(0) in eight_bit, node.get_name()
        if depth > 8 or node.get_input_size() == 0:
            return None
        if kind in _OV_WEIGHT_PASS or kind == "FakeQuantize":
            got = weight(node.input_value(0).get_node(), depth + 1)
            return None if got is None else (got[0] or is_fq8(node), got[1])
        return None

    def act_fq8(node: Any) -> bool:
        for _ in range(8):
            if is_fq8(node):
                return True
            if node.get_type_name() not in _OV_ACT_PASS:
                return False
            node = node.input_value(0).get_node()
        return False

    found: list[tuple[str, Layer]] = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "MatMul":
            continue
        w_out = node.input_value(1)
        got = weight(w_out.get_node())
        shape = w_out.get_partial_shape()
        if got is None or not shape.is_static or shape.rank.get_length() == 0:
            continue
        dims = [int(d) for d in shape.to_shape()]
        n_in, n_out = _in_out(dims, bool(node.get_attributes().get("transpose_b", False)))
        found.append((got[1], _layer(node.get_friendly_name(), n_in, n_out,
                                     got[0] and act_fq8(node.input_value(0).get_node()))))
    return _merge(found)


# --- TorchScript ------------------------------------------------------------------------------

def torchscript_layers(path: str | Path) -> list[Layer]:
    """Linear-like modules of a TorchScript file: StaticInt8Linear (export/quantize.py) and
    torch.ao quantized Linears (packed params, int8 when the unpacked weight is qint8/quint8;
    passes = the quantized::linear* calls in its forward), and float Linears (not int8)."""
    import torch

    module = torch.jit.load(str(path), map_location="cpu")

    def unpack(packed: Any) -> tuple[list[int], bool]:
        try:
            w = torch.ops.quantized.linear_unpack(packed)[0]
        except RuntimeError:
            w = torch.ops.quantized.linear_unpack_fp16(packed)[0]
        return list(w.shape), w.dtype in (torch.qint8, torch.quint8)

    def passes(sub: Any) -> int:
        try:
            calls = [n for n in sub.graph.nodes() if n.kind().startswith("quantized::linear")]
        except (AttributeError, RuntimeError):
            return 1
        return max(1, len(calls))

    layers: list[Layer] = []
    for name, sub in module.named_modules():
        kind = getattr(sub, "original_name", type(sub).__name__)
        c = getattr(sub, "_c", None)
        got: tuple[list[int], bool] | None = None
        if kind == "StaticInt8Linear" and c is not None and c.hasattr("packed"):
            got = unpack(c.getattr("packed"))
        elif kind == "LinearPackedParams":
            continue  # counted with the quantized Linear that owns it
        elif c is not None and c.hasattr("_packed_params") and \
                getattr(getattr(sub, "_packed_params", None), "original_name", "") == "LinearPackedParams":
            got = unpack(sub._packed_params._c.getattr("_packed_params"))
        elif kind == "Linear" and c is not None and c.hasattr("weight"):
            got = list(c.getattr("weight").shape), False
        if got is not None and got[0]:
            n_in, n_out = _in_out(got[0], True)  # torch weights are [out, in]
            layers.append(_layer(name or kind, n_in, n_out, got[1], passes(sub) if got[1] else 1))
    return layers


# --- .pem (cpp_runtime/FORMAT.md) -------------------------------------------------------------

def pem_layers(data: bytes) -> list[Layer]:
    """Each DENSE op of a .pem file; int8 when its weight tensor (t0) is int8. Named
    "op<i>:<role>" (first, hidden, last, wide) like the manifest's layer_precisions."""
    from phoneprice_edge.export import cpp_pem as pem

    if len(data) < pem.HEADER_SIZE or data[:8] != pem.MAGIC:
        raise ArtifactError("not a .pem file (bad magic or shorter than the header)")
    h = {k: struct.unpack_from("<I", data, off)[0] for k, off in pem.HEADER_FIELDS.items()}
    known = (pem.FORMAT_VERSION, pem.FORMAT_VERSION_STATIC, pem.FORMAT_VERSION_W8A16)
    if h["version"] not in known or h["header_size"] != pem.HEADER_SIZE:
        raise ArtifactError(f".pem format version {h['version']} (header {h['header_size']} "
                            f"bytes); this reader knows versions {', '.join(map(str, known))}")
    if h["file_size"] != len(data):
        raise ArtifactError(f".pem header says {h['file_size']} bytes, the file has {len(data)} "
                            f"(truncated?)")
    if zlib.crc32(data[pem.HEADER_SIZE:]) != h["payload_crc"] or zlib.crc32(data[:60]) != h["header_crc"]:
        raise ArtifactError(".pem CRC-32 mismatch (corrupt file)")
    ops_at = pem.HEADER_SIZE + pem.TENSOR_ENTRY * h["n_tensors"]
    if ops_at + pem.OP_ENTRY * h["n_ops"] > len(data):
        raise ArtifactError(".pem tensor/op tables run past the end of the file")
    dtypes = [struct.unpack_from("<I", data, pem.HEADER_SIZE + pem.TENSOR_ENTRY * t)[0]
              for t in range(h["n_tensors"])]
    layers: list[Layer] = []
    seen_first = False
    for i in range(h["n_ops"]):
        kind, _src, dst, n_in, n_out, t0, _t1, _t2, _eps, flags = struct.unpack_from(
            "<8IfI", data, ops_at + pem.OP_ENTRY * i)
        if kind != pem.KINDS["dense"]:
            continue
        if t0 >= len(dtypes):
            raise ArtifactError(f".pem op {i}: DENSE weight tensor index {t0} out of range")
        if flags & pem.ACCUMULATE:
            role = "wide"
        else:
            role = "hidden" if seen_first else "first"
            seen_first = True
            if dst == 1:
                role = "last" if role == "hidden" else "first+last"
        layers.append(_layer(f"op{i}:{role}", n_in, n_out, dtypes[t0] == pem.I8))
    return layers


# --- export folders ---------------------------------------------------------------------------

def artifact_path(folder: str | Path, manifest: Manifest) -> tuple[str, Path]:
    """(kind analysed: onnx/openvino/torchscript/cpp, path of its file) for an export folder."""
    from phoneprice_edge.backends.common import artifact_file

    target = manifest.target
    kind = _KIND.get(target)
    if kind is None:
        raise ArtifactError(f"{folder}: int8 share of target {target!r} is not analysed")
    return kind, artifact_file(folder, manifest, kind)


def int8_share(folder: str | Path) -> dict[str, Any]:
    """The int8 share of the weight MACs per row of an export folder: {"layers": [{"name", "in",
    "out", "macs", "int8", "passes"}], "int8_layers", "layers_total", "int8_macs", "macs_total",
    "int8_mac_share", "file"}. One layer per weight (macs = in*out; "passes" > 1 when an
    activation split's residual pass reads the same weight). Raises ArtifactError (or the
    reader's error) when it cannot."""
    manifest = read_manifest(folder)
    kind, path = artifact_path(folder, manifest)
    if not path.is_file():
        raise ArtifactError(f"{path}: artifact file missing")
    if kind == "onnx":
        layers = onnx_layers(path)
    elif kind == "openvino":
        layers = openvino_layers(path)
    elif kind == "torchscript":
        layers = torchscript_layers(path)
    else:
        layers = pem_layers(path.read_bytes())
    return {**share_from_layers(layers), "file": path.name}


def int8_share_or_none(folder: str | Path) -> dict[str, Any] | None:
    """int8_share for an int8 artifact; None for an fp32/fp16 one; {"error": msg} when the
    folder or its file cannot be analysed. Never raises."""
    try:
        precision = read_manifest(folder).precision
        if precision != "int8":
            return None
        return int8_share(folder)
    except Exception as exc:  # noqa: BLE001 - a report column must not stop a benchmark
        return {"error": f"{type(exc).__name__}: {one_line(exc)}"[:300]}


def share_summary(share: dict[str, Any] | None) -> str:
    """One line, e.g. "int8: 3/3 layers, 848/848 weight MACs (100.0%)" (pe parity prints it)."""
    if share is None:
        return "int8: none (float artifact)"
    if "error" in share:
        return f"int8: not analysed ({share['error']})"
    return (f"int8: {share['int8_layers']}/{share['layers_total']} layers, "
            f"{share['int8_macs']}/{share['macs_total']} weight MACs "
            f"({100.0 * share['int8_mac_share']:.1f}%)")
