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
@pytest.mark.xfail(strict=True, reason="target not met by the default: 97.25% +- 0.76. The opt-in "
                   "feature_select='l1_relaxed' (threshold 0.03) scores 97.50% but trains 300 "
                   "epochs, over the ~15 s budget (benchmarks/accuracy.md); strict, so a passing "
                   "default shows up")
def test_default_recipe_reaches_target(default_cv: dict[str, Any]) -> None:
    assert default_cv["accuracy_mean"] >= 0.975, default_cv


@pytest.mark.slow
def test_relaxed_lasso_option_reaches_target(real_train_csv: Path,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    # the opt-in recipe chosen by nested CV (benchmarks/accuracy.md): 97.50% +- 0.88, i.e.
    # exactly 1950 of 2000 rows - one row fewer fails this
    ds = load_dataset(real_train_csv)
    cfg = load_train_config().with_overrides(kfold=5, device="cpu", feature_select="l1_relaxed",
                                             select_threshold=0.03)
    res = train_run(cfg, ds.X, ds.y, ds.schema, tmp_path_factory.mktemp("sel") / "run")
    cv = res.metrics["cv"]
    assert cv["accuracy_mean"] >= 0.975, cv
    assert all("ram" in f["selected_features"] for f in cv["folds"])
