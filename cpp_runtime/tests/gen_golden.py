"""Writes golden vectors for the ctest suite: per-kernel cases (PyTorch references) and small .pem models.

Usage: python gen_golden.py OUT_DIR   (run by CMake at build time; deterministic, seed 0)
Each .bin file holds named arrays: u32 count, then per array u32 name_len, name, u32 dtype
(1 float32, 2 int8, 3 int32), u32 ndim, u32 dims[ndim], raw little-endian data.
"""

from __future__ import annotations

import dataclasses
import struct
import sys
from pathlib import Path

import numpy as np
import torch

from phoneprice_edge.export.cpp import lower_model
from phoneprice_edge.export.cpp_pem import (
    Program,
    build_pem,
    header_source,
    quantize_per_channel,
    quantize_rows_f32,
    run_reference,
    set_activation_split,
    set_int8_keep_fp32,
)
from phoneprice_edge.export.cpp_static import dense_static_ref, make_static, quantize_ref
from phoneprice_edge.io_utils import atomic_write_bytes, atomic_write_text
from phoneprice_edge.model import ModelConfig, build_model

RNG = np.random.default_rng(0)
# The split cases draw from their own stream, so every file written before them is unchanged.
RNG_SPLIT = np.random.default_rng(1)
RNG_STATIC = np.random.default_rng(2)  # and the static int8 cases from theirs


def write_bin(path: Path, arrays: dict[str, np.ndarray]) -> None:
    out = [struct.pack("<I", len(arrays))]
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.int8): 2, np.dtype(np.int32): 3}.get(arr.dtype, 1)
        arr = arr if dtype > 1 else arr.astype(np.float32)
        out.append(struct.pack("<I", len(name)) + name.encode() + struct.pack("<II", dtype, arr.ndim))
        out.append(struct.pack(f"<{arr.ndim}I", *arr.shape) + arr.tobytes())
    atomic_write_bytes(path, b"".join(out))


def randn(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def kernel_cases(out: Path) -> None:
    t = torch.from_numpy
    x = randn(7, 13, scale=2.0)
    mean, std = randn(13), (RNG.uniform(0.5, 3.0, 13)).astype(np.float32)
    write_bin(out / "standardize.bin", {"x": x, "mean": mean, "std": std, "y": (x - mean) / std})
    w, b, y0 = randn(11, 13, scale=0.5), randn(11), randn(7, 11)
    lin = torch.nn.functional.linear(t(x), t(w), t(b)).numpy()
    write_bin(out / "dense_f32.bin", {"x": x, "w": w, "b": b, "y": lin, "y0": y0,
                                      "y_acc": y0 + torch.nn.functional.linear(t(x), t(w)).numpy()})
    # one case per output-blocking branch of dense_f32 (16-wide blocks, 4-wide blocks, a 1-3 tail)
    widths = {}
    for n in DENSE_WIDTHS:
        wn, bn = randn(n, 13, scale=0.5), randn(n)
        widths |= {f"w{n}": wn, f"b{n}": bn, f"y{n}": torch.nn.functional.linear(t(x), t(wn), t(bn)).numpy()}
    write_bin(out / "dense_f32_widths.bin", {"x": x, **widths})
    q, scale = quantize_per_channel(w)
    xq = x.copy()
    xq[3] = 0.0  # an all-zero row quantises to scale 0
    # max |x| = 127 makes the row scale exactly 1: halves must round to even, as np.rint does
    xq[5] = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 3.5, 63.5, -63.5, 0]
    with np.errstate(divide="ignore"):
        inv = np.float32(127.0) / np.abs(xq).max(axis=1, keepdims=True).astype(np.float32)
    qrow = np.clip(np.rint((xq * np.where(np.isfinite(inv), inv, 0)).astype(np.float32)), -127, 127)
    ref = run_reference_dense_i8(xq, w, b)
    write_bin(out / "dense_i8.bin", {"x": xq, "q": q, "scale": scale, "b": b, "y": ref,
                                     "qx": qrow.astype(np.int8)})
    g, beta = randn(13), randn(13)
    ln = torch.nn.functional.layer_norm(t(x), (13,), t(g), t(beta), eps=1e-5).numpy()
    write_bin(out / "layernorm.bin", {"x": x, "gamma": g, "beta": beta, "eps": np.array([1e-5]), "y": ln})
    write_bin(out / "relu.bin", {"x": x, "y": torch.relu(t(x)).numpy()})
    write_bin(out / "gelu.bin", {"x": x, "y": torch.nn.functional.gelu(t(x)).numpy()})


