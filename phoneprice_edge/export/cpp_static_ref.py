"""The bit-exact NumPy reference of the C++ runtime's static int8 kernels (QUANTIZE, static DENSE)
and the file's VNNI weight layout; shared by the .pem writer and the static-int8 builder."""

from __future__ import annotations

import numpy as np

U8_MAX, S8_MAX = 255, 127
ZERO_POINT = 128  # QUANTIZE output: int8 value + 128 as uint8


def round4(n: int) -> int:
    return (n + 3) // 4 * 4


def quantize_ref(x: np.ndarray, inv_scale: np.ndarray) -> np.ndarray:
    """QUANTIZE as the C++ kernel: rint(clamp(x * inv, -128, 127)) + 128 in float32, NaN -> 128."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.asarray(x, np.float32) * np.asarray(inv_scale, np.float32)
    s = np.where(np.isnan(s), np.float32(0), np.clip(s, -128, 127))
    return (np.rint(s).astype(np.int64) + ZERO_POINT).astype(np.float64)


def dense_static_ref(xq: np.ndarray, p: dict[str, np.ndarray], prev: np.ndarray | None) -> np.ndarray:
    """Static int8 DENSE as the C++ kernel: exact int64 sums, then (acc * M + 2^(n-1)) >> n clamped
    to 0..255 (requant), or float32(acc) * dequant (+ prev) in float32."""
    acc = xq.astype(np.int64) @ p["q"].T.astype(np.int64) + p["bias_q"].astype(np.int64)
    if "requant" in p:
        m, n = p["requant"][:, 0].astype(np.int64), p["requant"][:, 1].astype(np.int64)
        return np.clip((acc * m + (np.int64(1) << (n - 1))) >> n, 0, U8_MAX).astype(np.float64)
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
