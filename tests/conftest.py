"""Shared fixtures: the real data set beside the checkout (skipped where absent), GPU marker."""

from __future__ import annotations

from pathlib import Path

import pytest

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
