"""Writes golden.bin beside exported cpp artifacts from their run (PyTorch reference logits).

Usage: python artifact_golden.py RUN_DIR PROFILE... [--rows N] [--out DIR]
Used once to make the in-tree vectors (cpp_runtime/tests/golden/default_*): the default recipe's
model (`pe train`, built-in data, seed 0) exported as cpp-fp32, cpp-int8 and cpp-int8-static (the
cpp-int8 profile with activation_scheme = "static", int8_keep_fp32 = ["first"]), with the first
N validation rows. Tolerances: fp32 |d| <= 1e-4 + 1e-3 |ref| and every top-1 equal; int8 no
elementwise bound and >= 99.5% top-1 (as `Tolerance.default_for`).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from phoneprice_edge import golden
from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.export.runner import load_split

TOLERANCE = {"fp32": golden.Tolerance(1e-4, 1e-3, 1.0),
             "int8": golden.Tolerance(float("inf"), 0.0, 0.995)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("profiles", nargs="+")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--out", type=Path, default=None, help="also copy model.pem + golden.bin here")
    a = ap.parse_args()
    import torch  # after phoneprice_edge: its numerics settings come first

    model = load_model(a.run / "checkpoints" / "best_model.pt").model.eval()
    x, _ = load_split(a.run / "data" / "val.npz")
    x = x[: a.rows]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().astype(np.float32)
    for name in a.profiles:
        art = a.run / "export" / name
        prec = json.loads((art / "manifest.json").read_text())["precision"]
        golden.write(art / golden.GOLDEN_FILE, golden.Golden(x, ref, TOLERANCE[prec]))
        if a.out:
            stem = "default_" + name.removeprefix("cpp-").replace("int8-static", "static")
            shutil.copy2(art / "model.pem", a.out / f"{stem}.pem")
            shutil.copy2(art / golden.GOLDEN_FILE, a.out / f"{stem}_golden.bin")
        print(f"{art / golden.GOLDEN_FILE}: {len(x)} rows, {prec} tolerance")


if __name__ == "__main__":
    main()
