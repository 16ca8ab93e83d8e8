"""Backends: input validation, provider and precision pinning, engine host checks, registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from artifact_factory import make_manifest

from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.backends.tensorrt import check_engine_host
from phoneprice_edge.errors import ArtifactError, BackendUnavailable, InputError
from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.export.reference import load_reference
from phoneprice_edge.export.runner import export_profile, load_split


@pytest.fixture(scope="module")
def onnx_art(synth_run: Path) -> Path:
    return export_profile(synth_run, load_profile("onnx-fp32")).out_dir


def test_run_validates_input(onnx_art: Path) -> None:
    with load_backend(onnx_art) as b:
        assert b.describe().n_features == 20 and b.describe().n_classes == 4
        with pytest.raises(InputError, match="float32"):
            b.run(np.zeros((2, 20), np.float64))
        with pytest.raises(InputError, match=r"\[N, 20\]"):
            b.run(np.zeros((2, 19), np.float32))
        out = b.run(np.asfortranarray(np.ones((3, 20), np.float32)))
        assert out.shape == (3, 4) and out.dtype == np.float32


def test_onnxruntime_refuses_a_gpu_provider_that_did_not_load(onnx_art: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA provider present")
    with pytest.raises(BackendUnavailable, match="CUDAExecutionProvider did not load"):
        load_backend(onnx_art, device="cuda")


def test_openvino_pins_f32_inference_precision(synth_run: Path) -> None:
    art = export_profile(synth_run, load_profile("openvino-fp32")).out_dir
    with load_backend(art, threads=1) as b:
        assert b.inference_precision == "f32"
        x, _ = load_split(synth_run / "data" / "val.npz")
        ref = load_reference(synth_run).run(x)
        assert np.abs(b.run(x) - ref).max() < 1e-4


def test_engine_for_another_gpu_is_refused() -> None:
    built = {"tensorrt_version": "10.3.0", "gpu_name": "NVIDIA H200",
             "compute_capability": "9.0", "profile": "tensorrt-fp16"}
    check_engine_host(built, dict(built), "x")
    with pytest.raises(ArtifactError, match="rebuild it here"):
        check_engine_host(built, {**built, "compute_capability": "8.7"}, "x")
    with pytest.raises(ArtifactError, match="TensorRT version"):
        check_engine_host(built, {**built, "tensorrt_version": "10.9.0"}, "x")


def test_tensorrt_backend_without_tensorrt_names_the_package(synth_run: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt installed")
    from phoneprice_edge.backends.tensorrt import TensorRTBackend

    with pytest.raises(BackendUnavailable, match="tensorrt"):
        TensorRTBackend.load(synth_run, manifest=make_manifest(target="tensorrt"))


def test_registry_rejects_non_export_folder(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="manifest.json"):
        load_backend(tmp_path)


@pytest.mark.parametrize("target", ["onnx", "openvino", "torchscript", "cpp"])
def test_manifest_without_the_model_file_is_artifact_error(onnx_art: Path, target: str) -> None:
    """A manifest that lists no file of the target's format is an ArtifactError naming the suffix
    (not a bare StopIteration), for every backend."""
    from phoneprice_edge.backends.common import artifact_file
    from phoneprice_edge.targets import TARGETS

    manifest = make_manifest(target=target, files={"notes.txt": "0" * 64})
    suffix = TARGETS[target].suffix
    with pytest.raises(ArtifactError, match=f"lists no \\{suffix} file"):
        artifact_file(onnx_art, manifest, target)
    if TARGETS[target].unavailable_reason() is None:
        with pytest.raises(ArtifactError, match=f"lists no \\{suffix} file"):
            TARGETS[target].load_backend().load(onnx_art, manifest=manifest)
    assert artifact_file(onnx_art, make_manifest(), "onnx") == onnx_art / "model.onnx"
