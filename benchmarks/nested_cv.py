"""Shared driver of the nested-CV recipe searches: inner folds choose, the outer folds run once.

Outer: stratified 5-fold (seed 42) on the real data; inner: stratified 4-fold (seed 7) on each
outer fold's training rows. Candidates are overrides on top of `defaults/train.toml` *as it is when
the search runs*; the recorded JSON files keep the scores of earlier defaults.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from recipe_search import score  # the script directory is on sys.path

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import kfold, load_dataset
from phoneprice_edge.training.state import set_threads


def run_search(candidates: dict[str, dict[str, Any]], default_out: Path) -> None:
    """`--inner [NAME ...]` scores candidates on inner folds only; `--outer NAME` the chosen one."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(Path(__file__).resolve().parents[2]
                                         / "shared/data/mobile_price_train.csv"))
    ap.add_argument("--inner", nargs="*")
    ap.add_argument("--outer")
    ap.add_argument("--out", default=str(default_out))
    args = ap.parse_args()
    set_threads(1)
    ds = load_dataset(args.csv)
    base = load_train_config()
    names = [args.outer] if args.outer else (args.inner or list(candidates))
    out = Path(args.out)
    results = json.loads(out.read_text())["results"] if out.is_file() else {}
    for name in names:
        cfg = base.with_overrides(**candidates[name])
        t0 = time.perf_counter()
        rec = results.setdefault(name, {"overrides": candidates[name]})
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
