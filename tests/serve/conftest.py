"""Fixtures for the serve tests: one real ONNX artifact per session, the served model, the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from artifact import make_onnx_artifact

from phoneprice_edge.serve.model import ServedModel, load_served_model


@pytest.fixture(scope="session")
def onnx_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx_artifact(tmp_path_factory.mktemp("artifact") / "onnx_fp32")


@pytest.fixture(scope="session")
def served(onnx_artifact: Path) -> Iterator[ServedModel]:
    model = load_served_model(onnx_artifact)
    yield model
    model.close()
