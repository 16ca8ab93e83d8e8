"""Nested CV for the relaxed-lasso (two-stage feature selection) recipes: inner scores choose, outer once.

Outer: stratified 5-fold (seed 42) on the real data; inner: stratified 4-fold (seed 7) on each
outer fold's training rows. `--inner` scores candidates on the inner folds only (no outer fit at
all); `--outer NAME` scores the one chosen candidate on the outer folds (see benchmarks/accuracy.md).

    .venv/bin/python benchmarks/select_search.py --inner [NAME ...]
    .venv/bin/python benchmarks/select_search.py --outer NAME
"""

from __future__ import annotations

from pathlib import Path

from nested_cv import run_search  # the script directory is on sys.path

# Overrides on top of defaults/train.toml as of the search (MLP [32] + wide, L1 0.01, AdamW 1e-2,
# cosine, batch 64, 200 epochs, feature_select none); the default's inner mean is 97.11%
# (wide_l1_1e-2 in recipe_search.json, same folds and protocol). Stage 2: 100 more epochs, L1 0.
SEL = {"feature_select": "l1_relaxed"}
LIN = {"hidden_dims": [], "wide": False}
CANDIDATES: dict[str, dict] = {
    "sel_t10": {**SEL, "select_threshold": 0.1},
    "sel_t20": {**SEL, "select_threshold": 0.2},
    "sel_t10_ord": {**SEL, "select_threshold": 0.1, "ordinal": True},
    "sel_lin_t10": {**SEL, **LIN, "select_threshold": 0.1},
    "sel_lin_t20": {**SEL, **LIN, "select_threshold": 0.2},
    "sel_lin_t10_ord": {**SEL, **LIN, "select_threshold": 0.1, "ordinal": True},
    # second round: ram dominates the importances (px_height/px_width 0.12-0.15 x ram,
    # mobile_wt 0.02-0.04), so 0.1/0.2 drop informative features in some folds
    "sel_t03": {**SEL, "select_threshold": 0.03},
    "sel_t01": {**SEL, "select_threshold": 0.01},
    "sel_t03_ord": {**SEL, "select_threshold": 0.03, "ordinal": True},
    "sel_t03_s2l1": {**SEL, "select_threshold": 0.03, "stage2_l1": 0.003},
    "sel_lin_t03_ord": {**SEL, **LIN, "select_threshold": 0.03, "ordinal": True},
    # third round, around sel_t03 (best inner so far)
    "sel_t05": {**SEL, "select_threshold": 0.05},
    "sel_t03_s2e50": {**SEL, "select_threshold": 0.03, "stage2_epochs": 50},
    # fourth round, after sel_t03's outer score: sel_t03 trains 300 epochs, ~19 s for the default
    # 5-fold run (budget ~15 s); the same total as the old default (200 epochs) keeps the time
    "sel_t03_e150_s50": {**SEL, "select_threshold": 0.03, "epochs": 150, "stage2_epochs": 50},
    "sel_t03_e120_s80": {**SEL, "select_threshold": 0.03, "epochs": 120, "stage2_epochs": 80},
}


def main() -> None:
    run_search(CANDIDATES, Path(__file__).with_name("select_search.json"))


if __name__ == "__main__":
    main()
