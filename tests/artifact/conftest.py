"""Exported artifacts shared by the artifact, signing and verify tests (each test copies one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.export.runner import export_profile
from phoneprice_edge.targets import TARGETS

PROFILES = ("onnx-fp32", "onnx-int8", "cpp-fp32")


@pytest.fixture(scope="session")
def exported(synth_run: Path) -> dict[str, Path]:
    """onnx-fp32, onnx-int8 and (where libpe_runtime is built) cpp-fp32 of the synthetic run."""
    out = {}
    for name in PROFILES:
        prof = load_profile(name)
        if TARGETS[prof.target].unavailable_reason(prof.precision) is None:
            out[name] = export_profile(synth_run, prof).out_dir
    return out


@pytest.fixture
def onnx_copy(exported: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of the onnx-fp32 export folder."""
    return Path(shutil.copytree(exported["onnx-fp32"], tmp_path / "onnx-fp32"))
