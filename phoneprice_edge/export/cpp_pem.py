"""The .pem byte format (cpp_runtime/FORMAT.md): op program, int8 quantisation, writer, reference."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from phoneprice_edge.errors import ExportError
from phoneprice_edge.targets import LAYER_ROLES

MAGIC = b"PEMODEL\0"
FORMAT_VERSION = 1  # written for files without static int8 ops (readable by every runtime)
FORMAT_VERSION_STATIC = 2  # files with QUANTIZE / static int8 DENSE ops
FORMAT_VERSION_W8A16 = 3  # files with int16 activations (QUANTIZE16, IN16 / OUT16 DENSE ops)
# The runtime's limits (cpp_runtime/src/pe_format.h); the exporter refuses what the loader would.
MAX_DIM, MAX_SLOTS, MAX_OPS, MAX_TENSORS = 4096, 16, 256, 1024
HEADER_SIZE = 64
TENSOR_ENTRY = 32
OP_ENTRY = 40
ALIGN = 64
NONE = 0xFFFFFFFF
F32, I8, I32 = 1, 2, 3
PRECISIONS = {"fp32": 0, "int8": 1}
KINDS = {"standardize": 1, "dense": 2, "layernorm": 3, "relu": 4, "gelu": 5, "quantize": 6}
ACCUMULATE = 1  # DENSE flag bit 0: logits += (the wide path)
SPLIT = 2  # DENSE flag bit 1, int8 DENSE only: two-pass activation split (coarse + residual)
STATIC = 4  # DENSE flag bit 2 (version 2): static int8 on a uint8 slot
RELU_U8 = 8  # DENSE flag bit 3 (with STATIC): requantise to uint8 with the ReLU folded in
IN16 = 16  # DENSE flag bit 4 (version 3, with STATIC): reads an int16 slot (W8A16)
OUT16 = 32  # DENSE flag bit 5 (version 3, with IN16 and RELU_U8): requantises to int16 (0..32767)
QUANT16 = 1  # QUANTIZE flag bit 0 (version 3): int16 output, symmetric
# Header field -> byte offset (all little-endian uint32 after the 8-byte magic).
HEADER_FIELDS = {"version": 8, "header_size": 12, "file_size": 16, "precision": 20,
                 "n_features": 24, "n_classes": 28, "n_tensors": 32, "n_ops": 36, "n_slots": 40,
                 "strings_offset": 44, "strings_size": 48, "data_offset": 52,
                 "payload_crc": 56, "header_crc": 60}


@dataclass
class Op:
    """One op of the program, on activation slots (0 = input, 1 = logits, 2.. = scratch)."""

    kind: str
    src: int
    dst: int
    in_dim: int
    out_dim: int
    params: dict[str, np.ndarray] = field(default_factory=dict)  # float32 arrays
    eps: float = 0.0
    accumulate: bool = False
    keep_fp32: bool = False  # DENSE only: stays fp32 in an int8 file (per-op precision)
    split: bool = False  # DENSE only: int8 input split in two passes (written only with int8 weights)
    static: bool = False  # DENSE only: static int8 (params q, bias_q, requant | dequant; cpp_static)
    relu_u8: bool = False  # static DENSE only: uint8 output with the ReLU folded in
    act16: bool = False  # QUANTIZE: int16 output; static DENSE: int16 input (W8A16, version 3)
    out16: bool = False  # static DENSE with relu_u8 and act16: int16 output (0..32767)


@dataclass
class Program:
    """A lowered model: ops on slots plus the names the file carries."""

    ops: list[Op]
    n_slots: int
    features: list[str]
    classes: list[str]

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def dense_roles(program: Program) -> list[tuple[int, set[str]]]:
    """(op index, roles) for each DENSE op: "first" reads the standardised input (the first
    non-accumulating DENSE), "last" writes the logits, "wide" accumulates into them; a DENSE with
    none of these is a middle ("hidden") layer. Without hidden layers the head is first and last."""
    out: list[tuple[int, set[str]]] = []
    seen_first = False
    for i, op in enumerate(program.ops):
        if op.kind != "dense":
            continue
        roles: set[str] = set()
        if op.accumulate:
            roles.add("wide")
        else:
            if not seen_first:
                roles.add("first")
                seen_first = True
            if op.dst == 1:
                roles.add("last")
        out.append((i, roles))
    return out


def set_int8_keep_fp32(program: Program, keep: list[str]) -> list[dict[str, object]]:
    """Mark the DENSE ops whose roles meet `keep` as fp32; return one record per DENSE op."""
    bad = sorted(set(keep) - set(LAYER_ROLES))
    if bad:
        raise ExportError(f"int8_keep_fp32: unknown layer(s) {bad} (use {', '.join(LAYER_ROLES)})")
    records: list[dict[str, object]] = []
    for i, roles in dense_roles(program):
        op = program.ops[i]
        op.keep_fp32 = bool(roles & set(keep))
        records.append({"op": i, "layer": "+".join(sorted(roles)) or "hidden",
                        "shape": [op.in_dim, op.out_dim], "weights": "fp32" if op.keep_fp32 else "int8"})
    return records


def set_activation_split(program: Program, on: bool) -> int:
    """Mark every DENSE op that an int8 file quantises (not keep_fp32) as split, or none; call it
    after set_int8_keep_fp32. Returns how many are marked. fp32 files never carry the bit."""
    n = 0
    for op in program.ops:
        if op.kind == "dense":
            op.split = bool(on) and not op.keep_fp32
            n += op.split
    return n


def quantize_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel: w [out, in] -> (q int8 [out, in], scale float32 [out])."""
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


