"""The default recipe on the real data set: stratified 5-fold CV (seed 42)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import load_dataset
from phoneprice_edge.train import train_run


@pytest.fixture(scope="module")
def default_cv(real_train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ds = load_dataset(real_train_csv)
    cfg = load_train_config().with_overrides(kfold=5, device="cpu")
    assert cfg.seed == 42
    res = train_run(cfg, ds.X, ds.y, ds.schema, tmp_path_factory.mktemp("real") / "run")
    assert len(res.metrics["cv"]["folds"]) == 5
    return res.metrics["cv"]


@pytest.mark.slow
def test_default_recipe_beats_the_baselines(default_cv: dict[str, Any]) -> None:
    # plain MLPs 92-93%, gradient boosting 91%, logistic regression 97.15% (shared/data/README.md)
    assert default_cv["accuracy_mean"] >= 0.971, default_cv


@pytest.mark.slow
def test_default_recipe_score(default_cv: dict[str, Any]) -> None:
    # the default is the relaxed-lasso recipe chosen by nested CV (benchmarks/accuracy.md):
    # 97.50% (1950 of 2000 rows) under each CPU's own kernels with the per-fold trainer, 97.45%
    # under the portable numerics (docs/reproducibility.md); the folds are now trained as one
    # stacked model (training/stacked.py, the k-fold reference since), which rounds differently:
    # 97.45% again (1949 rows) with hidden_dims [32]. A rerun of the whole stacked nested search
    # under one code version ranked hidden_dims [16] first on the inner folds (97.30%), now the
    # default: 97.60% (1952 rows), these folds, on any x86-64 CPU (benchmarks/accuracy.md).
    assert default_cv["accuracy_mean"] >= 0.975, default_cv
    assert [f["accuracy"] for f in default_cv["folds"]] == [0.98, 0.9875, 0.9675, 0.97, 0.975]


@pytest.mark.slow
def test_default_recipe_is_the_relaxed_lasso(default_cv: dict[str, Any]) -> None:
    cfg = load_train_config()
    assert (cfg.feature_select, cfg.select_threshold, cfg.epochs, cfg.stage2_epochs) == \
        ("l1_relaxed", 0.03, 200, 100)
    assert all(f["epochs"] == 300 for f in default_cv["folds"])
    assert all("ram" in f["selected_features"] for f in default_cv["folds"])
