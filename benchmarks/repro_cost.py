"""What PE_NUMERICS=portable costs: `pe train` wall time (default recipe, built-in data) per mode,
weight hashes, fp32 exports' bytes across repeated exports and modes, and inference latency.

    .venv/bin/python benchmarks/repro_cost.py [--rounds 3] [--work DIR] [--json OUT.json]

Every command runs in a fresh process whose environment has PE_NUMERICS set and the three
dispatch variables removed (as a user's shell). Modes alternate within each round
(portable, native, native, portable, ...) so drift in machine load falls on both.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
DISPATCH_VARS = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
MODES = ("portable", "native")
FP32_PROFILES = ("onnx-fp32", "torchscript-fp32", "openvino-fp32", "cpp-fp32")
BENCH_PROFILES = ("onnx-fp32", "torchscript-fp32", "openvino-fp32")


def env_for(mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DISPATCH_VARS}
    env["PE_NUMERICS"] = mode
    return env


def pe(mode: str, *args: str) -> tuple[float, float]:
    """Run `pe ARGS` under mode; return its wall and CPU (user + sys) seconds; a failure stops here."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([str(VENV_BIN / "pe"), *args], env=env_for(mode), capture_output=True,
                         text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        sys.exit(f"pe {' '.join(args)} ({mode}) failed:\n{out.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def weights_sha256(checkpoint: Path) -> str:
    """sha256 over the state_dict tensors (phoneprice_edge.checkpoint.weights_sha256)."""
    from phoneprice_edge.checkpoint import weights_sha256 as sha

    return sha(checkpoint)


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def train_rounds(work: Path, rounds: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    loop: dict[str, list[float]] = {m: [] for m in MODES}  # metrics.json train_seconds
    hashes: dict[str, list[str]] = {m: [] for m in MODES}
    for r in range(rounds):
        order = MODES if r % 2 == 0 else MODES[::-1]
        for mode in order:
            run = work / f"train-{mode}-{r}"
            wall, cpu_s = pe(mode, "train", "--out", str(run), "-q")
            times[mode].append(round(wall, 2))
            cpu[mode].append(round(cpu_s, 2))
            loop[mode].append(json.loads((run / "metrics.json").read_text())["train_seconds"])
            hashes[mode].append(weights_sha256(run / "checkpoints" / "best_model.pt"))
            print(f"round {r + 1} {mode}: wall {wall:.2f} s, cpu {cpu_s:.2f} s, loop "
                  f"{loop[mode][-1]:.2f} s  {hashes[mode][-1][:16]}", file=sys.stderr, flush=True)
    med = {m: {"wall_s": statistics.median(times[m]), "cpu_s": statistics.median(cpu[m]),
               "loop_s": statistics.median(loop[m])} for m in MODES}
    return {"wall_s": times, "cpu_s": cpu, "loop_s": loop, "median": med,
            "weights_sha256": hashes,
            "repeatable": {m: len(set(hashes[m])) == 1 for m in MODES},
            "modes_identical": hashes["portable"][0] == hashes["native"][0]}


def exports(work: Path) -> dict[str, Any]:
    """Export each fp32 profile of the portable run twice (portable) and once under native."""
    run = work / "train-portable-0"
    result: dict[str, Any] = {}
    for profile in FP32_PROFILES:
        folder = run / "export" / profile
        seen: list[dict[str, str]] = []
        for mode in ("portable", "portable", "native"):
            shutil.rmtree(folder, ignore_errors=True)
            pe(mode, "export", "--run", str(run), "--profile", profile)
            seen.append(file_hashes(folder))
        artifacts = [{k: v for k, v in s.items() if k != "manifest.json"} for s in seen]
        result[profile] = {
            "files": sorted(seen[0]),
            "artifact_identical_twice": artifacts[0] == artifacts[1],
            "manifest_identical_twice": seen[0].get("manifest.json") == seen[1].get("manifest.json"),
            "artifact_identical_native": artifacts[0] == artifacts[2],
            "differing_twice": sorted(k for k in seen[0] if seen[0][k] != seen[1].get(k)),
        }
        print(f"{profile}: {result[profile]}", file=sys.stderr, flush=True)
    return result


def inference(work: Path) -> dict[str, Any]:
    """p50 latency (µs) of the fp32 artifacts and the eager reference, per mode, batch 1 and 1024."""
    run = work / "train-portable-0"
    args = [a for p in BENCH_PROFILES for a in ("--artifact", str(run / "export" / p))]
    out: dict[str, Any] = {}
    for mode in ("portable", "native", "native", "portable"):
        pe(mode, "bench", "--run", str(run), *args, "--reference", "--no-overhead",
           "--batch-sizes", "1,1024", "--min-time", "1", "--out", str(work / f"bench-{mode}"))
        report = json.loads((work / f"bench-{mode}" / "report.json").read_text())
        for r in report["results"]:
            key = f"{r['artifact']} b{r['batch_size']}"
            out.setdefault(key, {}).setdefault(mode, []).append(round(r["p50_us"], 1))
    return out


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--skip-exports", action="store_true")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="pe-repro-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        res: dict[str, Any] = {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "cpu": cpu_model(), "cores": os.cpu_count(),
                               "load_avg_start": os.getloadavg()[0],
                               "train": train_rounds(work, a.rounds)}
        if not a.skip_exports:
            res["exports"] = exports(work)
            res["inference_p50_us"] = inference(work)
        res["load_avg_end"] = os.getloadavg()[0]
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(res, indent=2)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