class _Builder:
    def __init__(self) -> None:
        self.tensors: list[np.ndarray] = []

    def add(self, arr: np.ndarray | None) -> int:
        if arr is None:
            return NONE
        self.tensors.append(np.ascontiguousarray(arr))
        return len(self.tensors) - 1


def _encode_op(op: Op, b: _Builder, int8: bool) -> bytes:
    p = op.params
    t = [NONE, NONE, NONE]
    if op.kind == "standardize":
        t[:2] = [b.add(p["mean"]), b.add(p["std"])]
    elif op.kind == "layernorm":
        t[:2] = [b.add(p["gamma"]), b.add(p["beta"])]
    elif op.kind == "quantize":
        t[0] = b.add(p["inv_scale"])
    elif op.kind == "dense" and op.static:
        from phoneprice_edge.export.cpp_static_ref import vnni_layout

        t = [b.add(vnni_layout(p["q"])), b.add(p["bias_q"]), b.add(p["requant"] if op.relu_u8 else p["dequant"])]
    elif op.kind == "dense":
        if int8 and not op.keep_fp32:
            q, scale = quantize_per_channel(p["weight"])
            t = [b.add(q.T), b.add(p.get("bias")), b.add(scale)]
        else:
            t[:2] = [b.add(p["weight"].T.astype(np.float32)), b.add(p.get("bias"))]
    flags = (ACCUMULATE if op.accumulate else 0) | (SPLIT if op.kind == "dense" and op.split and not op.static
                                                   and int8 and not op.keep_fp32 else 0)
    if op.kind == "dense" and op.static:
        flags |= STATIC | (RELU_U8 if op.relu_u8 else 0) | (IN16 if op.act16 else 0) | (OUT16 if op.out16 else 0)
    if op.kind == "quantize" and op.act16:
        flags |= QUANT16
    return struct.pack("<8If", KINDS[op.kind], op.src, op.dst, op.in_dim, op.out_dim, *t,
                       float(op.eps)) + struct.pack("<I", flags)


def _tensor_entry(arr: np.ndarray, offset: int) -> bytes:
    dtype = {np.dtype(np.int8): I8, np.dtype(np.int32): I32}.get(arr.dtype, F32)
    dims = (arr.shape[0], 1) if arr.ndim == 1 else arr.shape
    return struct.pack("<8I", dtype, arr.ndim, dims[0], dims[1], offset, arr.nbytes, 0, 0)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def build_pem(program: Program, precision: str) -> bytes:
    """Serialise the program as .pem bytes (fp32, or int8 dense weights with per-channel scales
    for every DENSE op not marked keep_fp32)."""
    if precision not in PRECISIONS:
        raise ExportError(f"the C++ runtime supports fp32 and int8, not {precision!r}")
    check_limits(program)
    static = any(op.kind == "quantize" or op.static for op in program.ops)
    if static and precision != "int8":
        raise ExportError("a program with static int8 ops can only be written as int8")
    b = _Builder()
    op_bytes = b"".join(_encode_op(op, b, precision == "int8") for op in program.ops)
    tensors = [t if t.dtype in (np.int8, np.int32) else t.astype(np.float32) for t in b.tensors]
    if len(tensors) > MAX_TENSORS:
        raise ExportError(f"the model needs {len(tensors)} tensors; the C++ runtime takes at most {MAX_TENSORS}")
    names = [*program.features, *program.classes]
    strings = b"".join(n.encode("utf-8") + b"\0" for n in names)
    if any("\0" in n for n in names):
        raise ExportError("feature and class names must not contain NUL characters")
    strings_offset = HEADER_SIZE + TENSOR_ENTRY * len(tensors) + OP_ENTRY * len(program.ops)
    offset = data_offset = _align(strings_offset + len(strings))
    entries, blobs = [], []
    for arr in tensors:
        entries.append(_tensor_entry(arr, offset))
        blobs.append((offset, arr.tobytes()))
        offset = _align(offset + arr.nbytes)
    file_size = blobs[-1][0] + len(blobs[-1][1]) if blobs else data_offset
    buf = bytearray(file_size)
    body = b"".join(entries) + op_bytes + strings
    buf[HEADER_SIZE:HEADER_SIZE + len(body)] = body
    for off, data in blobs:
        buf[off:off + len(data)] = data
    wide = any(op.act16 or op.out16 for op in program.ops)
    version = FORMAT_VERSION_W8A16 if wide else FORMAT_VERSION_STATIC if static else FORMAT_VERSION
    struct.pack_into("<8s12I", buf, 0, MAGIC, version, HEADER_SIZE, file_size,
                     PRECISIONS[file_precision(tensors)], program.n_features, program.n_classes, len(tensors),
                     len(program.ops), program.n_slots, strings_offset, len(strings), data_offset)
    return fix_checksums(bytes(buf))


