"""The bit-exact NumPy reference of the C++ runtime's static int8 kernels (QUANTIZE, static DENSE,
8- or 16-bit activations) and the file's VNNI weight layout; shared by the .pem writer and the
static-int8 builder."""

from __future__ import annotations

import numpy as np

U8_MAX, S8_MAX = 255, 127
S16_MAX = 32767  # W8A16 (format v3): int16 activations, symmetric (-32767..32767), ReLU outputs 0..32767
ZERO_POINT = 128  # QUANTIZE output: int8 value + 128 as uint8 (int16 output: no zero point)


INT32_MAX = 2**31 - 1
# W8A16: a layer takes int16 inputs only when its sums leave at least 2^24 of int32 for the bias
# (round4(in) <= 512); wider layers keep the 8-bit path (FORMAT.md "W8A16")
BIAS_Q16_MIN = 2**24


def round4(n: int) -> int:
    return (n + 3) // 4 * 4


def wide_ok(in_dim: int) -> bool:
    """A static DENSE with in_dim inputs can read int16 activations: round4(in) * 32767 * 127
    leaves >= 2^24 of int32 for the bias."""
    return INT32_MAX - round4(in_dim) * S16_MAX * S8_MAX >= BIAS_Q16_MIN


def quantize_ref(x: np.ndarray, inv_scale: np.ndarray, bits: int = 8) -> np.ndarray:
    """QUANTIZE as the C++ kernel: rint(clamp(x * inv, -128, 127)) + 128 in float32, NaN -> 128;
    bits 16: rint(clamp(x * inv, -32767, 32767)), NaN -> 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.asarray(x, np.float32) * np.asarray(inv_scale, np.float32)
    lo, hi, zp = (-S16_MAX, S16_MAX, 0) if bits == 16 else (-128, 127, ZERO_POINT)
    s = np.where(np.isnan(s), np.float32(0), np.clip(s, lo, hi))
    return (np.rint(s).astype(np.int64) + zp).astype(np.float64)


def dense_static_ref(xq: np.ndarray, p: dict[str, np.ndarray], prev: np.ndarray | None,
                     out_max: int = U8_MAX) -> np.ndarray:
    """Static int8 DENSE as the C++ kernel: exact int64 sums, then (acc * M + 2^(n-1)) >> n clamped
    to 0..out_max (requant: 255, or 32767 for an int16 output), or float32(acc) * dequant (+ prev)
    in float32."""
    acc = xq.astype(np.int64) @ p["q"].T.astype(np.int64) + p["bias_q"].astype(np.int64)
    if "requant" in p:
        m, n = p["requant"][:, 0].astype(np.int64), p["requant"][:, 1].astype(np.int64)
        return np.clip((acc * m + (np.int64(1) << (n - 1))) >> n, 0, out_max).astype(np.float64)
    y = acc.astype(np.float32) * p["dequant"].astype(np.float32)
    if prev is not None:
        y = np.asarray(prev, np.float32) + y
    return y.astype(np.float64)


def vnni_layout(q: np.ndarray) -> np.ndarray:
    """int8 W [out, in] -> the file's [round4(in), out] tensor whose bytes run [in/4][out][4]."""
    out, n_in = q.shape
    pad = np.zeros((out, round4(n_in)), np.int8)
    pad[:, :n_in] = q
    return np.ascontiguousarray(pad.reshape(out, -1, 4).transpose(1, 0, 2)).reshape(round4(n_in), out)
