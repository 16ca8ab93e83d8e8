"""TensorRT's pure parts (settings, trtexec line, ONNX friendliness, QDQ); the build needs a GPU."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import onnx
import pytest

from phoneprice_edge.errors import ArtifactError, ConfigError, ExportError
from phoneprice_edge.export.manifest import read_manifest
from phoneprice_edge.export.profile import ExportProfile, load_profile, profiles_dir
from phoneprice_edge.export.runner import export_profile
from phoneprice_edge.export.tensorrt import (
    builder_settings,
    check_trt_friendly,
    configure,
    trtexec_command,
)


def test_builder_settings_from_profile() -> None:
    s = builder_settings(load_profile("tensorrt-int8"), 20)
    assert (s.min_shape, s.opt_shape, s.max_shape) == ((1, 20), (64, 20), (4096, 20))
    assert s.int8 and s.fp16 and s.workspace_bytes == 1024 << 20
    j = builder_settings(load_profile("jetson-orin-tensorrt-fp16"), 20)
    assert j.compute_capability == "8.7" and j.build_on_device and not j.int8


def test_trtexec_command_line() -> None:
    cmd = trtexec_command(builder_settings(load_profile("tensorrt-fp16"), 20))
    assert cmd == ["trtexec", "--onnx=model.onnx", "--saveEngine=model.plan",
                   "--minShapes=input:1x20", "--optShapes=input:64x20",
                   "--maxShapes=input:4096x20", "--memPoolSize=workspace:1024M",
                   "--timingCacheFile=timing.cache", "--fp16"]
    assert "--int8" in trtexec_command(builder_settings(load_profile("tensorrt-int8"), 20))


def _with_level(tmp_path: Path, level: int) -> ExportProfile:
    """tensorrt-fp16 with [tensorrt] builder_optimization_level = level."""
    text = (profiles_dir() / "tensorrt-fp16.toml").read_text()
    path = tmp_path / f"trt-level{level}.toml"
    path.write_text(text.replace("[tensorrt]\n", f"[tensorrt]\nbuilder_optimization_level = {level}\n"))
    return load_profile(path)


def test_builder_optimization_level_reaches_trtexec_and_the_builder_config(tmp_path: Path) -> None:
    class FakeConfig:
        def __init__(self) -> None:
            self.flags: list[str] = []
            self.pool: tuple[str, int] | None = None

        def set_memory_pool_limit(self, pool: str, size: int) -> None:
            self.pool = (pool, size)

        def set_flag(self, flag: str) -> None:
            self.flags.append(flag)

    trt = SimpleNamespace(MemoryPoolType=SimpleNamespace(WORKSPACE="workspace"),
                          BuilderFlag=SimpleNamespace(FP16="fp16", INT8="int8"))
    s = builder_settings(_with_level(tmp_path, 5), 20)
    assert s.optimization_level == 5
    assert trtexec_command(s)[-1] == "--builderOptimizationLevel=5"
    config = FakeConfig()
    configure(config, trt, s)
    assert config.builder_optimization_level == 5
    assert config.flags == ["fp16"] and config.pool == ("workspace", 1024 << 20)
    default = builder_settings(load_profile("tensorrt-fp16"), 20)  # not set: TensorRT's default
    assert default.optimization_level is None
    assert not any(a.startswith("--builderOptimizationLevel") for a in trtexec_command(default))
    config = FakeConfig()
    configure(config, trt, default)
    assert not hasattr(config, "builder_optimization_level")
    with pytest.raises(ConfigError, match=r"builder_optimization_level = 6: must be an integer in 0\.\.5"):
        _with_level(tmp_path, 6)  # refused when the profile is read, before any work


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["tensorrt-fp16", "tensorrt-int8", "jetson-orin-tensorrt-fp16"])
def test_deferred_build_writes_friendly_onnx_and_script(variant_run: Path, profile: str) -> None:
    res = export_profile(variant_run, load_profile(profile), defer_build=True)
    assert res.deferred and set(res.files) == {"model.onnx", "build_engine.sh", "golden.bin"}
    model = onnx.load(str(res.out_dir / "model.onnx"))
    check_trt_friendly(model, int8=profile.endswith("int8"))
    script = (res.out_dir / "build_engine.sh").read_text()
    assert "trtexec" in script and "--saveEngine=model.plan" in script
    if profile.startswith("jetson"):
        assert "ON THE TARGET DEVICE" in script and "8.7" in script
    if profile.endswith("int8"):
        dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
        assert dq and "--int8" in script
    assert read_manifest(res.out_dir).fact("deferred_build") is True
    from phoneprice_edge.backends.registry import load_backend
    with pytest.raises(ArtifactError, match="build_engine.sh"):
        load_backend(res.out_dir)


def test_allow_list_and_qdq_checks_reject_bad_graphs(synth_run: Path) -> None:
    res = export_profile(synth_run, load_profile("onnx-int8"))
    model = onnx.load(str(res.out_dir / "model.onnx"))
    with pytest.raises(ExportError, match="zero point|other than int8"):
        check_trt_friendly(model, int8=True)  # ORT's int32 bias DQ is not for TensorRT
    fp32 = onnx.load(str(export_profile(synth_run, load_profile("onnx-fp32")).out_dir / "model.onnx"))
    with pytest.raises(ExportError, match="not fed by DequantizeLinear"):
        check_trt_friendly(fp32, int8=True)
    fp32.graph.node[0].op_type = "NonZero"
    with pytest.raises(ExportError, match="allow-list"):
        check_trt_friendly(fp32, int8=False)


@pytest.mark.gpu
def test_engine_builds_and_passes_parity(synth_run: Path) -> None:
    pytest.importorskip("tensorrt")
    from phoneprice_edge.parity import check_parity

    res = export_profile(synth_run, load_profile("tensorrt-fp16"))
    assert "model.plan" in res.files
    assert check_parity(synth_run, res.out_dir, device="cuda").passed
