"""Nested CV for the ordinal (adjacent-categories) recipes: inner scores choose, outer is run once.

Outer: stratified 5-fold (seed 42) on the real data; inner: stratified 4-fold (seed 7) on each
outer fold's training rows. `--inner` scores candidates on the inner folds only (no outer fit at
all); `--outer NAME` scores the one chosen candidate on the outer folds (see benchmarks/accuracy.md).

    .venv/bin/python benchmarks/ordinal_search.py --inner [NAME ...]
    .venv/bin/python benchmarks/ordinal_search.py --outer NAME
"""

from __future__ import annotations

from pathlib import Path

from nested_cv import run_search  # the script directory is on sys.path

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
    run_search(CANDIDATES, Path(__file__).with_name("ordinal_search.json"))


if __name__ == "__main__":
    main()
