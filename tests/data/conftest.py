"""Fixtures for the data-layer tests: a small phone-like frame, files of it, a pe-data runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from phoneprice_edge.data.synth import synth_phone


@pytest.fixture(scope="session")
def phone_df() -> pd.DataFrame:
    """40 rows of the built-in phone-like data (10 per class)."""
    return synth_phone(rows=40, seed=7)


@pytest.fixture
def phone_csv(tmp_path: Path, phone_df: pd.DataFrame) -> Path:
    path = tmp_path / "phones.csv"
    phone_df.to_csv(path, index=False)
    return path


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[pd.DataFrame, str], Path]:
    """Write a frame as CSV in tmp_path (all cells as given, no index) and return its path."""

    def write(df: pd.DataFrame, name: str = "t.csv") -> Path:
        path = tmp_path / name
        df.to_csv(path, index=False)
        return path

    return write


@pytest.fixture
def pe_data() -> Callable[..., tuple[int, str, str]]:
    """Run `pe-data ARGS` through the console-script wrapper inside CliRunner's isolation.

    Returns (exit code, stdout, stderr): the real exit-code path (cli.common.entry), captured.
    """
    from phoneprice_edge.cli.common import entry
    from phoneprice_edge.cli.data import cmd

    def run(*args: str) -> tuple[int, str, str]:
        runner = CliRunner()
        with runner.isolation() as (out, err, _):
            try:
                entry(cmd)(list(map(str, args)), prog_name="pe-data")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            return code, out.getvalue().decode(), err.getvalue().decode()

    return run