def check_limits(program: Program) -> None:
    """ExportError (one line) for a program the C++ loader would refuse by its limits."""
    if not program.ops or len(program.ops) > MAX_OPS:
        raise ExportError(f"the model lowers to {len(program.ops)} ops; the C++ runtime takes 1..{MAX_OPS}")
    if not 2 <= program.n_slots <= MAX_SLOTS:
        raise ExportError(f"the model needs {program.n_slots} activation slots; the C++ runtime has {MAX_SLOTS}")
    if not 2 <= program.n_classes <= MAX_DIM or not 1 <= program.n_features <= MAX_DIM:
        raise ExportError(f"{program.n_features} features / {program.n_classes} classes: the C++ runtime "
                          f"takes 1..{MAX_DIM} features and 2..{MAX_DIM} classes")
    for i, op in enumerate(program.ops):
        if not (1 <= op.in_dim <= MAX_DIM and 1 <= op.out_dim <= MAX_DIM):
            raise ExportError(f"op {i} ({op.kind}) is {op.in_dim} -> {op.out_dim} wide; the C++ runtime "
                              f"takes widths up to {MAX_DIM}")


def file_precision(tensors: list[np.ndarray]) -> str:
    """The header's precision: int8 iff some DENSE weight is int8 (an int8 build whose layers are
    all kept fp32 is an fp32 file, byte for byte the fp32 build)."""
    return "int8" if any(t.dtype == np.int8 for t in tensors) else "fp32"


def fix_checksums(data: bytes) -> bytes:
    """Recompute the payload and header CRC-32 fields (tests use it to probe field validation)."""
    buf = bytearray(data)
    struct.pack_into("<I", buf, 56, zlib.crc32(bytes(buf[HEADER_SIZE:])))
    struct.pack_into("<I", buf, 60, zlib.crc32(bytes(buf[:60])))
    return bytes(buf)


def header_source(data: bytes, symbol: str = "pe_model_data") -> str:
    """model_pem.h: the same bytes as an aligned const array for targets without a file system."""
    lines = [", ".join(f"0x{v:02x}" for v in data[i:i + 16]) for i in range(0, len(data), 16)]
    body = ",\n  ".join(lines)
    return (f"/* Generated by phoneprice_edge (pe-export --target cpp): a .pem model as bytes. */\n"
            f"#ifndef PE_MODEL_PEM_H\n#define PE_MODEL_PEM_H\n\n"
            f"#ifdef __cplusplus\n#define PE_ALIGN64 alignas(64)\n#else\n"
            f"#define PE_ALIGN64 _Alignas(64)\n#endif\n\n"
            f"static const unsigned int {symbol}_len = {len(data)}u;\n"
            f"PE_ALIGN64 static const unsigned char {symbol}[{len(data)}] = {{\n  {body}\n}};\n\n"
            f"#endif /* PE_MODEL_PEM_H */\n")


