"""Wheel build steps: copy the built-in export profiles (export_profiles/*.toml, their one tracked
copy) into the package as phoneprice_edge/export/profiles/, and compile the C++ runtime's core
shared library (cpp_runtime/, CMake) and bundle it as phoneprice_edge/_native/libpe_runtime.so,
so the cpp backend works after a plain `pip install .`. Without cmake or a C/C++ compiler (or when the build fails) the wheel is pure
Python and the cpp backend says how to build the library. Editable installs (`pip install -e`,
./run.sh) skip both: the package reads the checkout's export_profiles/, and the dev flow's scripts/build-cpp.sh writes cpp_runtime/build/libpe_runtime.so.
PE_SKIP_NATIVE=1 skips the build on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 ships bdist_wheel; older ones use the wheel package's
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - depends on the build environment
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
CPP = HERE / "cpp_runtime"
LIB = "libpe_runtime.so"
PROFILES = HERE / "export_profiles"  # phoneprice_edge.export.profile reads them in a checkout
PACKAGED_PROFILES = Path("phoneprice_edge") / "export" / "profiles"  # ... and here in a wheel


def _say(msg: str) -> None:
    print(f"[phoneprice_edge build] {msg}", file=sys.stderr, flush=True)


def native_possible() -> bool:
    """cmake and a C and C++ compiler are on PATH, the sources are here, and no opt-out."""
    if os.environ.get("PE_SKIP_NATIVE") == "1" or not (CPP / "CMakeLists.txt").is_file():
        return False
    return all(shutil.which(t) for t in ("cmake", os.environ.get("CXX", "c++"),
                                           os.environ.get("CC", "cc")))


def build_native(build_dir: Path) -> Path | None:
    """Configure (core only: no tests, adapters or Python) and build pe_runtime; the .so or None."""
    jobs = os.environ.get("PE_BUILD_JOBS", str(os.cpu_count() or 2))
    steps = [["cmake", "-S", str(CPP), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
              "-DPE_BUILD_TESTS=OFF", "-DPE_WITH_ADAPTERS=OFF", "-DPE_WITH_LIBTORCH=OFF"],
             ["cmake", "--build", str(build_dir), "--target", "pe_runtime", "-j", jobs]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            _say(f"C++ runtime library not built ({' '.join(cmd[:2])} failed); the cpp backend "
                 f"will say how to build it. Last lines:\n{(r.stdout + r.stderr)[-1500:]}")
            return None
    lib = build_dir / LIB
    return lib.resolve() if lib.exists() else None


def copy_profiles(build_lib: Path) -> int:
    """export_profiles/*.toml into build_lib/phoneprice_edge/export/profiles/; how many."""
    tomls = sorted(PROFILES.glob("*.toml"))
    if not tomls:
        raise SystemExit(f"{PROFILES}: no export profiles to package")
    dest = build_lib / PACKAGED_PROFILES
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.toml"):
        old.unlink()  # a stale build/lib must not keep a profile that was removed
    for t in tomls:
        shutil.copyfile(t, dest / t.name)
    return len(tomls)


class BuildPyWithRuntime(build_py):
    """build_py, then the export profiles into build_lib/phoneprice_edge/export/profiles/ and the
    C++ runtime library into build_lib/phoneprice_edge/_native/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable: the checkout's export_profiles/ and cpp_runtime/build/ are used
        _say(f"packaged {copy_profiles(Path(self.build_lib))} export profiles")
        if not native_possible():
            _say("no cmake or C/C++ compiler (or PE_SKIP_NATIVE=1): the C++ runtime library is not "
                 "bundled; the cpp backend will say how to build it")
            return
        build_temp = Path(self.get_finalized_command("build").build_temp).resolve()
        lib = build_native(build_temp / "pe_runtime")
        if lib is None:
            return
        dest = Path(self.build_lib) / "phoneprice_edge" / "_native"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest / LIB)
        _say(f"bundled {LIB} ({lib.stat().st_size // 1024} KB)")


class RuntimeWheel(bdist_wheel):
    """A wheel with the native library is tagged for this platform, any Python 3 (no ext modules)."""

    def get_tag(self) -> tuple[str, str, str]:
        python, abi, plat = super().get_tag()
        return ("py3", "none", plat) if not self.root_is_pure else (python, abi, plat)


class MaybeBinary(Distribution):
    """Platform-specific (platlib, platform tag) exactly when the native library will be built."""

    def has_ext_modules(self) -> bool:
        return native_possible()


setup(distclass=MaybeBinary, cmdclass={"build_py": BuildPyWithRuntime, "bdist_wheel": RuntimeWheel})
