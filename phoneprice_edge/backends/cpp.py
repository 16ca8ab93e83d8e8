"""The `cpp` backend: the C++ runtime's shared library (libpe_runtime.so) through ctypes."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from phoneprice_edge.backends.base import Backend, IOSpec, LoadOptions, TensorSpec
from phoneprice_edge.backends.common import artifact_file, manifest_of
from phoneprice_edge.errors import ArtifactError, BackendUnavailable

ENV_LIB = "PE_RUNTIME_LIB"
REPO = Path(__file__).resolve().parents[2]
LIB_NAME = "libpe_runtime.so"
# Bundled by the wheel build (setup.py) when cmake and a C++ compiler were present at install.
PACKAGED_LIB = Path(__file__).resolve().parents[1] / "_native" / LIB_NAME
# The dev flow's build (scripts/build-cpp.sh) in a checkout / editable install.
DEFAULT_LIB = REPO / "cpp_runtime" / "build" / LIB_NAME
BUILD_CMD = ("cmake -S cpp_runtime -B cpp_runtime/build && cmake --build cpp_runtime/build -j "
             "--target pe_runtime")
ABI_VERSION = 1
TILE_ROWS = 1024  # arena sized for this many rows; larger batches run in tiles
_LIB: ctypes.CDLL | None = None


def library_candidates() -> list[Path]:
    """Where the library is looked for, in order: $PE_RUNTIME_LIB alone when set, else the copy
    bundled in the installed package, then the checkout's cpp_runtime/build/."""
    env = os.environ.get(ENV_LIB)
    return [Path(env)] if env else [PACKAGED_LIB, DEFAULT_LIB]


def library_path() -> Path:
    """The first candidate that exists (the last one when none does)."""
    candidates = library_candidates()
    return next((p for p in candidates if p.is_file()), candidates[-1])


def _not_found() -> str:
    """The one-line message for a missing library: where it looked and how to get one."""
    env = os.environ.get(ENV_LIB)
    where = (f"at {env} (from ${ENV_LIB})" if env else
             f"looked for {PACKAGED_LIB} and {DEFAULT_LIB}")
    how = (f"in the checkout with `bash scripts/build-cpp.sh` (or `{BUILD_CMD}`)"
           if (REPO / "cpp_runtime" / "CMakeLists.txt").is_file() else
           "by reinstalling phoneprice_edge with cmake and a C++ compiler on PATH (pip then "
           "builds and bundles it; from a checkout: `bash scripts/build-cpp.sh`)")
    return (f"C++ runtime library not found ({where}); build it {how}"
            + ("" if env else f", or set {ENV_LIB} to a libpe_runtime.so"))


def load_library() -> ctypes.CDLL:
    """Load libpe_runtime once and declare the C API's signatures."""
    global _LIB
    if _LIB is not None:
        return _LIB
    path = library_path()
    if not path.is_file():
        raise BackendUnavailable(_not_found())
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise BackendUnavailable(f"{path}: cannot load the C++ runtime ({exc})") from None
    vp, sz, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32
    sigs = {"pe_abi_version": (u32, []), "pe_status_str": (ctypes.c_char_p, [ctypes.c_int]),
            "pe_model_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(vp)]),
            "pe_model_close": (None, [vp]), "pe_model_n_features": (u32, [vp]),
            "pe_model_n_classes": (u32, [vp]), "pe_model_precision": (u32, [vp]),
            "pe_model_feature_name": (ctypes.c_char_p, [vp, u32]),
            "pe_model_class_name": (ctypes.c_char_p, [vp, u32]),
            "pe_arena_size": (ctypes.c_int, [vp, sz, ctypes.POINTER(sz)]),
            "pe_run": (ctypes.c_int, [vp, vp, sz, vp, sz, vp])}
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    if lib.pe_abi_version() != ABI_VERSION:
        raise BackendUnavailable(f"{path}: ABI version {lib.pe_abi_version()}, this package needs "
                                 f"{ABI_VERSION}; rebuild it (`bash scripts/build-cpp.sh`, or "
                                 f"reinstall phoneprice_edge)")
    _LIB = lib
    return lib


def unavailable_reason() -> str | None:
    """Why the cpp target cannot export or run here (library missing, unloadable, other ABI)."""
    try:
        load_library()
    except BackendUnavailable as exc:
        return str(exc)
    return None


class CppBackend(Backend):
    """A .pem export folder run by the C++ runtime (single thread, caller-owned arena)."""

    name = "cpp"

    def __init__(self, lib: ctypes.CDLL, handle: ctypes.c_void_p, precision: str) -> None:
        self._lib, self._h = lib, handle
        self.precision = precision
        self.n_features = int(lib.pe_model_n_features(handle))
        self.n_classes = int(lib.pe_model_n_classes(handle))
        self.features = [lib.pe_model_feature_name(handle, i).decode() for i in range(self.n_features)]
        self.classes = [lib.pe_model_class_name(handle, i).decode() for i in range(self.n_classes)]
        size = ctypes.c_size_t()
        self._check(lib.pe_arena_size(handle, TILE_ROWS, ctypes.byref(size)), "arena size")
        self._arena = np.zeros(size.value, dtype=np.uint8)
        self._spec = IOSpec(inputs=(TensorSpec("x", (None, self.n_features)),),
                            outputs=(TensorSpec("logits", (None, self.n_classes)),))

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            msg = self._lib.pe_status_str(status).decode()
            raise ArtifactError(f"C++ runtime: {what}: {msg} (status {status})")

    @classmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> CppBackend:
        if device != "cpu":
            raise BackendUnavailable(f"the C++ runtime runs on the CPU only, not {device!r}")
        manifest = manifest_of(artifact, options)
        backend = cls.open_pem(artifact_file(artifact, manifest, "cpp"))
        if list(manifest.features) != backend.features or list(manifest.classes) != backend.classes:
            backend.close()
            raise ArtifactError(f"{artifact}: model.pem features or classes differ from the "
                                f"manifest's")
        return backend

    @classmethod
    def open_pem(cls, pem: str | Path) -> CppBackend:
        """A bare .pem file, without an export folder or manifest (tools and kernel tests)."""
        lib = load_library()
        handle = ctypes.c_void_p()
        status = lib.pe_model_open(str(pem).encode(), ctypes.byref(handle))
        if status != 0:
            raise ArtifactError(f"{pem}: rejected by the C++ runtime: "
                                f"{lib.pe_status_str(status).decode()}")
        return cls(lib, handle, "int8" if lib.pe_model_precision(handle) == 1 else "fp32")

    def describe(self) -> IOSpec:
        return self._spec

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], self.n_classes), dtype=np.float32)
        self._check(self._lib.pe_run(self._h, self._arena.ctypes.data, self._arena.nbytes,
                                     x.ctypes.data, x.shape[0], out.ctypes.data), "run")
        return out

    def _close(self) -> None:
        if getattr(self, "_h", None) is not None:
            self._lib.pe_model_close(self._h)
            self._h = None

    def __del__(self) -> None:
        self.close()
