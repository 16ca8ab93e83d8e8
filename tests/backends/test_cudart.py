"""The torch-free CUDA runtime layer of the TensorRT backend (cuda-python), on a host without a GPU."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types

import pytest

from phoneprice_edge.backends import cudart
from phoneprice_edge.errors import BackendUnavailable

HAS_BINDINGS = importlib.util.find_spec("cuda") is not None and any(
    importlib.util.find_spec(m) is not None for m in ("cuda.bindings", "cuda.cudart"))


def _has_gpu() -> bool:
    try:
        cudart.gpu_facts(0)
    except BackendUnavailable:
        return False
    return True


def test_device_index_parses_cuda_strings() -> None:
    assert cudart.device_index("cuda") == 0
    assert cudart.device_index("cuda:3") == 3
    with pytest.raises(BackendUnavailable, match="cuda or cuda:N"):
        cudart.device_index("cuda:x")


@pytest.mark.skipif(HAS_BINDINGS, reason="cuda-python is installed here")
def test_without_cuda_python_the_error_names_the_extra() -> None:
    with pytest.raises(cudart.CudaBindingsMissing, match=r"phoneprice_edge\[tensorrt\]"):
        cudart.runtime()


@pytest.mark.skipif(not HAS_BINDINGS, reason="cuda-python not installed")
def test_real_bindings_without_a_gpu_say_so_in_one_line() -> None:
    if _has_gpu():
        pytest.skip("this host has a CUDA GPU")
    for call in (lambda: cudart.gpu_facts(0), lambda: cudart.Stream(0)):
        with pytest.raises(BackendUnavailable, match="no usable NVIDIA GPU here: cuda"):
            call()


def test_gpu_facts_without_cuda_python_or_gpu_is_one_line() -> None:
    from phoneprice_edge.backends.tensorrt import gpu_facts

    if HAS_BINDINGS and _has_gpu():
        pytest.skip("this host has a CUDA GPU")
    with pytest.raises(BackendUnavailable, match="GPU") as info:
        gpu_facts(types.SimpleNamespace(__version__="10.8.0"))
    assert "\n" not in str(info.value)


def test_tensorrt_runtime_modules_import_without_torch() -> None:
    """The GPU image's run-time path (backend, finalize) imports neither torch nor onnx."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "import phoneprice_edge.backends.tensorrt, phoneprice_edge.export.tensorrt_engine")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_finalize_cli_is_one_line_on_a_bad_folder(tmp_path) -> None:  # noqa: ANN001
    r = subprocess.run([sys.executable, "-m", "phoneprice_edge.export.tensorrt_engine", "finalize",
                        str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
