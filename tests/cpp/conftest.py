"""Fixtures for the C++ runtime tests: the built library and pe-infer (skip with the build command
if absent), and the runtime's logits for a bare .pem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.backends import cpp as cpp_backend
from phoneprice_edge.errors import BackendUnavailable

INFER = Path(__file__).resolve().parents[2] / "cpp_runtime" / "build" / "pe-infer"


@pytest.fixture(scope="session")
def pe_lib():
    """libpe_runtime.so through ctypes (built by scripts/test.d/10-cpp-runtime.sh)."""
    try:
        return cpp_backend.load_library()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def infer() -> Path:
    """The host build's pe-infer."""
    if not INFER.exists():
        pytest.skip(f"{INFER} not built (bash scripts/test.d/10-cpp-runtime.sh)")
    return INFER


def _logits(model: Path, x: np.ndarray) -> np.ndarray:
    with cpp_backend.CppBackend.open_pem(model) as backend:
        return backend.run(np.ascontiguousarray(x, dtype=np.float32))


@pytest.fixture()
def runtime_logits(pe_lib) -> Callable[[Path, np.ndarray], np.ndarray]:
    """(model.pem, x) -> the C++ runtime's logits through the ctypes backend (Python's values)."""
    return _logits
