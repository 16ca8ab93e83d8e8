"""The target registry and the shipped export profiles agree with each other."""

from __future__ import annotations

import pytest

from phoneprice_edge.export.profile import (
    PACKAGE_PROFILES,
    REPO_PROFILES,
    builtin_profiles,
    profile_for,
)
from phoneprice_edge.targets import TARGETS, cuda_available

REQUIRED = {"torchscript-fp32", "torchscript-int8", "onnx-fp32", "onnx-fp16", "onnx-int8",
            "openvino-fp32", "openvino-fp16", "openvino-int8", "tensorrt-fp16", "tensorrt-int8",
            "jetson-orin-tensorrt-fp16", "cpp-fp32", "cpp-int8"}


def test_every_required_profile_ships_and_validates() -> None:
    profiles = {p.name: p for p in builtin_profiles()}
    assert REQUIRED <= set(profiles)
    for p in profiles.values():
        assert p.precision in TARGETS[p.target].precisions


def test_packaged_profiles_match_the_repo_copies() -> None:
    repo = {p.name: p.read_bytes() for p in REPO_PROFILES.glob("*.toml")}
    pkg = {p.name: p.read_bytes() for p in PACKAGE_PROFILES.glob("*.toml")}
    assert repo == pkg, "copy export_profiles/*.toml to phoneprice_edge/export/profiles/"


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
