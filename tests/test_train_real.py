"""The default recipe on the real data set: 5-fold stratified CV (seed 42) reaches >= 97.5%."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import load_dataset
from phoneprice_edge.train import train_run


@pytest.mark.slow
def test_default_recipe_5fold_cv(real_train_csv: Path, tmp_path: Path) -> None:
    ds = load_dataset(real_train_csv)
    cfg = load_train_config().with_overrides(kfold=5, device="cpu")
    assert cfg.seed == 42
    res = train_run(cfg, ds.X, ds.y, ds.schema, tmp_path / "run")
    cv = res.metrics["cv"]
    assert len(cv["folds"]) == 5
    assert cv["accuracy_mean"] >= 0.975, cv
