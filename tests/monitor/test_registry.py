"""The model registry: versions, atomic champion pointer, history, the champion artifact for servers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phoneprice_edge.errors import ArtifactError, UsageError
from phoneprice_edge.io_utils import atomic_write_json
from phoneprice_edge.monitor.registry import Registry, current_artifact, current_version


def fake_export(run: Path, profile: str = "onnx-fp32") -> None:
    """An export folder with a manifest (enough for the registry, which never loads artifacts)."""
    atomic_write_json(run / "export" / profile / "manifest.json", {"target": "onnx"})


@pytest.fixture()
def run_copy(small_run: Path, tmp_path: Path) -> Path:
    import shutil
    dst = tmp_path / "run"
    shutil.copytree(small_run, dst)
    fake_export(dst)
    return dst


def test_register_promote_reject_and_history(run_copy: Path, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    assert reg.champion() is None and current_version(reg.root) is None
    v1 = reg.register(run_copy, note="first")
    assert v1 == "v0001" and reg.candidates() == ["v0001"] and reg.champion() is None
    assert reg.promote(v1) is None
    v2 = reg.register(run_copy)
    v3 = reg.register(run_copy)
    reg.reject(v3, ["parity failed"])
    assert reg.promote(v2, reason="better") == v1
    assert reg.champion() == "v0002"
    assert [reg.info(v)["status"] for v in reg.list()] == ["retired", "champion", "rejected"]
    assert reg.info(v3)["reasons"] == ["parity failed"]
    st = reg.status()
    assert st["champion"] == "v0002" and st["versions"][0]["note"] == "first"
    assert [(v["version"], v["status"]) for v in st["versions"]] == [
        ("v0001", "retired"), ("v0002", "champion"), ("v0003", "rejected")]
    assert [e["event"] for e in reg.history()] == ["register", "promote", "register", "register", "reject", "promote"]
    assert os.readlink(reg.root / "current") == "versions/v0002"
    # a version folder is a run folder
    assert (reg.path(v2) / "checkpoints" / "best_model.pt").is_file()
    assert (reg.path(v2) / "data" / "train.npz").is_file()


def test_current_artifact_follows_the_champion(run_copy: Path, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    with pytest.raises(ArtifactError, match="no champion"):
        current_artifact(reg.root, "onnx-fp32")
    reg.promote(reg.register(run_copy))
    art = current_artifact(reg.root, "onnx-fp32")
    assert art == reg.root / "versions" / "v0001" / "export" / "onnx-fp32"
    reg.promote(reg.register(run_copy))
    assert current_artifact(reg.root, "onnx-fp32") == reg.root / "versions" / "v0002" / "export" / "onnx-fp32"
    with pytest.raises(ArtifactError, match="no export for profile"):
        current_artifact(reg.root, "openvino-fp32")


def test_bad_inputs(run_copy: Path, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    with pytest.raises(UsageError, match="no version"):
        reg.promote("v0007")
    with pytest.raises(UsageError, match="not a trained run"):
        reg.register(tmp_path)
    (tmp_path / "reg").mkdir(exist_ok=True)
    (tmp_path / "reg" / "current.json").write_text("{broken")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        current_version(tmp_path / "reg")
    (tmp_path / "reg" / "current.json").write_text(json.dumps({"version": "../etc"}))
    with pytest.raises(ArtifactError, match="names no version"):
        current_version(tmp_path / "reg")
