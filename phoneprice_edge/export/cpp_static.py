"""Static int8 for the .pem format versions 2 and 3 (W8A16): calibration on rows, QUANTIZE ops,
integer DENSE ops with fixed-point requantisation, and their bit-exact NumPy reference
(cpp_runtime/FORMAT.md)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from phoneprice_edge.errors import ExportError
from phoneprice_edge.export.cpp_static_ref import (  # noqa: F401 - part of this module's API
    BIAS_Q16_MIN,
    INT32_MAX,
    S8_MAX,
    S16_MAX,
    U8_MAX,
    ZERO_POINT,
    dense_static_ref,
    quantize_ref,
    round4,
    vnni_layout,
    wide_ok,
)

BIAS_Q_MAX = 2**29  # largest |int32 bias| before the sums (at most 4096 * 255 * 127 < 2^28 more)


def bias_cap(in_dim: int, act16: bool) -> int:
    """Largest |int32 bias| of a static DENSE: what its sums leave of int32."""
    return INT32_MAX - round4(in_dim) * S16_MAX * S8_MAX if act16 else BIAS_Q_MAX


def requant_pair(m_real: float) -> tuple[int, int]:
    """(M, n) with M / 2^n ~= m_real, M in [2^30, 2^31), 1 <= n <= 62 (M smaller when m_real is tiny)."""
    if not (m_real > 0 and math.isfinite(m_real)):
        raise ExportError(f"static int8: requantisation multiplier {m_real!r} is not a positive number")
    f, e = math.frexp(m_real)  # m_real = f * 2^e, f in [0.5, 1)
    mult, n = round(f * 2**31), 31 - e
    if mult == 2**31:
        mult, n = mult // 2, n - 1
    if n < 1:
        raise ExportError(f"static int8: requantisation multiplier {m_real:.3g} is too large (> 2^30)")
    if n > 62:
        mult, n = max(1, round(m_real * 2.0**62)), 62
    return mult, n


def _scales(a: np.ndarray, levels: int) -> np.ndarray:
    """Per-column scale max|a| / levels over the calibration rows; 0 where the column is 0 on
    every row (a dead ReLU unit, a constant feature): see _live and _static_dense."""
    amax = np.abs(np.nan_to_num(a.astype(np.float64))).max(axis=0)
    return amax / levels


def _live(s: np.ndarray) -> np.ndarray:
    """Scales usable as kernel scales: a column that was 0 on every calibration row gets 1.0 (its
    readers' weights for it are 0, so what the kernel puts there never counts)."""
    return np.where(s > 0, s, 1.0)


def _op_inputs(program, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each op's input and output on the calibration rows, from the float program (float64)."""
    from phoneprice_edge.export.cpp_pem import run_reference

    trace: list[tuple[np.ndarray, np.ndarray]] = []
    run_reference(program, x, "fp32", trace=trace)
    return [t[0] for t in trace], [t[1] for t in trace]


def _readers(ops, i: int) -> list[int]:
    """The ops reading DENSE i's output slot after its ReLU, until the slot is written again."""
    d, out = ops[i], []
    for j in range(i + 2, len(ops)):
        if ops[j].src == d.dst:
            out.append(j)
        if ops[j].dst == d.dst and ops[j].src != d.dst:
            break
    return out


def _fuse_relu(ops, i: int, int8_at: set[int]) -> bool:
    """DENSE i is followed by an in-place ReLU on its output, read afterwards only by int8 DENSE
    ops (until the slot is written again): the DENSE can requantise to uint8 with the ReLU folded."""
    d = ops[i]
    if i + 1 >= len(ops) or d.dst == 1 or d.accumulate:
        return False
    r = ops[i + 1]
    if r.kind != "relu" or r.src != d.dst or r.dst != d.dst:
        return False
    return all(ops[j].kind == "dense" and j in int8_at for j in _readers(ops, i))


def make_static(program, calib_x: np.ndarray, bits: int = 8):
    """A copy of the program whose int8 DENSE ops (keep_fp32 False) are static int8: QUANTIZE ops
    (per-feature scales from calib_x) before them, per-channel weights with the input scales folded
    in, int32 biases, uint8 outputs with the ReLU folded in where an int8 DENSE reads them next.
    bits 16 (W8A16, format v3): int16 activations (QUANTIZE to -32767..32767, ReLU outputs
    0..32767) at every int8 DENSE whose sums allow it (wide_ok), the 8-bit path at the others."""
    from phoneprice_edge.export.cpp_pem import Op, Program

    if bits not in (8, 16):
        raise ExportError(f"static int8: activation_bits must be 8 or 16, not {bits!r}")
    if len(calib_x) == 0:
        raise ExportError("static int8 needs calibration rows (none given)")
    ins, outs = _op_inputs(program, np.asarray(calib_x, np.float32))
    ops = program.ops
    int8_at = {i for i, op in enumerate(ops) if op.kind == "dense" and not op.keep_fp32}
    wide_at = {i for i in int8_at if bits == 16 and wide_ok(ops[i].in_dim)}
    new: list[Op] = []
    quant: dict[tuple[int, bool], tuple[int, np.ndarray]] = {}  # (float slot, 16-bit) -> (int slot, scales)
    int_scale: dict[int, tuple[np.ndarray, bool]] = {}  # int slots written by a fused DENSE -> (scales, 16-bit)
    n_slots, skip = program.n_slots, set()

    def forget(slot: int) -> None:
        for key in [k for k in quant if k[0] == slot]:
            del quant[key]
        int_scale.pop(slot, None)

    for i, op in enumerate(ops):
        if i in skip:
            continue
        if i not in int8_at:
            new.append(op)
            forget(op.dst)
            continue
        if op.src in int_scale:
            src, (s_in, act16), zp = op.src, int_scale[op.src], 0
        else:
            act16 = i in wide_at
            if (op.src, act16) not in quant:
                s = _scales(ins[i], S16_MAX if act16 else S8_MAX)
                new.append(Op("quantize", op.src, n_slots, op.in_dim, op.in_dim,
                              {"inv_scale": (1.0 / _live(s)).astype(np.float32)}, act16=act16))
                quant[(op.src, act16)], n_slots = (n_slots, s), n_slots + 1
            (src, s_in), zp = quant[(op.src, act16)], 0 if act16 else ZERO_POINT
        fuse = _fuse_relu(ops, i, int8_at)
        out16 = fuse and act16 and all(j in wide_at for j in _readers(ops, i))
        s_out = _scales(np.maximum(outs[i], 0), S16_MAX if out16 else U8_MAX) if fuse else None
        new.append(_static_dense(op, src, s_in, zp, s_out, act16, out16))
        forget(op.dst)
        if fuse:
            skip.add(i + 1)
            int_scale[op.dst] = (s_out, out16)
    if n_slots > 16:
        raise ExportError(f"static int8 needs {n_slots} activation slots; the C++ runtime has 16")
    return Program(new, n_slots, list(program.features), list(program.classes))


def _static_dense(op, src: int, s_in: np.ndarray, zp: int, s_out: np.ndarray | None,
                  act16: bool = False, out16: bool = False):
    """The DENSE with input scales s_in folded into per-channel int8 weights, int32 bias and
    either (M, n) requantisation pairs to uint8 / int16 (s_out given) or float dequantisation
    scales; act16: the input is int16 (the bias bound uses 32767)."""
    # an input column that was 0 on every calibration row (a dead ReLU unit: scale 0) contributes
    # nothing: its weights are dropped, else a stand-in scale would set the channel's weight scale
    # and leave the live columns a few levels (the trained default model: logits off by ~2)
    w = op.params["weight"].astype(np.float64) * s_in[None, :]
    amax = np.abs(w).max(axis=1)
    sw = np.where(amax > 0, amax / S8_MAX, 1.0)
    b = op.params.get("bias")
    if b is not None:
        # a channel whose weights are (nearly) all zero, as L1 training leaves them, must still hold
        # its bias in int32: widen its scale so |bias| / scale <= 2^29 (what that rounds away is
        # at most 2^-30 of the bias per weight)
        sw = np.maximum(sw, np.abs(b.astype(np.float64)) / bias_cap(op.in_dim, act16))
    q = np.clip(np.rint(w / sw[:, None]), -S8_MAX, S8_MAX).astype(np.int64)
    bias = np.rint(b.astype(np.float64) / sw) if b is not None else np.zeros(op.out_dim)
    bias = bias.astype(np.int64) - zp * q.sum(axis=1)
    if np.abs(bias).max() + round4(op.in_dim) * (S16_MAX if act16 else U8_MAX) * S8_MAX > INT32_MAX:
        raise ExportError(f"static int8: a bias of the {op.in_dim}x{op.out_dim} dense layer does not fit "
                          f"the int32 accumulator next to its sums")
    p = {"q": q.astype(np.int8), "bias_q": bias.astype(np.int32)}
    if s_out is not None:
        p["requant"] = np.array([requant_pair(float(m)) for m in sw / _live(s_out)], np.int32)
    else:
        p["dequant"] = sw.astype(np.float32)
    return dataclasses.replace(op, src=src, params=p, static=True, relu_u8=s_out is not None, split=False,
                               act16=act16, out16=out16)
