"""Exports per target: artifact + manifest, atomic replacement, tamper refusal, TensorRT pure parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.cli.export import cmd as export_cmd
from phoneprice_edge.errors import ArtifactError, BackendUnavailable, ExportError
from phoneprice_edge.export import runner
from phoneprice_edge.export.manifest import read_manifest
from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.export.runner import export_profile, load_split
from phoneprice_edge.parity import check_parity

MANIFEST_KEYS = {"format", "target", "precision", "files", "inputs", "outputs", "features",
                 "classes", "opset", "source_checkpoint_sha256", "versions", "host"}


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["onnx-fp32", "torchscript-fp32"])
def test_variants_export_and_match_reference(variant_run: Path, profile: str) -> None:
    res = export_profile(variant_run, load_profile(profile))
    m = read_manifest(res.out_dir).to_dict()
    assert MANIFEST_KEYS <= set(m) and m["inputs"][0]["shape"] == [None, 20]
    rep = check_parity(variant_run, res.out_dir)
    assert rep.passed, rep.failures


def test_onnx_graph_has_preprocessing_and_dynamic_batch(synth_run: Path) -> None:
    import onnx

    res = export_profile(synth_run, load_profile("onnx-fp32"))
    model = onnx.load(str(res.out_dir / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops[:2] == ["Sub", "Div"]  # standardisation is inside the artifact
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    opset = {o.domain: o.version for o in model.opset_import}[""]
    assert opset == 20 and read_manifest(res.out_dir).fact("opset") == opset  # the profile's opset


def test_fp16_onnx_keeps_float32_io(synth_run: Path) -> None:
    import onnx

    res = export_profile(synth_run, load_profile("onnx-fp16"))
    model = onnx.load(str(res.out_dir / "model.onnx"))
    f32 = onnx.TensorProto.FLOAT
    assert model.graph.input[0].type.tensor_type.elem_type == f32
    assert model.graph.output[0].type.tensor_type.elem_type == f32
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)


@pytest.mark.slow
def test_fp16_onnx_runs_logits_tail_and_standardisation_in_fp32(variant_run: Path) -> None:
    import onnx

    res = export_profile(variant_run, load_profile("onnx-fp16"))
    model = onnx.load(str(res.out_dir / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    fp32_nodes = read_manifest(res.out_dir).fact("fp16")["fp32_nodes"]
    nodes = {n.name: n for n in model.graph.node}
    producer = {o: n for n in model.graph.node for o in n.output}
    # the output comes from an fp32 node (or an Identity of one), never through an fp16 Cast
    out = producer[model.graph.output[0].name]
    out = producer[out.input[0]] if out.op_type == "Identity" else out
    assert out.name in fp32_nodes and out.op_type != "Cast"
    assert [nodes[n].op_type for n in fp32_nodes[:2]] == ["Sub", "Div"]
    types = {t.name: t.data_type for t in model.graph.initializer}
    for name in fp32_nodes:  # their constants are float32
        assert all(types.get(i, onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT
                   for i in nodes[name].input)
    hidden = [n for n in model.graph.node if n.op_type == "Gemm" and n.name not in fp32_nodes]
    assert hidden and all(types[i] == onnx.TensorProto.FLOAT16 for n in hidden
                          for i in n.input[1:])
    assert check_parity(variant_run, res.out_dir).passed


@pytest.mark.slow
def test_fp16_openvino_keeps_tail_constants_f32(variant_run: Path) -> None:
    res = export_profile(variant_run, load_profile("openvino-fp16"))
    fp16 = read_manifest(res.out_dir).fact("fp16")
    assert fp16["fp16_constants"] and fp16["fp32_constants"]
    assert "head.weight" in fp16["fp32_constants"] and "head.weight" not in fp16["fp16_constants"]
    assert check_parity(variant_run, res.out_dir).passed


@pytest.mark.parametrize("profile", ["onnx-fp32", "torchscript-fp32", "openvino-fp32"])
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_artifact_is_refused(synth_run: Path, tmp_path: Path, profile: str,
                                     damage: str) -> None:
    import shutil

    res = export_profile(synth_run, load_profile(profile))
    for name in res.files:
        copy = tmp_path / f"{profile}-{damage}-{name}"
        shutil.copytree(res.out_dir, copy)
        data = bytearray((copy / name).read_bytes())
        if damage == "flip":
            data[len(data) // 2] ^= 0x01
        else:
            data = data[: len(data) // 2]
        (copy / name).write_bytes(bytes(data))
        with pytest.raises(ArtifactError, match="sha256 mismatch"):
            load_backend(copy)


def test_failed_export_leaves_previous_artifact(synth_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prof = load_profile("onnx-fp32")
    good = export_profile(synth_run, prof)
    before = (good.out_dir / "manifest.json").read_bytes()

    def broken(*_a: object, **_k: object) -> None:
        raise ExportError("reload check failed (simulated interruption)")

    monkeypatch.setattr(runner, "reload_check", broken)
    with pytest.raises(ExportError):
        export_profile(synth_run, prof)
    assert (good.out_dir / "manifest.json").read_bytes() == before
    leftovers = [p.name for p in good.out_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_calibration_rows_never_come_from_validation(synth_run: Path) -> None:
    from phoneprice_edge.export.quantize import calibration_rows

    tx, _ = load_split(synth_run / "data" / "train.npz")
    vx, _ = load_split(synth_run / "data" / "val.npz")
    mixed = np.concatenate([tx, vx[:50]])
    rows = calibration_rows(mixed, vx, 10_000, 0)
    val = {r.tobytes() for r in vx}
    assert len(rows) == len(tx) and not any(r.tobytes() in val for r in rows)


def test_cli_target_tensorrt_fails_clearly_here(synth_run: Path) -> None:
    from phoneprice_edge.targets import TARGETS

    if TARGETS["tensorrt"].unavailable_reason("fp16") is None:
        pytest.skip("TensorRT and a GPU are present")
    res = CliRunner().invoke(export_cmd, ["--run", str(synth_run), "--target", "tensorrt"],
                             standalone_mode=False)
    assert isinstance(res.exception, BackendUnavailable)
    assert "tensorrt" in str(res.exception) and "--defer-build" in str(res.exception)


def test_cli_usage_errors(synth_run: Path) -> None:
    res = CliRunner().invoke(export_cmd, ["--run", str(synth_run)], standalone_mode=False)
    assert res.exception is not None and res.exception.exit_code == 2
    res = CliRunner().invoke(export_cmd, ["--run", str(synth_run), "--target", "torchscript",
                                          "--precision", "fp16"], standalone_mode=False)
    assert res.exception is not None and res.exception.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["onnx-int8", "openvino-int8", "torchscript-int8"])
def test_int8_runs_every_layer_int8_on_variants(variant_run: Path, profile: str) -> None:
    res = export_profile(variant_run, load_profile(profile))
    m = read_manifest(res.out_dir).to_dict()
    rep = check_parity(variant_run, res.out_dir)
    assert rep.passed, rep.failures
    assert not m["quantization"].get("kept_float")  # every dense layer int8 ...
    share = m["int8_share"]  # ... read back from the artifact file itself
    assert share["int8_mac_share"] == 1.0 and share["int8_layers"] == share["layers_total"] >= 3
    assert all(layer["passes"] == 2 for layer in share["layers"])  # the residual pass
    assert m["int8_prep"]["activation_split"] and m["int8_prep"]["rows"] > 64
    assert rep.n_rows_all > rep.n_rows and rep.int8_share == share


def test_torchscript_int8_is_static_and_batch_invariant(synth_run: Path) -> None:
    res = export_profile(synth_run, load_profile("torchscript-int8"))
    q = read_manifest(res.out_dir).fact("quantization")
    assert q["quantized"] and "head" in q["quantized"] and q["calibration_rows"] > 64
    module = torch.jit.load(str(res.out_dir / "model.pt"))
    x = torch.as_tensor(load_split(runner.run_paths(synth_run)["val"])[0][:64])
    with torch.no_grad():
        whole = module(x)
        rows = torch.cat([module(x[i:i + 1]) for i in range(len(x))])
    assert torch.equal(whole, rows)  # fixed activation scales: no row depends on its batch
