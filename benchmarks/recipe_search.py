"""Nested cross-validation for choosing the default training recipe (see benchmarks/accuracy.md).

Outer: stratified 5-fold (seed 42) on the real data. Inner: stratified 4-fold (seed 7) on each
outer fold's training rows only. A recipe is chosen by its mean *inner* accuracy; outer scores
are printed for every candidate only to report them, never to choose.

    .venv/bin/python benchmarks/recipe_search.py [CSV] [--out benchmarks/recipe_search.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import fit_scaler, kfold, load_dataset
from phoneprice_edge.training.builders import model_config
from phoneprice_edge.training.loop import FitPaths, SplitTensors, Trainer
from phoneprice_edge.training.state import set_threads

# The starting point of the search (the recipe reported at 97.4% in the issue); every candidate's
# overrides apply on top of it, whatever defaults/train.toml says today.
BASE = {"hidden_dims": [32], "wide": False, "l1_input": 0.003, "optimizer": "adamw",
        "learning_rate": 0.01, "scheduler": "cosine", "batch_size": 64, "epochs": 200}

CANDIDATES: dict[str, dict] = {
    "mlp32_l1": {},
    "mlp32_l1_wide": {"wide": True},
    "mlp32_l1_ls": {"label_smoothing": 0.1},
    "mlp32_l1_noise": {"noise_sigma": 0.05},
    "mlp32_l1_1e-2": {"l1_input": 0.01},
    "mlp16_l1_wide": {"hidden_dims": [16], "wide": True},
    "mlp32_l1_b128": {"batch_size": 128},
    "mlp64_l1_drop": {"hidden_dims": [64], "dropout_p": 0.1},
    "softmax": {"hidden_dims": [], "l1_input": 0.0, "learning_rate": 0.1, "epochs": 300},
    "softmax_l1": {"hidden_dims": [], "l1_input": 0.003, "learning_rate": 0.1},
    # second round, around the best inner score of the first (the wide path)
    "wide_l1_1e-2": {"wide": True, "l1_input": 0.01},
    "wide_noise": {"wide": True, "noise_sigma": 0.05},
    "wide_mlp64": {"wide": True, "hidden_dims": [64]},
    "wide_300ep": {"wide": True, "epochs": 300},
    "wide_lr3e-3": {"wide": True, "learning_rate": 0.003},
    # third round: stronger input sparsity helped the inner score most
    "wide_l1_3e-2": {"wide": True, "l1_input": 0.03},
    "wide16_l1_1e-2": {"hidden_dims": [16], "wide": True, "l1_input": 0.01},
    # fourth round: around wide + l1 0.01 (the best inner score so far)
    "wide_l1_5e-3": {"wide": True, "l1_input": 0.005},
    "wide_l1_1e-2_300ep": {"wide": True, "l1_input": 0.01, "epochs": 300},
    "wide_l1_1e-2_b32": {"wide": True, "l1_input": 0.01, "batch_size": 32},
    "wide_l1_1e-2_wd": {"wide": True, "l1_input": 0.01, "weight_decay": 0.01},
}


def score(cfg, schema, X, y, tr, va) -> float:
    mean, std = fit_scaler(X[tr])
    data = SplitTensors(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (X[tr], y[tr], X[va], y[va])))
    t = Trainer(cfg, model_config(cfg, X.shape[1], schema.n_classes), schema.with_scaler(mean, std),
                data, FitPaths(None), torch.device("cpu"), seed=cfg.seed, track_best=False)
    return t.run().history[-1]["val_accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/mobile_price_train.csv"))
    ap.add_argument("--out", default=str(Path(__file__).with_name("recipe_search.json")))
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    set_threads(1)
    ds = load_dataset(args.csv)
    base = load_train_config()
    results = {}
    for name, over in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        cfg = base.with_overrides(**{**BASE, **over})
        t0 = time.perf_counter()
        inner, outer = [], []
        for otr, ova in kfold(ds.y, 5, 42):
            for itr, iva in kfold(ds.y[otr], 4, 7):
                inner.append(score(cfg, ds.schema, ds.X, ds.y, otr[itr], otr[iva]))
            outer.append(score(cfg, ds.schema, ds.X, ds.y, otr, ova))
        results[name] = {"overrides": over, "inner_mean": float(np.mean(inner)),
                         "outer_mean": float(np.mean(outer)), "outer_std": float(np.std(outer)),
                         "seconds": round(time.perf_counter() - t0, 1)}
        print(name, json.dumps(results[name]), flush=True)
    best = max(results, key=lambda n: results[n]["inner_mean"])
    print("chosen by inner CV:", best, results[best], file=sys.stderr)
    out = Path(args.out)
    if out.is_file():  # merge with earlier rounds
        results = {**json.loads(out.read_text())["results"], **results}
        best = max(results, key=lambda n: results[n]["inner_mean"])
    out.write_text(json.dumps({"chosen": best, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
