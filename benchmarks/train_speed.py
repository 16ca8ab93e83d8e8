"""`pe train --kfold 5` (default recipe, real data) against five folds of a plain PyTorch loop, side by side.

    .venv/bin/python benchmarks/train_speed.py [--csv CSV] [--rounds 5] [--out benchmarks/train_speed.md]

Each round runs, in fresh processes one after the other, (a) the plain loop: an MLP 20-H-4 (H: the
default recipe's hidden width, or --plain-hidden), AdamW lr 1e-2, batch 64, 300 epochs, one torch
thread, on each of the 5 outer folds' 1,600 training rows
(the time of the five training loops only, torch already imported), and (b) the whole
`pe train --data CSV --kfold 5 --quiet` process (start-up, data checks, training, every file,
metrics). The variants alternate (a b a b ...); medians over the rounds are compared. Both run
under the portable numerics (docs/reproducibility.md). `--profile` adds a cProfile breakdown of
one `pe train` run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "mobile_price_train.csv"

PLAIN = r'''
import phoneprice_edge  # the portable numerics, as pe train
import json, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from phoneprice_edge.data import kfold, load_dataset
torch.set_num_threads(1)
ds, hidden = load_dataset(sys.argv[1]), int(sys.argv[2])
seconds, accs = [], []
for tr, va in kfold(ds.y, 5, 42):
    torch.manual_seed(42)
    mean, std = ds.X[tr].mean(0), ds.X[tr].std(0) + 1e-12
    x = torch.from_numpy(((ds.X[tr] - mean) / std).astype(np.float32)); y = torch.from_numpy(ds.y[tr])
    model = nn.Sequential(nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, 4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    t0 = time.perf_counter()
    for epoch in range(300):
        order = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds.append(time.perf_counter() - t0)
    with torch.no_grad():
        xv = torch.from_numpy(((ds.X[va] - mean) / std).astype(np.float32))
        accs.append(float((model(xv).argmax(1).numpy() == ds.y[va]).mean()))
print(json.dumps({"seconds": seconds, "accuracy": float(np.mean(accs))}))
'''


def env() -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(REPO))
    e.pop("PE_NUMERICS", None)  # the default: portable
    return e


def default_hidden() -> int:
    """The default recipe's (first) hidden width: the plain loop is of the same size."""
    from phoneprice_edge.config import load_train_config

    return load_train_config().hidden_dims[0]


def plain(csv: str, hidden: int) -> dict:
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", PLAIN, csv, str(hidden)], env=env(), cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out.splitlines()[-1])
    return {"seconds": round(sum(r["seconds"]), 2), "fold_seconds": [round(s, 2) for s in r["seconds"]],
            "accuracy": round(r["accuracy"], 4), "load_before": round(load, 2)}


def pe_train(csv: str) -> dict:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "phoneprice_edge.cli", "train", "--data", csv,
                        "--kfold", "5", "--out", str(run), "--quiet"], env=env(), cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        m = json.loads((run / "metrics.json").read_text())
    return {"seconds": round(wall, 2), "loop_seconds": m["train_seconds"],
            "accuracy": round(m["cv"]["accuracy_mean"], 4), "load_before": round(load, 2)}


PROFILE = r'''
import cProfile, pstats, io, sys, tempfile, time
t0 = time.perf_counter()
import phoneprice_edge
from phoneprice_edge.cli.train import cmd
pr = cProfile.Profile(); pr.enable()
try:
    cmd.main(["--data", sys.argv[1], "--kfold", "5", "--quiet", "--out", tempfile.mkdtemp() + "/run"],
             standalone_mode=False)
finally:
    pr.disable()
total = time.perf_counter() - t0
st = pstats.Stats(pr)
rows = {}
root = sys.argv[2].rstrip("/") + "/"  # this checkout, wherever it is: paths relative to it
for (file, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
    rows[f"{file.split('site-packages/')[-1].removeprefix(root)}:{name}"] = ct
want = ["phoneprice_edge/cli/train.py:cmd", "phoneprice_edge/cli/train.py:load_data",
        "phoneprice_edge/training/run.py:train_run", "phoneprice_edge/training/stacked.py:run",
        "phoneprice_edge/training/stacked.py:_train_epoch", "phoneprice_edge/training/stacked_model.py:train_step",
        "phoneprice_edge/training/stacked_optim.py:step", "phoneprice_edge/training/stacked.py:validate",
        "phoneprice_edge/training/stacked_io.py:snapshot", "phoneprice_edge/training/stacked_io.py:close",
        "phoneprice_edge/training/fold.py:write_fold", "phoneprice_edge/data/split.py:kfold",
        "phoneprice_edge/data/validate.py:load_dataset", "phoneprice_edge/evaluate.py:compute_metrics"]
print(f"TOTAL {total:.2f}")
for w in want:
    hits = [v for k, v in rows.items() if k.endswith(w)]
    print(f"{w} {max(hits) if hits else float('nan'):.2f}")
'''


def profile(csv: str) -> list[str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROFILE, csv, str(REPO)], env=env(), cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    return [f"process wall (with cProfile overhead) {wall:.2f} s", *out.splitlines()]


def report(rounds: list[tuple[dict, dict]], prof: list[str] | None, hidden: int, recipe_hidden: int) -> str:
    pl = statistics.median(a["seconds"] for a, _ in rounds)
    pe = statistics.median(b["seconds"] for _, b in rounds)
    ratios = [b["seconds"] / a["seconds"] for a, b in rounds]
    import torch

    lines = ["# Training speed: `pe train --kfold 5` against five plain-loop folds", "",
             f"`benchmarks/train_speed.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"{_cpu()} ({_isa()}), {os.cpu_count()} vCPU shared with other jobs; torch {torch.__version__}, "
             f"Python {platform.python_version()}; portable numerics (the default); plain loop MLP "
             f"20-{hidden}-4 (default recipe: hidden_dims [{recipe_hidden}]).", "",
             "| round | plain loop, 5 folds (s) | load | pe train --kfold 5, whole process (s) | "
             "load | ratio | plain acc | pe CV acc |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {i} | {a['seconds']} | {a['load_before']} | {b['seconds']} | {b['load_before']} | "
              f"{b['seconds'] / a['seconds']:.3f} | {a['accuracy']} | {b['accuracy']} |"
              for i, (a, b) in enumerate(rounds, 1)]
    lines += ["", f"**Median: plain loop {pl:.2f} s, pe train {pe:.2f} s: ratio {pe / pl:.3f}** "
              f"(median of the per-round ratios {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}).", ""]
    if prof:
        lines += ["## Profile of one `pe train --kfold 5` (cProfile, cumulative seconds)", "", "```",
                  *prof, "```", ""]
    return "\n".join(lines)


def _cpu() -> str:
    from phoneprice_edge.host import cpu_model

    return cpu_model()


def _isa() -> str:
    """The vector extensions that matter for the numerics note (AVX-512, VNNI, AMX)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "flags unknown"
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return ", ".join(have) or "no AVX2"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(CSV))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--plain-hidden", type=int, default=0,
                    help="the plain loop's hidden width (0: the default recipe's)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("train_speed.md")))
    args = ap.parse_args()
    recipe_hidden = default_hidden()
    hidden = args.plain_hidden or recipe_hidden
    rounds = []
    for _ in range(args.rounds):
        a = plain(args.csv, hidden)
        b = pe_train(args.csv)
        print(json.dumps({"plain": a, "pe_train": b}), flush=True)
        rounds.append((a, b))
    prof = profile(args.csv) if args.profile else None
    text = report(rounds, prof, hidden, recipe_hidden)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
