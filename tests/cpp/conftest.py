"""Fixtures for the C++ runtime tests: the built library (skip with the build command if absent)."""

from __future__ import annotations

import pytest

from phoneprice_edge.backends import cpp as cpp_backend
from phoneprice_edge.errors import BackendUnavailable


@pytest.fixture(scope="session")
def pe_lib():
    """libpe_runtime.so through ctypes (built by scripts/test.d/10-cpp-runtime.sh)."""
    try:
        return cpp_backend.load_library()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
