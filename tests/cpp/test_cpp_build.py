"""scripts/build-cpp.sh (the core library `./run.sh pipeline` builds) and the cpp target's skip
when the library is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from phoneprice_edge.backends import cpp as cpp_backend

REPO = Path(__file__).resolve().parents[2]


def _copy_tree(tmp_path: Path) -> Path:
    """scripts/build-cpp.sh and cpp_runtime/ (without build folders) in a scratch checkout."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "build-cpp.sh", root / "scripts")
    shutil.copytree(REPO / "cpp_runtime", root / "cpp_runtime",
                    ignore=shutil.ignore_patterns("build*"))
    return root


def _script(root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(root / "scripts" / "build-cpp.sh")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_build_cpp_builds_the_loadable_core_library_idempotently(tmp_path: Path,
                                                                 monkeypatch) -> None:
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake or c++ not installed")
    root = _copy_tree(tmp_path)
    first = _script(root)
    assert first.returncode == 0, first.stderr
    lib = root / "cpp_runtime" / "build" / "libpe_runtime.so"
    assert lib.exists()
    assert first.stderr.strip().splitlines()[-1].startswith("[cpp] C++ runtime library: ")
    cache = (root / "cpp_runtime" / "build" / "CMakeCache.txt").read_text()
    assert "PE_BUILD_TESTS:BOOL=OFF" in cache and "PE_WITH_ADAPTERS:BOOL=OFF" in cache
    mtime = lib.resolve().stat().st_mtime_ns
    again = _script(root)
    assert again.returncode == 0, again.stderr
    assert lib.resolve().stat().st_mtime_ns == mtime  # up to date: nothing rebuilt
    monkeypatch.setattr(cpp_backend, "_LIB", None)
    monkeypatch.setenv(cpp_backend.ENV_LIB, str(lib))
    assert cpp_backend.unavailable_reason() is None
    assert cpp_backend.load_library().pe_abi_version() == cpp_backend.ABI_VERSION


def test_build_cpp_without_cmake_says_so_in_one_line(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "nproc", "sed", "cc", "c++"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    res = _script(root, {"PATH": str(bin_dir)})
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "not built: cmake not found" in lines[0], res.stderr


def test_default_library_is_in_this_checkout() -> None:
    """The editable install and the working tree both look in <checkout>/cpp_runtime/build/."""
    assert cpp_backend.DEFAULT_LIB == REPO / "cpp_runtime" / "build" / "libpe_runtime.so"


def test_missing_library_skips_the_cpp_profiles(monkeypatch, tmp_path: Path) -> None:
    from phoneprice_edge.export.profile import builtin_profiles
    from phoneprice_edge.export.runner import export_all
    from phoneprice_edge.targets import TARGETS

    monkeypatch.setattr(cpp_backend, "_LIB", None)
    monkeypatch.setenv(cpp_backend.ENV_LIB, str(tmp_path / "libpe_runtime.so"))
    reason = TARGETS["cpp"].unavailable_reason("int8")
    assert reason is not None and "not found" in reason and "scripts/build-cpp.sh" in reason
    cpp = [p for p in builtin_profiles() if p.target == "cpp"]
    assert cpp
    # skipped before any work: the run folder is not even read
    results, skipped, failed = export_all(tmp_path / "no-run", cpp)
    assert results == [] and failed == []
    assert sorted(n for n, _ in skipped) == sorted(p.name for p in cpp)
    assert all("not found" in why for _, why in skipped)
