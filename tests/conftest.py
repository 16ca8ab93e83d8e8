"""Shared fixtures: the real data set beside the checkout (skipped where absent), GPU marker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import phoneprice_edge  # noqa: F401 - first, before any test module imports torch: applies PE_NUMERICS

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_TRAIN = SHARED_DATA / "mobile_price_train.csv"
REAL_TEST = SHARED_DATA / "mobile_price_test.csv"


@pytest.fixture(scope="session")
def real_train_csv() -> Path:
    """The public phone data set (not shipped: licence unknown); skip where ../shared/data is absent."""
    if not REAL_TRAIN.is_file():
        pytest.skip(f"real data set not found at {REAL_TRAIN} (it is not shipped with the project)")
    return REAL_TRAIN


@pytest.fixture(scope="session")
def real_test_csv() -> Path:
    """The unlabelled test file of the public data set; skip where absent."""
    if not REAL_TEST.is_file():
        pytest.skip(f"real test file not found at {REAL_TEST} (it is not shipped with the project)")
    return REAL_TEST


def _has_cuda() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch always importable here
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA; none on this host")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


from run_factory import RUN_VARIANTS, _real_xy, _synth_xy, build_run  # noqa: E402


@pytest.fixture(scope="module")
def phone() -> tuple[Any, Any, Any]:
    """X, y and schema of 240 synthetic phone rows (the training tests' small data set)."""
    from phoneprice_edge.data import prepare, synth_phone

    ds = prepare(synth_phone(rows=240, seed=1))
    return ds.X, ds.y, ds.schema


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain MLP trained on separable synthetic rows (no real data needed)."""
    x, y = _synth_xy()
    return build_run(tmp_path_factory.mktemp("synth_run"), x, y, epochs=15)


@pytest.fixture(scope="session", params=sorted(RUN_VARIANTS))
def variant_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run per model variant that matters for export (norm, activation, wide path)."""
    norm, act, wide = RUN_VARIANTS[request.param]
    x, y = _synth_xy(seed=1)
    return build_run(tmp_path_factory.mktemp(f"run_{request.param}"), x, y, norm, act, wide,
                     epochs=15)


@pytest.fixture(scope="session")
def real_run(real_train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real phone data (80/20 split), batchnorm + gelu + wide: the richest graph."""
    x, y = _real_xy(real_train_csv)
    return build_run(tmp_path_factory.mktemp("real_run"), x, y, "batchnorm", "gelu", True)