def split_case(x: np.ndarray, w: np.ndarray, b: np.ndarray, y0: np.ndarray) -> dict[str, np.ndarray]:
    """dense_i8_split inputs and its float32 reference (cpp_pem._dense_split_ref, the C++ rounding
    step for step), plus each pass's int8 row and the residual for bit-exact checks."""
    from phoneprice_edge.export.cpp_pem import _dense_split_ref

    q, scale = quantize_per_channel(w)
    q1, s1 = quantize_rows_f32(x)
    r = x - q1 * s1
    q2, _ = quantize_rows_f32(r)
    y = _dense_split_ref(x, {"weight": w, "bias": b}).astype(np.float32)
    nob = _dense_split_ref(x, {"weight": w}).astype(np.float32)
    return {"x": x, "q": q, "scale": scale, "b": b, "y": y, "y0": y0, "y_acc": y0 + nob,
            "qx": q1.astype(np.int8), "r": r, "qr": q2.astype(np.int8)}


def split_kernel_cases(out: Path) -> None:
    """dense_i8_split.bin: the dense_i8 edge rows (all-zero, halves at scale 1) plus a NaN element
    and rows whose residual is exactly zero; dense_i8_split_big.bin: 256 rows of post-ReLU-like
    activations up to |60| through a 37 -> 21 layer (many rounding boundaries)."""
    g = RNG_SPLIT
    x = (g.standard_normal((9, 13)) * 2.0).astype(np.float32)
    x[3] = 0.0
    x[5] = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 3.5, 63.5, -63.5, 0]
    x[6] = np.array([127, -3, 5, 0, 100, -127, 1, 2, 3, 4, 5, 6, 7]) / 8.0  # on the grid: r = 0, s2 = 0
    x[7, 4] = np.nan  # skipped by the max, quantised to 0 in both passes
    x[8] = x[8] * 1e-3
    w = (g.standard_normal((11, 13)) * 0.5).astype(np.float32)
    b = g.standard_normal(11).astype(np.float32)
    y0 = g.standard_normal((9, 11)).astype(np.float32)
    write_bin(out / "dense_i8_split.bin", split_case(x, w, b, y0))
    xb = np.maximum(g.standard_normal((256, 37)) * g.uniform(0.1, 20.0, (256, 1)), 0).astype(np.float32)
    xb[:, :5] = g.integers(0, 2, (256, 5)).astype(np.float32)  # 0/1 flags beside wide-range values
    wb = (g.standard_normal((21, 37)) * 0.3).astype(np.float32)
    bb = g.standard_normal(21).astype(np.float32)
    write_bin(out / "dense_i8_split_big.bin",
              split_case(xb, wb, bb, g.standard_normal((256, 21)).astype(np.float32)))


def static_kernel_cases(out: Path) -> None:
    """quantize_static.bin (halves, clamps, NaN, inf) and dense_q.bin: uint8 x int8 sums through
    every blocking branch (out = 37: two 16-wide blocks, a 4-wide block, a 1-wide tail; in = 13
    padded to 16; 9 rows: blocks of 4 and a tail), requantised to uint8 and dequantised to float
    (plain and accumulating). References: cpp_static (the kernels' integer arithmetic)."""
    g = RNG_STATIC
    x = (g.standard_normal((9, 13)) * 3.0).astype(np.float32)
    x[5] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -127.5, 200, -300, np.inf, -np.inf, np.nan]
    inv = g.uniform(5.0, 40.0, 13).astype(np.float32)
    inv[:13] = np.where(np.arange(13) < 6, 1.0, inv)  # unit scales: the halves of row 5 stay halves
    xq = quantize_ref(x, inv)
    write_bin(out / "quantize_static.bin", {"x": x, "inv": inv, "q": xq.astype(np.float32)})
    xu = g.integers(0, 256, (9, 13)).astype(np.float64)
    xu[0], xu[1] = 255, 0
    q = g.integers(-127, 128, (37, 13)).astype(np.int8)
    q[0] = 127
    q[1] = -127
    bias = g.integers(-2**20, 2**20, 37).astype(np.int32)
    req = np.stack([g.integers(2**30, 2**31 - 1, 37), g.integers(31, 46, 37)], axis=1).astype(np.int32)
    deq = g.uniform(1e-4, 1e-2, 37).astype(np.float32)
    y0 = g.standard_normal((9, 37)).astype(np.float32)
    pr = {"q": q, "bias_q": bias, "requant": req}
    pd = {"q": q, "bias_q": bias, "dequant": deq}
    from phoneprice_edge.export.cpp_static import vnni_layout

    write_bin(out / "dense_q.bin", {"x": xu.astype(np.float32), "wq": vnni_layout(q), "bias": bias,
                                    "requant": req, "dequant": deq, "y0": y0,
                                    "y_u8": dense_static_ref(xu, pr, None).astype(np.float32),
                                    "y_f": dense_static_ref(xu, pd, None).astype(np.float32),
                                    "y_acc": dense_static_ref(xu, pd, y0).astype(np.float32)})


