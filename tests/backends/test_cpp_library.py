"""Where the cpp backend finds libpe_runtime.so: $PE_RUNTIME_LIB, the wheel's bundled copy, the
checkout's cpp_runtime/build/; and what it says when there is none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from phoneprice_edge.backends import cpp


def test_env_alone_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cpp.ENV_LIB, str(tmp_path / "x.so"))
    assert cpp.library_candidates() == [tmp_path / "x.so"]
    assert cpp.library_path() == tmp_path / "x.so"


def test_bundled_copy_comes_before_the_checkout_build(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.delenv(cpp.ENV_LIB, raising=False)
    bundled, dev = tmp_path / "_native" / cpp.LIB_NAME, tmp_path / "build" / cpp.LIB_NAME
    monkeypatch.setattr(cpp, "PACKAGED_LIB", bundled)
    monkeypatch.setattr(cpp, "DEFAULT_LIB", dev)
    assert cpp.library_path() == dev  # neither exists: the dev path is named
    dev.parent.mkdir()
    dev.write_bytes(b"")
    assert cpp.library_path() == dev
    bundled.parent.mkdir()
    bundled.write_bytes(b"")
    assert cpp.library_path() == bundled


def test_missing_library_says_where_it_looked_and_how_to_build(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.delenv(cpp.ENV_LIB, raising=False)
    monkeypatch.setattr(cpp, "_LIB", None)
    monkeypatch.setattr(cpp, "PACKAGED_LIB", tmp_path / "a" / cpp.LIB_NAME)
    monkeypatch.setattr(cpp, "DEFAULT_LIB", tmp_path / "b" / cpp.LIB_NAME)
    reason = cpp.unavailable_reason()
    assert reason and "\n" not in reason
    assert str(tmp_path / "a") in reason and str(tmp_path / "b") in reason
    assert "scripts/build-cpp.sh" in reason and cpp.ENV_LIB in reason
    monkeypatch.setattr(cpp, "REPO", tmp_path)  # an installed package: no checkout beside it
    assert "reinstalling phoneprice_edge with cmake and a C++ compiler" in cpp.unavailable_reason()


def test_bundled_library_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The file setup.py bundles is the same library: loaded from the _native place it works."""
    built = cpp.REPO / "cpp_runtime" / "build" / cpp.LIB_NAME
    if not built.is_file():
        pytest.skip("no cpp_runtime/build/libpe_runtime.so (bash scripts/build-cpp.sh)")
    monkeypatch.delenv(cpp.ENV_LIB, raising=False)
    monkeypatch.setattr(cpp, "_LIB", None)
    bundled = tmp_path / "_native" / cpp.LIB_NAME
    bundled.parent.mkdir()
    shutil.copyfile(built.resolve(), bundled)
    monkeypatch.setattr(cpp, "PACKAGED_LIB", bundled)
    assert cpp.library_path() == bundled
    assert cpp.load_library().pe_abi_version() == cpp.ABI_VERSION
