"""int8 on the default recipe: train on the real data and on the built-in data, export every int8
profile, run pe parity, and record the int8 share of the weight MACs, top-1 agreement with the fp32
model over every row (differing rows, 95% interval), validation agreement and accuracy drop in
benchmarks/int8.md (+ int8.json). Usage: python benchmarks/int8_agreement.py [--out DIR]."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "mobile_price_train.csv"
PROFILES = ["onnx-int8", "torchscript-int8", "openvino-int8", "cpp-int8"]
PE = [sys.executable, "-m", "phoneprice_edge.cli"]


def sh(*args: str) -> str:
    """Run a pe command, failing loudly with its output."""
    res = subprocess.run([*PE, *args], capture_output=True, text=True)
    if res.returncode not in (0, 1):  # 1 = a parity failure, recorded below
        raise SystemExit(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def one(data: Path, run: Path) -> list[dict]:
    """Train, export the int8 profiles, parity: one record per profile."""
    t0 = time.perf_counter()
    sh("train", "--data", str(data), "--out", str(run), "-q")
    train_s = time.perf_counter() - t0
    rows = []
    for prof in PROFILES:
        t0 = time.perf_counter()
        sh("export", "--run", str(run), "--profile", prof)
        export_s = time.perf_counter() - t0
        art = run / "export" / prof
        if not art.is_dir():
            rows.append({"profile": prof, "error": "not exported"})
            continue
        sh("parity", "--run", str(run), "--artifact", str(art))
        rep = json.loads((run / "parity" / f"{prof}.json").read_text())
        share = rep.get("int8_share") or {}
        rows.append({
            "profile": prof, "passed": rep["passed"],
            "int8_layers": f"{share.get('int8_layers')}/{share.get('layers_total')}",
            "int8_mac_share": share.get("int8_mac_share"),
            "agreement_all": rep["top1_agreement"], "differing_rows": rep["disagreeing_rows"],
            "n_rows": rep["n_rows_all"], "ci95": rep["top1_agreement_ci95"],
            "agreement_val": rep["top1_agreement_val"],
            "accuracy_fp32": rep["accuracy_reference"], "accuracy_int8": rep["accuracy_candidate"],
            "accuracy_drop_points": round(100 * (rep["accuracy_reference"] - rep["accuracy_candidate"]), 2),
            "export_s": round(export_s, 1), "train_s": round(train_s, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    a = ap.parse_args()
    work = a.out or Path(tempfile.mkdtemp(prefix="pe-int8-"))
    synth = work / "synth.csv"
    subprocess.run([*PE, "data", "synth", "--rows", "2000", "--seed", "42", "--out", str(synth)],
                   check=True, capture_output=True)
    datasets = {"built-in (pe-data synth, 2000 rows, seed 42)": synth}
    if REAL.is_file():
        datasets["real (shared/data/mobile_price_train.csv)"] = REAL
    else:
        print(f"real data absent ({REAL}): recorded the built-in data only")
    result = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "datasets": {}}
    for name, path in datasets.items():
        result["datasets"][name] = one(path, work / name.split()[0])
    (ROOT / "benchmarks" / "int8.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# int8 on the default recipe", "",
             f"Machine: {result['machine']} ({result['date']}), `benchmarks/int8_agreement.py`. "
             "Default recipe (`pe train`, seed 42, holdout 8:2), every int8 profile exported and checked "
             "by `pe parity`: top-1 agreement with the fp32 PyTorch model over every row (1600 training "
             "+ 400 validation), accuracy on the 400 validation rows. Gates: agreement >= 99.5%, "
             "accuracy drop <= 0.5 point.", ""]
    for name, rows in result["datasets"].items():
        lines += [f"## {name}", "",
                  "| profile | int8 layers | int8 MACs | agreement (all rows) | differing rows | 95% interval "
                  "| agreement (val) | accuracy fp32 -> int8 | drop | parity | export s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['profile']} | {r['error']} |||||||||| ")
                continue
            lines.append(
                f"| {r['profile']} | {r['int8_layers']} | {100 * (r['int8_mac_share'] or 0):.1f}% | "
                f"{100 * r['agreement_all']:.2f}% | {r['differing_rows']} of {r['n_rows']} | "
                f"{100 * r['ci95'][0]:.2f}-{100 * r['ci95'][1]:.2f}% | {100 * r['agreement_val']:.2f}% | "
                f"{100 * r['accuracy_fp32']:.2f}% -> {100 * r['accuracy_int8']:.2f}% | "
                f"{r['accuracy_drop_points']:+.2f} | {'pass' if r['passed'] else 'FAIL'} | {r['export_s']} |")
        lines.append("")
    (ROOT / "benchmarks" / "int8.md").write_text("\n".join(lines) + HISTORY)
    print("\n".join(lines))


HISTORY = """
## cpp-int8's scheme (2026-12-02)

