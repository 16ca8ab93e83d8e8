"""Times the C++ runtime against two hand-written loops (output- and input-major), ONNX Runtime, OpenVINO and libtorch (C++ APIs).

Usage: .venv/bin/python benchmarks/cpp/run_bench.py [--repeats N] [--levels baseline,avx2,avx512,vnni]
[--w8a16] (after scripts/test.d/10-cpp-runtime.sh). Writes benchmarks/cpp/results.json and
results_tables.md (pasted into results.md); --w8a16 instead times static int8 with 8- and 16-bit
activations (.pem v2 / v3) against fp32 per level, into results_w8a16.json / results_w8a16.md. Models: 20-64-4 and the trainer's default recipe. The
int8 file is static int8 on every DENSE (.pem v2), calibrated on rows drawn like the timed ones.
Each repeat runs, per model, every engine at the CPU's own kernel level and then the runtime (with
the hand loops) once per dispatch level (PE_CPU_DISPATCH), the order rotated from one repeat to the
next so that load from other jobs falls on all of them alike; tables give per-cell medians over the
repeats, ratios the median of the ratios measured within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
BUILD = Path(os.environ.get("PE_BENCH_BUILD", ROOT / "cpp_runtime" / "build"))  # where pe-bench-cpp is
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
             "pem_w8a16": out / "model_w8a16.pem", "torchscript": out / "model.pt"}
    paths["onnx"].write_bytes(proto.SerializeToString())
    prog = lower_onnx(proto, [f"f{i}" for i in range(20)], [f"c{i}" for i in range(4)])
    paths["pem"].write_bytes(build_pem(prog, "fp32"))
    set_int8_keep_fp32(prog, [])  # every DENSE int8
    calib = np.random.default_rng(2).standard_normal((4096, 20)).astype(np.float32)  # as pe-bench-cpp's rows
    paths["pem_int8"].write_bytes(build_pem(make_static(prog, calib), "int8"))
    paths["pem_w8a16"].write_bytes(build_pem(make_static(prog, calib, 16), "int8"))
    torch.jit.trace(m, torch.zeros(1, 20)).save(str(paths["torchscript"]))
    return paths


LEVELS = ("baseline", "avx2", "avx512", "vnni")


def run_one(paths: dict[str, Path], out_json: Path, level: str | None) -> dict:
    """One pe-bench-cpp process: every engine (level None, the CPU's own kernel level) or the
    runtime and the hand loops only, at PE_CPU_DISPATCH=level."""
    cmd = [str(BUILD / "pe-bench-cpp"), "--pem", str(paths["pem"]), "--pem-int8", str(paths["pem_int8"]),
           "--batches", BATCHES, "--out", str(out_json)]
    env = dict(os.environ, LD_LIBRARY_PATH=str(BUILD / "ort" / "lib"))
    if level is None:
        cmd[-2:-2] = ["--onnx", str(paths["onnx"]), "--torchscript", str(paths["torchscript"])]
        env.pop("PE_CPU_DISPATCH", None)
    else:
        env["PE_CPU_DISPATCH"] = level
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(out_json.read_text())


def cells(res: dict) -> dict:
    return {(r["engine"], r["precision"], r["batch_size"]): r["p50_us"] for r in res["results"]}


def median_cells(runs: list[dict]) -> dict:
    keys = dict.fromkeys(k for r in runs for k in r)
    return {k: statistics.median(r[k] for r in runs if k in r) for k in keys}


def table(name: str, runs: list[dict]) -> list[str]:
    rows = median_cells(runs)
    batches = sorted({b for _, _, b in rows})
    engines = list(dict.fromkeys((e, p) for e, p, _ in rows))
    lines = [f"### {name}", "", "| engine | precision | " + " | ".join(f"batch {b} p50 (us)" for b in batches) + " |",
             "|---|---|" + "---|" * len(batches)]
    for e, p in engines:
        lines.append(f"| {e} | {p} | " + " | ".join(f"{rows.get((e, p, b), float('nan')):.3f}" for b in batches) + " |")
    return lines + [""] + ratios(runs, batches)[0] + [""]


def run_ratios(rows: dict, b: int) -> dict[str, float]:
    """One run's goal ratios at batch b: core / fastest hand loop, ONNX Runtime / core, int8 / fp32."""
    core, q = rows.get(("pe_runtime", "fp32", b)), rows.get(("pe_runtime", "int8", b))
    hands = [v for (e, _, bb), v in rows.items() if e.startswith("hand_loop") and bb == b]
    ort = rows.get(("onnxruntime", "fp32", b))
    out = {}
    if core and hands:
        out["core / fastest hand loop"] = core / min(hands)
    if core and ort:
        out["ONNX Runtime / core"] = ort / core
    if core and q:
        out["int8 / fp32"] = q / core
    return out


def ratios(runs: list[dict], batches: list[int]) -> tuple[list[str], int | None]:
    """The goals' ratios per batch size, each the median over the runs of the ratio within a run:
    core / fastest hand loop (batch 1 <= 1.3), ONNX Runtime / core (batch 1024 >= 1: the core's
    throughput at least ONNX Runtime's), int8 / fp32 (< 1 at 64 and 1024, <= 1.2 at batch 1); then
    the smallest batch from which int8 is faster (at it and every larger one measured), also
    returned (None: not faster at the largest batch)."""
    out, pays = [], None
    for b in batches:
        per_run = [run_ratios(r, b) for r in runs]
        names = list(dict.fromkeys(k for d in per_run for k in d))
        med = {k: statistics.median(d[k] for d in per_run if k in d) for k in names}
        if not med:
            continue
        if "int8 / fp32" in med:
            if med["int8 / fp32"] >= 1:
                pays = None  # int8 must be faster at this batch and every larger one
            elif pays is None:
                pays = b
        out.append(f"- batch {b}: " + "; ".join(f"{k} = {v:.2f}x" for k, v in med.items()))
    out.append(f"- int8 pays from batch {pays} on (of {', '.join(map(str, batches))})" if pays
               else "- int8 is not faster than fp32 at the largest batch measured")
    return out, pays


def level_table(name: str, by_level: dict[str, list[dict]]) -> list[str]:
    """Per dispatch level: the runtime's fp32 and int8 medians, int8 / fp32 and where int8 pays."""
    lines = [f"#### {name}: int8 / fp32 per dispatch level (PE_CPU_DISPATCH)", "",
             "| level | fp32 b1 | int8 b1 | fp32 b64 | int8 b64 | fp32 b1024 | int8 b1024 | int8/fp32 b1, b64, b1024 | int8 pays from |",
             "|---|---|---|---|---|---|---|---|---|"]
    for level, runs in by_level.items():
        rows = median_cells(runs)
        batches = sorted({b for _, _, b in rows})
        pays = ratios(runs, batches)[1]
        q = {b: statistics.median(run_ratios(r, b)["int8 / fp32"] for r in runs) for b in (1, 64, 1024)}
        t = [f"{rows[('pe_runtime', p, b)]:.3f}" for b in (1, 64, 1024) for p in ("fp32", "int8")]
        lines.append(f"| {level} | " + " | ".join(t) + f" | {q[1]:.2f}, {q[64]:.2f}, {q[1024]:.2f} | "
                     + (f"batch {pays} |" if pays else "not at the largest batch |"))
    return lines + [""]


def w8a16_runs(arts: dict[str, dict[str, Path]], levels: list[str], repeats: int, tmp: Path) -> dict:
    """Per model and level, `repeats` pairs of runs: the 8-bit static file then the W8A16 one (the
    pair's order alternating from one repeat to the next, the levels rotated), each run timing fp32
    and that int8 file side by side."""
    raw: dict = {name: {lv: {"a8": [], "a16": []} for lv in levels} for name in arts}
    for i in range(repeats):
        for name, paths in arts.items():
            for lv in levels[i % len(levels):] + levels[:i % len(levels)]:
                for bits in (("a8", "a16") if i % 2 == 0 else ("a16", "a8")):
                    p = dict(paths, pem_int8=paths["pem_int8" if bits == "a8" else "pem_w8a16"])
                    raw[name][lv][bits].append(cells(run_one(p, tmp / name / "r.json", lv)))
            print(f"w8a16 repeat {i + 1}/{repeats} {name}", file=sys.stderr)
    return raw


def w8a16_table(name: str, by_level: dict[str, dict[str, list[dict]]]) -> list[str]:
    """us per call (medians) of fp32, 8-bit static and W8A16 per level and batch; ratios are
    medians of the within-run (A16 / fp32) and within-pair (A16 / A8) ratios."""
    lines = [f"#### {name}: W8A16 vs 8-bit static vs fp32 per dispatch level", "",
             "| level | batch | fp32 (us) | int8 A8 (us) | int8 A16 (us) | A16 / A8 | A16 / fp32 | A8 / fp32 |",
             "|---|---|---|---|---|---|---|---|"]
    for lv, runs in by_level.items():
        a8, a16 = runs["a8"], runs["a16"]
        for b in (1, 64, 1024):
            f32 = statistics.median(r[("pe_runtime", "fp32", b)] for r in a8 + a16)
            q8 = [r[("pe_runtime", "int8", b)] for r in a8]
            q16 = [r[("pe_runtime", "int8", b)] for r in a16]
            r16 = statistics.median(x[("pe_runtime", "int8", b)] / x[("pe_runtime", "fp32", b)] for x in a16)
            r8 = statistics.median(x[("pe_runtime", "int8", b)] / x[("pe_runtime", "fp32", b)] for x in a8)
            pair = statistics.median(y / x for x, y in zip(q8, q16, strict=True))
            lines.append(f"| {lv} | {b} | {f32:.3f} | {statistics.median(q8):.3f} | {statistics.median(q16):.3f} | "
                         f"{pair:.2f} | {r16:.2f} | {r8:.2f} |")
    return lines + [""]


def main_w8a16(a: argparse.Namespace) -> None:
    levels = a.levels.split(",")
    md, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        arts = {}
        for name, cfg in models().items():
            (Path(tmp) / name).mkdir()
            arts[name] = write_artifacts(cfg, Path(tmp) / name)
        raw = w8a16_runs(arts, levels, a.repeats, Path(tmp))
    for name, by_level in raw.items():
        md += w8a16_table(name, by_level)
        results[name] = {lv: {k: [{f"{e}/{p}/{b}": v for (e, p, b), v in c.items()} for c in runs]
                              for k, runs in d.items()} for lv, d in by_level.items()}
    atomic_write_json(HERE / "results_w8a16.json", {"repeats": a.repeats, "models": results})
    atomic_write_text(HERE / "results_w8a16.md", "\n".join(md))
    print("\n".join(md))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--levels", default=",".join(LEVELS), help="dispatch levels timed on their own")
    ap.add_argument("--w8a16", action="store_true",
                    help="time static int8 with 16- vs 8-bit activations vs fp32 per level instead")
    a = ap.parse_args()
    bad = [lv for lv in a.levels.split(",") if lv not in LEVELS]
    if bad or a.repeats < 1:
        ap.error(f"unknown level {bad[0]}" if bad else "--repeats must be at least 1")
    return a


def main() -> None:
    a = parse_args()
    if not (BUILD / "pe-bench-cpp").is_file():
        sys.exit("build first: bash scripts/test.d/10-cpp-runtime.sh")
    if a.w8a16:
        return main_w8a16(a)
    levels = a.levels.split(",")
    results, md = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        arts = {}
        for name, cfg in models().items():
            (Path(tmp) / name).mkdir()
            arts[name] = write_artifacts(cfg, Path(tmp) / name)
        raw = {name: {"all": [], **{lv: [] for lv in levels}} for name in arts}
        order = ["all", *levels]
        for i in range(a.repeats):
            for name, paths in arts.items():
                for which in order[i % len(order):] + order[:i % len(order)]:
                    res = run_one(paths, Path(tmp) / name / "r.json", None if which == "all" else which)
                    raw[name][which].append(res)
                    print(f"repeat {i + 1}/{a.repeats} {name} {which}: dispatch {res.get('dispatch')}", file=sys.stderr)
    for name, runs in raw.items():
        md += table(name, [cells(r) for r in runs["all"]])
        md.insert(len(md) - 1, f"- kernel level (pe_dispatch_level): {runs['all'][0].get('dispatch', '?')}; "
                               f"medians of {a.repeats} alternating runs")
        got = {}
        for lv in levels:  # a level above the CPU's runs as the CPU's: listed once, under its real name
            real = runs[lv][0].get("dispatch", lv)
            got.setdefault(real, [cells(r) for r in runs[lv]])
        md += level_table(name, got)
        results[name] = {"dispatch": runs["all"][0].get("dispatch"), "repeats": a.repeats, "runs": runs}
    atomic_write_json(HERE / "results.json", results)
    atomic_write_text(HERE / "results_tables.md", "\n".join(md))  # pasted into results.md
    print("\n".join(md))


if __name__ == "__main__":
    main()
