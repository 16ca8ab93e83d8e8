"""Times the C++ runtime against two hand-written loops (output- and input-major), ONNX Runtime, OpenVINO and libtorch (C++ APIs).

Usage: .venv/bin/python benchmarks/cpp/run_bench.py   (after scripts/test.d/10-cpp-runtime.sh)
Writes benchmarks/cpp/results.json and results_tables.md (pasted into results.md). Models: 20-64-4
and the trainer's default recipe. The int8 file is static int8 on every DENSE (.pem v2),
calibrated on rows drawn like the timed ones. PE_CPU_DISPATCH caps the kernel level as usual.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import torch

from phoneprice_edge.export.cpp import export_onnx_graph, lower_onnx
from phoneprice_edge.export.cpp_pem import build_pem, set_int8_keep_fp32
from phoneprice_edge.export.cpp_static import make_static
from phoneprice_edge.io_utils import atomic_write_json, atomic_write_text
from phoneprice_edge.model import ModelConfig, build_model

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "cpp_runtime" / "build"
HERE = Path(__file__).resolve().parent
BATCHES = "1,8,64,1024"


def models() -> dict[str, ModelConfig]:
    d = tomllib.loads((ROOT / "phoneprice_edge" / "defaults" / "train.toml").read_text())
    default = ModelConfig(20, 4, tuple(d["hidden_dims"]), d["activation"], d["norm"], wide=d["wide"])
    return {"mlp_20_64_4": ModelConfig(20, 4, (64,)), f"default_recipe_20_{'_'.join(map(str, default.hidden_dims))}_4": default}


def write_artifacts(cfg: ModelConfig, out: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    m = build_model(cfg, torch.rand(20) * 100, torch.rand(20) * 50 + 1)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    m.eval()
    proto = export_onnx_graph(m, 20)
    paths = {"onnx": out / "model.onnx", "pem": out / "model.pem", "pem_int8": out / "model_int8.pem",
             "torchscript": out / "model.pt"}
    paths["onnx"].write_bytes(proto.SerializeToString())
    prog = lower_onnx(proto, [f"f{i}" for i in range(20)], [f"c{i}" for i in range(4)])
    paths["pem"].write_bytes(build_pem(prog, "fp32"))
    set_int8_keep_fp32(prog, [])  # every DENSE int8
    calib = np.random.default_rng(2).standard_normal((4096, 20)).astype(np.float32)  # as pe-bench-cpp's rows
    paths["pem_int8"].write_bytes(build_pem(make_static(prog, calib), "int8"))
    torch.jit.trace(m, torch.zeros(1, 20)).save(str(paths["torchscript"]))
    return paths


def run_one(paths: dict[str, Path], out_json: Path) -> dict:
    cmd = [str(BUILD / "pe-bench-cpp"), "--pem", str(paths["pem"]), "--pem-int8", str(paths["pem_int8"]),
           "--onnx", str(paths["onnx"]), "--torchscript", str(paths["torchscript"]),
           "--batches", BATCHES, "--out", str(out_json)]
    env = dict(os.environ, LD_LIBRARY_PATH=str(BUILD / "ort" / "lib"))
    subprocess.run(cmd, check=True, env=env)
    return json.loads(out_json.read_text())


def table(name: str, res: dict) -> list[str]:
    rows = {(r["engine"], r["precision"], r["batch_size"]): r["p50_us"] for r in res["results"]}
    batches = sorted({b for _, _, b in rows})
    engines = list(dict.fromkeys((e, p) for e, p, _ in rows))
    lines = [f"### {name}", "", "| engine | precision | " + " | ".join(f"batch {b} p50 (us)" for b in batches) + " |",
             "|---|---|" + "---|" * len(batches)]
    for e, p in engines:
        lines.append(f"| {e} | {p} | " + " | ".join(f"{rows.get((e, p, b), float('nan')):.3f}" for b in batches) + " |")
    return lines + [""] + ratios(rows, batches) + [""]


def ratios(rows: dict, batches: list[int]) -> list[str]:
    """The goals' ratios per batch size: core / fastest hand loop (batch 1 <= 1.3), ONNX Runtime /
    core (batch 1024 >= 1: the core's throughput at least ONNX Runtime's), int8 / fp32 (< 1 at 64
    and 1024, <= 1.2 at batch 1); then the smallest batch from which int8 is faster."""
    out, pays = [], None
    for b in batches:
        core, q = rows.get(("pe_runtime", "fp32", b)), rows.get(("pe_runtime", "int8", b))
        hands = [v for (e, _, bb), v in rows.items() if e.startswith("hand_loop") and bb == b]
        ort = rows.get(("onnxruntime", "fp32", b))
        if not core:
            continue
        parts = [f"core / fastest hand loop = {core / min(hands):.2f}x"] if hands else []
        if ort:
            parts.append(f"ONNX Runtime / core = {ort / core:.2f}x")
        if q:
            parts.append(f"int8 / fp32 = {q / core:.2f}x")
            if q >= core:
                pays = None  # int8 must be faster at this batch and every larger one
            elif pays is None:
                pays = b
        out.append(f"- batch {b}: " + "; ".join(parts))
    out.append(f"- int8 pays from batch {pays} on (of {', '.join(map(str, batches))})" if pays
               else "- int8 is not faster than fp32 at the largest batch measured")
    return out


def main() -> None:
    if not (BUILD / "pe-bench-cpp").is_file():
        sys.exit("build first: bash scripts/test.d/10-cpp-runtime.sh")
    results, md = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in models().items():
            d = Path(tmp) / name
            d.mkdir()
            results[name] = run_one(write_artifacts(cfg, d), d / "r.json")
            md += table(name, results[name])
            md.insert(len(md) - 1, f"- kernel level (pe_dispatch_level): {results[name].get('dispatch', '?')}")
    atomic_write_json(HERE / "results.json", results)
    atomic_write_text(HERE / "results_tables.md", "\n".join(md))  # pasted into results.md
    print("\n".join(md))


if __name__ == "__main__":
    main()
