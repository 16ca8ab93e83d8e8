"""Fixtures for the monitor tests: a small trained run on the built-in synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor_helpers import make_run


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run shared by the tests that only read it."""
    return make_run(tmp_path_factory.mktemp("monitor") / "run")
