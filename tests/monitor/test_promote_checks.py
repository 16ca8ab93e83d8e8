"""pe-monitor promote verifies the version's artifacts (file hashes, exported from the version's
own checkpoint) and refuses a gate-rejected version unless --force."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.cli.monitor import cmd
from phoneprice_edge.monitor.registry import Registry


def promote(registry: Path, *args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["promote", "--registry", str(registry), *args])
    return int(exc.value.code)


@pytest.fixture(scope="module")
def exported_run(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    run = tmp_path_factory.mktemp("promote") / "run"
    shutil.copytree(small_run, run)
    export_profile(run, load_profile("onnx-fp32"))
    return run


@pytest.fixture()
def reg(exported_run: Path, tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "reg")
    r.promote(r.register(exported_run, note="first"))
    return r


def _champion_unchanged(reg: Registry, capsys: pytest.CaptureFixture[str], code: int,
                        want: int, *fragments: str) -> None:
    err = capsys.readouterr().err
    assert code == want, err
    assert reg.champion() == "v0001" and err.count("\n") == 1
    assert all(f in err for f in fragments), err


def test_good_version_is_promoted(reg: Registry, exported_run: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    v2 = reg.register(exported_run)
    assert promote(reg.root, v2) == 0
    assert reg.champion() == v2 and "verified: onnx-fp32" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete", "manifest_hash"])
def test_tampered_artifact_is_refused(reg: Registry, exported_run: Path, damage: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    v2 = reg.register(exported_run)
    art = reg.path(v2) / "export" / "onnx-fp32"
    model = art / "model.onnx"
    if damage == "flip_byte":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "truncate":
        model.write_bytes(model.read_bytes()[:100])
    elif damage == "delete":
        model.unlink()
    else:
        m = json.loads((art / "manifest.json").read_text())
        m["files"]["model.onnx"] = "0" * 64
        (art / "manifest.json").write_text(json.dumps(m))
    # an edited manifest is caught by its digest before any file hash is compared
    word = "manifest digest" if damage == "manifest_hash" else "model.onnx"
    _champion_unchanged(reg, capsys, promote(reg.root, v2), 1, word)
    _champion_unchanged(reg, capsys, promote(reg.root, v2, "--force"), 1, word)


def test_artifact_of_another_checkpoint_is_refused(reg: Registry, exported_run: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    v2 = reg.register(exported_run)
    ckpt = reg.path(v2) / "checkpoints" / "best_model.pt"
    ckpt.write_bytes(ckpt.read_bytes() + b"\0")  # a different checkpoint than was exported
    _champion_unchanged(reg, capsys, promote(reg.root, v2), 1, "checkpoint", "onnx-fp32")


def test_version_without_artifacts_is_refused(reg: Registry, exported_run: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    v2 = reg.register(exported_run)
    shutil.rmtree(reg.path(v2) / "export")
    _champion_unchanged(reg, capsys, promote(reg.root, v2), 1, "no export")


def test_rejected_version_needs_force(reg: Registry, exported_run: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    v2 = reg.register(exported_run)
    reg.reject(v2, ["parity failed: onnx-fp32"])
    _champion_unchanged(reg, capsys, promote(reg.root, v2), 2, "rejected", "parity failed",
                        "--force")
    assert promote(reg.root, v2, "--force") == 0
    assert reg.champion() == v2
    assert reg.history()[-1]["reason"].startswith("manual, forced")


def test_unknown_and_odd_versions_are_usage_errors(reg: Registry,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for v in ("v0009", "../v0001", "v1", ""):
        _champion_unchanged(reg, capsys, promote(reg.root, v), 2, "no version")


@pytest.mark.parametrize("profile", ["..", "../../v0001/export/onnx-fp32", "/etc", ".", ""])
def test_champion_artifact_profile_must_be_a_plain_name(reg: Registry, profile: str) -> None:
    from phoneprice_edge.errors import ConfigError
    from phoneprice_edge.monitor.registry import current_artifact

    with pytest.raises(ConfigError, match="profile name"):
        current_artifact(reg.root, profile)
    assert current_artifact(reg.root, "onnx-fp32").name == "onnx-fp32"
