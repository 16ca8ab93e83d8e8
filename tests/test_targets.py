"""The target registry and the shipped export profiles agree with each other."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from phoneprice_edge.export.profile import (
    PACKAGE_PROFILES,
    REPO_PROFILES,
    builtin_profile_names,
    load_profile,
    profile_for,
)
from phoneprice_edge.targets import TARGETS, cuda_available


@pytest.mark.parametrize("name", builtin_profile_names())
def test_every_builtin_profile_validates(name: str) -> None:
    """Each profile in export_profiles/ (which ones ship is pinned by the README's target table,
    tests/test_readme_targets.py); tests/test_parity.py runs each through parity."""
    p = load_profile(name)
    assert p.name == name and p.precision in TARGETS[p.target].precisions


REPO = Path(__file__).resolve().parents[1]


def test_the_builtin_profiles_have_one_tracked_copy() -> None:
    """export_profiles/ is the only copy in the checkout: no tracked profile TOML elsewhere, and
    no package folder a stale copy could hide in (the wheel's copy is made at build time)."""
    assert not PACKAGE_PROFILES.exists(), f"{PACKAGE_PROFILES}: remove it (setup.py makes it in the wheel)"
    names = {p.name for p in REPO_PROFILES.glob("*.toml")}
    if shutil.which("git") and (REPO / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "*.toml"], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.split()
        copies = [t for t in tracked if Path(t).name in names and Path(t).parent.name != "export_profiles"]
        assert copies == [], f"tracked copies of built-in profiles outside export_profiles/: {copies}"


@pytest.mark.slow
def test_a_non_editable_wheel_carries_exactly_export_profiles(tmp_path: Path) -> None:
    """`pip wheel .` (setup.py's build step) packages export_profiles/*.toml, byte for byte, as
    phoneprice_edge/export/profiles/, which profile.profiles_dir() reads in an installed wheel."""
    build = tmp_path / "src"
    shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "runs", "*.egg-info", "cpp_runtime", "__pycache__", "tests",
        "benchmarks", "docs"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path / "whl"), str(build)], capture_output=True, text=True,
                       env={"PE_SKIP_NATIVE": "1", "PATH": "/usr/bin:/bin",
                            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (whl,) = (tmp_path / "whl").glob("*.whl")
    with zipfile.ZipFile(whl) as z:
        packed = {Path(n).name: z.read(n) for n in z.namelist()
                  if n.startswith("phoneprice_edge/export/profiles/")}
    assert packed == {p.name: p.read_bytes() for p in REPO_PROFILES.glob("*.toml")}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_code_paths_resolve(name: str) -> None:
    t = TARGETS[name]
    if t.unavailable_reason("fp32", defer_build=True) and "installation" in \
            (t.unavailable_reason("fp32", defer_build=True) or ""):
        pytest.skip(f"{name}: {t.unavailable_reason('fp32', True)}")
    assert callable(t.load_exporter())
    assert hasattr(t.load_backend(), "load")


def test_tensorrt_unavailable_reason_names_what_is_missing() -> None:
    reason = TARGETS["tensorrt"].unavailable_reason("fp16")
    if cuda_available():
        pytest.skip("a CUDA GPU is present")
    assert reason is not None and "GPU" in reason
    assert TARGETS["tensorrt"].unavailable_reason("fp16", defer_build=True) is None


def test_profile_for_picks_builtin_defaults() -> None:
    assert profile_for("onnx").name == "onnx-fp32"
    assert profile_for("tensorrt").name == "tensorrt-fp16"
    assert profile_for("openvino", "int8").calibration is not None