def run_reference(program: Program, x: np.ndarray, precision: str = "fp32",
                  trace: list | None = None) -> np.ndarray:
    """NumPy evaluation of the program (float64), mirroring the C++ kernels; used as a lowering check.
    Static int8 ops (QUANTIZE, static DENSE) compute as the C++ kernels do, bit for bit given the
    same inputs. trace: a list that receives (input, output) of every op."""
    from phoneprice_edge.export.cpp_static_ref import (
        S16_MAX,
        U8_MAX,
        dense_static_ref,
        quantize_ref,
    )

    slots: dict[int, np.ndarray] = {0: x.astype(np.float64)}
    f32_std = any(op.kind == "quantize" for op in program.ops)  # static files: as the C++ (float32)
    for op in program.ops:
        a, p = slots[op.src], op.params
        if op.kind == "standardize" and f32_std:
            f = np.float32
            y = ((a.astype(f) - p["mean"].astype(f)) / p["std"].astype(f)).astype(np.float64)
        elif op.kind == "quantize":
            y = quantize_ref(a, p["inv_scale"], 16 if op.act16 else 8)
        elif op.kind == "dense" and op.static:
            y = dense_static_ref(a, p, slots[op.dst] if op.accumulate else None, S16_MAX if op.out16 else U8_MAX)
        elif op.kind == "standardize":
            y = (a - p["mean"]) / p["std"]
        elif op.kind == "dense":
            int8 = precision == "int8" and not op.keep_fp32
            y = _dense_split_ref(a, p) if int8 and op.split else _dense_ref(a, p, int8)
            y = slots[op.dst] + y if op.accumulate else y
        elif op.kind == "layernorm":
            mu = a.mean(axis=1, keepdims=True)
            var = ((a - mu) ** 2).mean(axis=1, keepdims=True)
            y = (a - mu) / np.sqrt(var + op.eps) * p["gamma"] + p["beta"]
        elif op.kind == "relu":
            y = np.maximum(a, 0.0)
        else:
            y = 0.5 * a * (1.0 + np.vectorize(math.erf)(a / math.sqrt(2.0)))
        if trace is not None:
            trace.append((a, y))
        slots[op.dst] = y
    return slots[1].astype(np.float32)


def _dense_ref(a: np.ndarray, p: dict[str, np.ndarray], int8: bool) -> np.ndarray:
    w = p["weight"].astype(np.float64)
    if int8:
        q, scale = quantize_per_channel(p["weight"])
        amax = np.abs(a).max(axis=1, keepdims=True)
        sx = np.where(amax > 0, amax / 127.0, 0.0)
        qa = np.clip(np.rint(a / np.where(sx > 0, sx, 1.0)), -127, 127)
        y = (qa @ q.T.astype(np.float64)) * sx * scale.astype(np.float64)
    else:
        y = a @ w.T
    bias = p.get("bias")
    return y if bias is None else y + bias


def quantize_rows_f32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C++ quantize_row on each row, in float32 and bit for bit: m = max|x| (NaN skipped),
    q = clamp(rint(x * (127 / m)), +-127) with NaN -> 0, scale m / 127; an all-zero row gives
    q = 0, scale 0; a row with an infinite |x| gives q = 0 and scale inf. Returns (q as float32
    [N, n], scale float32 [N, 1])."""
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x)
    m = np.where(np.isnan(a), np.float32(0), a).max(axis=1, keepdims=True)
    ok = (m > 0) & np.isfinite(m)
    with np.errstate(invalid="ignore", over="ignore"):
        inv = np.float32(127) / np.where(ok, m, np.float32(1))
        v = np.clip(np.rint(x * inv), -127, 127)
    q = np.where(ok & ~np.isnan(v), v, np.float32(0)).astype(np.float32)
    scale = np.where(ok, m / np.float32(127), np.where(np.isfinite(m), np.float32(0), m))
    return q, scale.astype(np.float32)


def _dense_split_ref(a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """The int8 DENSE with the SPLIT flag, as the C++ kernel computes it (float32 throughout, no
    fused multiply-add): q1, s1 = quantize(x); r = x - q1 * s1; q2, s2 = quantize(r); int32
    sums of both through the same int8 weights; y = (acc1 * s1 + acc2 * s2) * wscale + bias."""
    f = np.float32
    q, wscale = quantize_per_channel(p["weight"])
    x = np.asarray(a, dtype=f)
    q1, s1 = quantize_rows_f32(x)
    r = x - q1 * s1
    q2, s2 = quantize_rows_f32(r)
    wq = q.T.astype(np.int64)
    acc1, acc2 = q1.astype(np.int64) @ wq, q2.astype(np.int64) @ wq  # exact, as int32 in C++
    with np.errstate(invalid="ignore"):
        y = (acc1.astype(f) * s1 + acc2.astype(f) * s2) * wscale.astype(f)
    bias = p.get("bias")
    return (y if bias is None else y + bias.astype(f)).astype(np.float64)
