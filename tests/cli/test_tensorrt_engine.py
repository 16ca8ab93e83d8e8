"""The TensorRT finalize command line (cli/tensorrt_engine.py) under its python -m names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phoneprice_edge.cli.tensorrt_engine import USAGE, main


def test_usage_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2 and main(["build", "x"]) == 2
    assert capsys.readouterr().err == (USAGE + "\n") * 2


@pytest.mark.parametrize("module", ["phoneprice_edge.export.tensorrt_engine",
                                    "phoneprice_edge.export.tensorrt"])
def test_both_module_names_still_run_it(module: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", module, "finalize", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
