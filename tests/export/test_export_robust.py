"""Export safety: a profile name is one safe path component; nothing outside the profile's own
folder is removed; hidden temp folders left by a killed export are cleaned up; a run still in
progress is exported (and evaluated) with a warning."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.export.profile import check_profile_name, load_profile, parse_profile
from phoneprice_edge.export.runner import export_profile

BAD_NAMES = [".", "..", "../../x", "../x", "a/b", "/etc", "a\\b", "..\\..\\x", "", " ", ".hidden",
             "x\x00y", "tab\tname", "x" * 200, "new\nline", "-leading-dash"]
GOOD_NAMES = ["onnx-fp32", "my_profile.v2", "A1", "jetson-orin-tensorrt-fp16"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_profile_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="profile name"):
        parse_profile({"name": name, "target": "onnx", "precision": "fp32"}, name="t")
    with pytest.raises(ConfigError, match="profile name"):
        check_profile_name(name)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_safe_profile_names_pass(name: str) -> None:
    assert parse_profile({"name": name, "target": "onnx", "precision": "fp32"}, name="t").name == name


def test_file_stem_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "..toml").write_text('target = "onnx"\nprecision = "fp32"\n')
    with pytest.raises(ConfigError, match="profile name"):
        load_profile(tmp_path / "..toml")


@pytest.fixture()
def run_copy(synth_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(synth_run, dst)
    shutil.rmtree(dst / "export", ignore_errors=True)  # synth_run is shared: other tests export into it
    other = dst / "export" / "openvino-fp32"
    other.mkdir(parents=True)
    (other / "keep.txt").write_text("another profile's artifact")
    return dst


@pytest.mark.parametrize("name", [".", "..", "../../x", "export"])
def test_dot_profile_never_replaces_other_exports(run_copy: Path, name: str) -> None:
    """A profile built in code (no TOML) is checked again by the runner."""
    prof = dataclasses.replace(load_profile("onnx-fp32"), name=name)
    if name == "export":  # a safe name: exported into export/export/, the others untouched
        export_profile(run_copy, prof)
        assert (run_copy / "export" / "export" / "manifest.json").is_file()
    else:
        with pytest.raises(ConfigError, match="profile name"):
            export_profile(run_copy, prof)
    assert (run_copy / "export" / "openvino-fp32" / "keep.txt").is_file()
    assert (run_copy / "checkpoints" / "best_model.pt").is_file()
    assert not (run_copy.parent / "x").exists()


def test_stale_tmp_folders_of_dead_exports_are_removed(run_copy: Path) -> None:
    exp = run_copy / "export"
    dead_pid = 2 ** 22 + 12345  # above the kernel's pid_max default: never a live process
    stale = [exp / ".onnx-fp32.k3j2_x.tmp",  # the layout of earlier versions (no pid)
             exp / f".onnx-fp32.pid{dead_pid}.ab12.tmp",
             exp / f".openvino-fp32.pid{dead_pid}.cd34.tmp",
             exp / ".onnx-fp32.old"]
    live = exp / f".cpp-fp32.pid{os.getpid()}.ef56.tmp"  # an export running now: left alone
    for d in [*stale, live]:
        d.mkdir()
        (d / "model.bin").write_bytes(b"x")
    export_profile(run_copy, load_profile("onnx-fp32"))
    assert [d for d in stale if d.exists()] == []
    assert live.is_dir() and (exp / "openvino-fp32" / "keep.txt").is_file()
    assert sorted(p.name for p in exp.iterdir()) == [live.name, "onnx-fp32", "openvino-fp32"]


def _call(module: str, args: list[str]) -> int:
    cmd = importlib.import_module(module).cmd
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code)


def test_export_and_eval_of_a_run_in_progress_warn(run_copy: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (run_copy / ".in_progress").write_text(json.dumps({"pid": os.getpid(), "started": 0}))
    assert _call("phoneprice_edge.cli.export", ["--run", str(run_copy), "--target", "onnx"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "in progress" in err and str(run_copy) in err
    assert _call("phoneprice_edge.cli.evaluate", ["--run", str(run_copy), "--no-plots",
                                                  "--out", str(run_copy / "e")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "in progress" in err
    (run_copy / ".in_progress").write_text(json.dumps({"pid": 2 ** 22 + 7, "started": 0}))
    assert _call("phoneprice_edge.cli.evaluate", ["--run", str(run_copy), "--no-plots",
                                                  "--out", str(run_copy / "e")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "interrupted" in err and "--resume" in err
    (run_copy / ".in_progress").unlink()
    assert _call("phoneprice_edge.cli.evaluate", ["--run", str(run_copy), "--no-plots",
                                                  "--out", str(run_copy / "e")]) == 0
    assert "warning" not in capsys.readouterr().err