def run_reference_dense_i8(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    from phoneprice_edge.export.cpp_pem import _dense_ref

    return _dense_ref(x.astype(np.float64), {"weight": w, "bias": b}, True).astype(np.float32)


DENSE_WIDTHS = (1, 3, 4, 5, 16, 21, 37)  # test_kernels.cpp runs every w<N> in the file

MODELS = {  # name: (hidden_dims, norm, activation, wide)
    "mlp_relu": ((16,), "none", "relu", False),
    "bn_gelu_wide": ((12, 8), "batchnorm", "gelu", True),
    "ln_relu_wide": ((10,), "layernorm", "relu", True),
    "linear_wide": ((), "none", "relu", True),
}


def model_cases(out: Path) -> None:
    torch.manual_seed(0)
    feats, classes = [f"f{i}" for i in range(6)], ["low", "mid", "high"]
    for name, (hd, norm, act, wide) in MODELS.items():
        cfg = ModelConfig(in_features=6, num_classes=3, hidden_dims=hd, norm=norm, activation=act, wide=wide)
        m = build_model(cfg, torch.from_numpy(randn(6, scale=5.0)), torch.rand(6) * 3 + 0.5)
        with torch.no_grad():
            for p in m.parameters():
                p.normal_(0, 0.7)
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm1d):
                    mod.running_mean.normal_()
                    mod.running_var.uniform_(0.5, 2.0)
        m.eval()
        prog = lower_model(m, feats, classes)
        x = randn(37, 6, scale=4.0)
        with torch.no_grad():
            y = m(torch.from_numpy(x)).numpy()
        for prec in ("fp32", "int8"):
            atomic_write_bytes(out / f"{name}_{prec}.pem", build_pem(prog, prec))
        y_int8 = run_reference(prog, x, "int8")
        set_int8_keep_fp32(prog, ["first", "last", "wide"])  # the exporter's default: per-op mix
        atomic_write_bytes(out / f"{name}_mixed.pem", build_pem(prog, "int8"))
        y_mixed = run_reference(prog, x, "int8")
        # every DENSE int8 with the two-pass activation split (DENSE flag SPLIT)
        set_int8_keep_fp32(prog, [])
        assert set_activation_split(prog, True) == sum(op.kind == "dense" for op in prog.ops)
        atomic_write_bytes(out / f"{name}_split.pem", build_pem(prog, "int8"))
        write_bin(out / f"{name}.bin", {"x": x, "y": y, "y_int8": y_int8, "y_mixed": y_mixed,
                                        "y_split": run_reference(prog, x, "int8"),
                                        "y_w8": int8_weights_float_activations(prog, x)})
        set_activation_split(prog, False)
        calib = (RNG_STATIC.standard_normal((512, 6)) * 4.0).astype(np.float32)  # rows like x's
        static = make_static(prog, calib)
        atomic_write_bytes(out / f"{name}_static.pem", build_pem(static, "int8"))
        write_bin(out / f"{name}_static.bin", {"x": x, "y_static": run_reference(static, x, "int8")})
        w8a16 = make_static(prog, calib, 16)  # W8A16 (format v3), the same calibration rows
        atomic_write_bytes(out / f"{name}_w8a16.pem", build_pem(w8a16, "int8"))
        write_bin(out / f"{name}_w8a16.bin", {"x": x, "y_w8a16": run_reference(w8a16, x, "int8")})
        if name in ("mlp_relu", "bn_gelu_wide"):
            write_vendor_models(m, out / name)
    data = (out / "mlp_relu_fp32.pem").read_bytes()
    atomic_write_text(out / "model_pem.h", header_source(data))


def int8_weights_float_activations(prog: Program, x: np.ndarray) -> np.ndarray:
    """The program with every DENSE weight on its int8 grid (q * scale) and unquantised
    activations: what the activation quantisation of an all-int8 file is measured against."""
    ops = []
    for op in prog.ops:
        if op.kind == "dense":
            q, scale = quantize_per_channel(op.params["weight"])
            op = dataclasses.replace(op, params={**op.params, "weight": q.astype(np.float32) * scale[:, None]})
        ops.append(op)
    return run_reference(dataclasses.replace(prog, ops=ops), x, "fp32")


def write_vendor_models(m: torch.nn.Module, base: Path) -> None:
    """ONNX (dynamo) and TorchScript copies for the adapter tests."""
    torch.onnx.export(m, (torch.zeros(2, 6),), str(base) + ".onnx", dynamo=True, input_names=["x"],
                      output_names=["logits"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                      verbose=False)
    torch.jit.trace(m, torch.zeros(2, 6)).save(str(base) + ".pt")


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    kernel_cases(out)
    split_kernel_cases(out)
    static_kernel_cases(out)
    model_cases(out)
    (out / "stamp").write_text("ok\n")


if __name__ == "__main__":
    main()
