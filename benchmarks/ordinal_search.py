"""Nested CV for the ordinal (adjacent-categories) recipes: inner scores choose, outer is run once.

Outer: stratified 5-fold (seed 42) on the real data; inner: stratified 4-fold (seed 7) on each
outer fold's training rows. `--inner` scores candidates on the inner folds only (no outer fit at
all); `--outer NAME` scores the one chosen candidate on the outer folds (see benchmarks/accuracy.md).

    .venv/bin/python benchmarks/ordinal_search.py --inner [NAME ...]
    .venv/bin/python benchmarks/ordinal_search.py --outer NAME
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from recipe_search import score  # the script directory is on sys.path

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import kfold, load_dataset
from phoneprice_edge.training.state import set_threads

# Overrides on top of defaults/train.toml as of the search (MLP [32] + wide, L1 0.01, AdamW 1e-2,
# cosine, batch 64, 200 epochs); "reference" is that default itself (its inner mean, 97.11%, is in
# recipe_search.json as wide_l1_1e-2, same folds and protocol).
CANDIDATES: dict[str, dict] = {
    "reference": {},
    "ord_wide": {"ordinal": True},
    "ord_wide_l1_3e-2": {"ordinal": True, "l1_input": 0.03},
    "ord_wide_ls": {"ordinal": True, "label_smoothing": 0.05},
    "ord_wide_l1_3e-3": {"ordinal": True, "l1_input": 0.003},
    "ord_linear": {"ordinal": True, "hidden_dims": [], "wide": False, "l1_input": 0.0},
    "ord_linear_l1": {"ordinal": True, "hidden_dims": [], "wide": False, "l1_input": 0.01},
    "ord_wide_mlp16": {"ordinal": True, "hidden_dims": [16]},
    "ord_wide_mlp64": {"ordinal": True, "hidden_dims": [64]},
    "ord_wide_lr5e-3": {"ordinal": True, "learning_rate": 0.005},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(Path(__file__).resolve().parents[2]
                                         / "shared/data/mobile_price_train.csv"))
    ap.add_argument("--inner", nargs="*")
    ap.add_argument("--outer")
    ap.add_argument("--out", default=str(Path(__file__).with_name("ordinal_search.json")))
    args = ap.parse_args()
    set_threads(1)
    ds = load_dataset(args.csv)
    base = load_train_config()
    names = [args.outer] if args.outer else (args.inner or list(CANDIDATES))
    out = Path(args.out)
    results = json.loads(out.read_text())["results"] if out.is_file() else {}
    for name in names:
        cfg = base.with_overrides(**CANDIDATES[name])
        t0 = time.perf_counter()
        rec = results.setdefault(name, {"overrides": CANDIDATES[name]})
        if args.outer:
            outer = [score(cfg, ds.schema, ds.X, ds.y, tr, va) for tr, va in kfold(ds.y, 5, 42)]
            rec.update(outer_folds=outer, outer_mean=float(np.mean(outer)),
                       outer_std=float(np.std(outer)))
        else:
            inner = [score(cfg, ds.schema, ds.X, ds.y, otr[itr], otr[iva])
                     for otr, _ in kfold(ds.y, 5, 42) for itr, iva in kfold(ds.y[otr], 4, 7)]
            rec.update(inner_mean=float(np.mean(inner)), inner_std=float(np.std(inner)))
        rec["outer_seconds" if args.outer else "seconds"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(rec), flush=True)
        results = {**(json.loads(out.read_text())["results"] if out.is_file() else {}),
                   name: rec}
        out.write_text(json.dumps({"results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
