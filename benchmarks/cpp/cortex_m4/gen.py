"""Writes the Cortex-M4 run's headers: one of run_bench.py's models (its weights; argv[2] a name
prefix, default "default": the default recipe) as fp32 and static int8 .pem bytes, the input rows,
and the x86 runtime's FNV-1a hash of their logits."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import run_bench  # noqa: E402

from phoneprice_edge.export.cpp import export_onnx_graph, lower_onnx  # noqa: E402
from phoneprice_edge.export.cpp_pem import build_pem, header_source, set_int8_keep_fp32  # noqa: E402
from phoneprice_edge.export.cpp_static import make_static  # noqa: E402

ROWS = 64


def fnv1a(b: bytes) -> int:
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def x86_logits(lib: ctypes.CDLL, data: bytes, x: np.ndarray, out: Path) -> np.ndarray:
    p = out / "m.pem"
    p.write_bytes(data)
    h = ctypes.c_void_p()
    assert lib.pe_model_open(str(p).encode(), ctypes.byref(h)) == 0
    n = ctypes.c_size_t()
    lib.pe_arena_size(h, ctypes.c_size_t(1), ctypes.byref(n))
    arena = (ctypes.c_char * n.value)()
    y = np.zeros((len(x), 4), np.float32)
    for r in range(len(x)):  # one row per call, as the firmware
        xr = np.ascontiguousarray(x[r:r + 1])
        lib.pe_run(h, arena, n, xr.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(1),
                   y[r:r + 1].ctypes.data_as(ctypes.c_void_p))
    lib.pe_model_close(h)
    return y


def main() -> None:
    import torch

    from phoneprice_edge.model import build_model

    out = Path(sys.argv[1])
    want = sys.argv[2] if len(sys.argv) > 2 else "default"
    found = [(k, v) for k, v in run_bench.models().items() if k.startswith(want)]
    if not found:
        sys.exit(f"gen.py: no model named {want}* (have {', '.join(run_bench.models())})")
    name, cfg = found[0]
    torch.manual_seed(0)
    m = build_model(cfg, torch.rand(20) * 100, torch.rand(20) * 50 + 1)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    prog = lower_onnx(export_onnx_graph(m.eval(), 20), [f"f{i}" for i in range(20)], [f"c{i}" for i in range(4)])
    x = np.random.default_rng(3).standard_normal((ROWS, 20)).astype(np.float32)
    fp32 = build_pem(prog, "fp32")
    set_int8_keep_fp32(prog, [])
    int8 = build_pem(make_static(prog, np.random.default_rng(2).standard_normal((4096, 20)).astype(np.float32)), "int8")
    lib = ctypes.CDLL(str(run_bench.BUILD / "libpe_runtime.so"))
    for tag, data in (("fp32", fp32), ("int8", int8)):
        d = out / tag
        d.mkdir(parents=True, exist_ok=True)
        (d / "model_pem.h").write_text(header_source(data))
        y = x86_logits(lib, data, x, d)
        (d / "x86_hash").write_text(f"{fnv1a(y.tobytes()):08x}\n")
    vals = ",\n  ".join(", ".join(f"{v!r}f" for v in row) for row in x.tolist())
    (out / "inputs.h").write_text(f"#define PE_ROWS {ROWS}\nstatic const float pe_inputs[{ROWS * 20}] = {{\n  {vals}\n}};\n")
    print(name, "fp32", len(fp32), "bytes; int8", len(int8), "bytes")


if __name__ == "__main__":
    main()