cpp-int8 is now the C++ runtime's integer-only static scheme with int16 activations (W8A16: int8
weights, activations calibrated at export, int32 sums, fixed-point requantisation; .pem version 3),
0.35-0.88x the time of cpp-fp32 ([cpp/results.md](cpp/results.md)). Until then it was the dynamic
per-row scheme with a residual pass (1 and 2 of 2000 rows differed on the real and built-in data, but
1.1-12x slower than cpp-fp32: it converts back through float); 8-bit static activations differ on 7
and 4 rows and lose 0.75 accuracy points on the built-in data. Both stay options of the profile.

## Before (same recipe, recorded when this work started)

onnx-int8 ran 15% of the weight MACs in int8 (the input-reading Gemms float), cpp-int8 was
byte-identical to cpp-fp32 (every layer kept fp32), torchscript-int8 and openvino-int8 kept the first
layer (75% of the MACs) float; top-1 agreement onnx-int8 vs fp32 over all 2000 real rows 99.35%; on the
built-in data the pipeline's onnx-int8 and torchscript-int8 dropped 98.25% -> 97.00% and failed parity.

## What was tried (simulated int8 of the default model, real and built-in data, flipped rows of 2000)

| method | real | built-in |
|---|---|---|
| plain per-tensor int8 of every layer (round to nearest) | 12 | 13 |
| + per-feature input ranges folded into the standardisation | 13 | 8 |
| + cross-layer equalisation of the hidden layer | 7 | 9 |
| quantization-aware fine-tuning to the fp32 logits (STE, 100-600 steps) | 9-22 | 6-10 |
| + weight rounding search, squared logit error | 8 | 7 |
| + weight rounding search, margin-weighted error | 5 | 7 (3 on val: -0.75 point) |
| any weights, 8-bit input of the first layer only float | 4 | 4 |
| **+ residual activation pass (every layer; the shipped recipe)** | **0** | **1** |

The 8-bit inputs are the floor: `ram` spans 256-3998 MB and the logits reach |65|, so one 8-bit
step of an input moves a logit by up to ~0.27 while 30 of 2000 rows have a top-two margin under 0.3.
The residual pass quantizes x - Q(x) again on a 255x finer scale and multiplies it by the same int8
weights: two int8 x int8 products per layer (ONNX Runtime fuses both into QGemm, OpenVINO runs both
FullyConnected layers in u8, fbgemm and the C++ runtime likewise), ~15-bit inputs.

OpenVINO: its oneDNN capped at SSE4.1 (what the portable training numerics set, now lifted around
OpenVINO) or on a CPU without VNNI adds pairs of u8 x s8 products in int16: full-range 8-bit inputs
and weights saturate (logits off by up to 11 on 150 of 2000 rows). 7-bit weights fixed it but cost 2 of
400 validation rows (built-in data: 3 rows differ, -0.50 point); activations on 0..127 (both passes)
fix it at no measurable cost, and the OpenVINO logits are then bitwise equal under SSE4.1, AVX2 and
AMX/VNNI dispatch.
"""

if __name__ == "__main__":
    main()
