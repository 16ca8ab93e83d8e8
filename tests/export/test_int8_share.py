"""int8 share of the weight MACs: a hand-made ONNX QDQ graph, .pem programs, and real exports of every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.export import int8_share as share_mod
from phoneprice_edge.export.int8_share import (
    int8_share,
    int8_share_or_none,
    onnx_layers,
    pem_layers,
    share_summary,
)


def _manifest(folder: Path, target: str, precision: str, files: list[str]) -> None:
    """A minimal manifest.json (what read_manifest needs) beside hand-made artifact files."""
    from artifact_factory import manifest_body

    m = manifest_body(target=target, precision=precision, files={f: "0" * 64 for f in files})
    (folder / "manifest.json").write_text(json.dumps(m))


def _qdq_model() -> Any:
    """Six weight layers with known answers (int8 MACs 32 + 30 + 35 = 97 of 146; the first one
    read by two passes), plus a MatMul of two activations (not a weight layer)."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)

    def init(name: str, arr: np.ndarray) -> Any:
        return nh.from_array(arr, name)

    inits = [
        init("s", np.array(0.02, np.float32)), init("zp_u8", np.array(0, np.uint8)),
        init("zp_i16", np.array(0, np.int16)),
        init("w1_q", rng.integers(-127, 127, (4, 8)).astype(np.int8)),  # Gemm transB: [out, in]
        init("w1_s", np.full(4, 0.01, np.float32)), init("w1_zp", np.zeros(4, np.int8)),
        init("w2", rng.standard_normal((4, 6)).astype(np.float32)),  # MatMul: [in, out]
        init("w3_q", rng.integers(-127, 127, (5, 6)).astype(np.int8)),  # transposed to [6, 5]
        init("w_s", np.array(0.01, np.float32)), init("w_zp", np.array(0, np.int8)),
        init("w4", rng.standard_normal((5, 2)).astype(np.float32)),
        init("w5", rng.integers(-127, 127, (5, 7)).astype(np.int8)),
        init("w6_q", rng.integers(-127, 127, (3, 5)).astype(np.int8)),
    ]
    n = h.make_node
    nodes = [
        n("QuantizeLinear", ["x", "s", "zp_u8"], ["xq"], name="qx"),
        n("DequantizeLinear", ["xq", "s", "zp_u8"], ["xdq"], name="dqx"),
        n("DequantizeLinear", ["w1_q", "w1_s", "w1_zp"], ["w1"], name="dqw1", axis=0),
        n("Gemm", ["xdq", "w1"], ["h1"], name="gemm_int8", transB=1),  # 8*4: int8
        # a residual pass reading the same int8 weight: one layer, two passes
        n("QuantizeLinear", ["x", "s", "zp_u8"], ["xq2"], name="qx2"),
        n("DequantizeLinear", ["xq2", "s", "zp_u8"], ["xdq2"], name="dqx2"),
        n("Gemm", ["xdq2", "w1"], ["h1b"], name="gemm_int8.residual", transB=1),
        n("Add", ["h1", "h1b"], ["h1s"], name="res_add"),
        n("Relu", ["h1s"], ["h1r"], name="relu"),
        n("MatMul", ["h1r", "w2"], ["h2"], name="matmul_float"),  # 4*6: float
        n("QuantizeLinear", ["h2", "s", "zp_u8"], ["h2q"], name="qh2"),
        n("DequantizeLinear", ["h2q", "s", "zp_u8"], ["h2dq"], name="dqh2"),
        n("DequantizeLinear", ["w3_q", "w_s", "w_zp"], ["w3dq"], name="dqw3"),
        n("Transpose", ["w3dq"], ["w3"], name="tw3", perm=[1, 0]),
        n("MatMul", ["h2dq", "w3"], ["h3"], name="matmul_int8_t"),  # 6*5: int8
        n("QuantizeLinear", ["h3", "s", "zp_u8"], ["h3q"], name="qh3"),
        n("DequantizeLinear", ["h3q", "s", "zp_u8"], ["h3dq"], name="dqh3"),
        n("MatMul", ["h3dq", "w4"], ["y_float_w"], name="matmul_float_weight"),  # 5*2: float
        n("MatMulInteger", ["h3q", "w5"], ["y_int"], name="matmul_integer"),  # 5*7: int8
        n("QuantizeLinear", ["h3", "s", "zp_i16"], ["h3q16"], name="qh3_16"),
        n("DequantizeLinear", ["h3q16", "s", "zp_i16"], ["h3dq16"], name="dqh3_16"),
        n("DequantizeLinear", ["w6_q", "w_s", "w_zp"], ["w6"], name="dqw6"),
        n("Gemm", ["h3dq16", "w6"], ["y16"], name="gemm_int16_act", transB=1),  # 5*3: not 8-bit
        n("MatMul", ["x", "y_in"], ["xy"], name="matmul_two_activations"),  # not a weight layer
    ]
    graph = h.make_graph(
        nodes, "qdq", [h.make_tensor_value_info("x", T.FLOAT, ["N", 8]),
                       h.make_tensor_value_info("y_in", T.FLOAT, [8, 3])],
        [h.make_tensor_value_info(o, t, ["N", k]) for o, t, k in
         (("y_float_w", T.FLOAT, 2), ("y_int", T.INT32, 7), ("y16", T.FLOAT, 3), ("xy", T.FLOAT, 3))],
        initializer=inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    return model


def test_hand_made_qdq_graph(tmp_path: Path) -> None:
    import onnx

    onnx.save(_qdq_model(), str(tmp_path / "model.onnx"))
    got = {la["name"]: (la["in"], la["out"], la["int8"], la["passes"])
           for la in onnx_layers(tmp_path / "model.onnx")}
    assert got == {"gemm_int8": (8, 4, True, 2), "matmul_float": (4, 6, False, 1),
                   "matmul_int8_t": (6, 5, True, 1), "matmul_float_weight": (5, 2, False, 1),
                   "matmul_integer": (5, 7, True, 1), "gemm_int16_act": (5, 3, False, 1)}
    _manifest(tmp_path, "onnx", "int8", ["model.onnx"])
    s = int8_share(tmp_path)
    assert (s["int8_layers"], s["layers_total"], s["int8_macs"], s["macs_total"]) == (3, 6, 97, 146)
    assert s["int8_mac_share"] == pytest.approx(97 / 146) and s["file"] == "model.onnx"
    assert int8_share_or_none(tmp_path) == s
    assert share_summary(s) == "int8: 3/6 layers, 97/146 weight MACs (66.4%)"


def _program(int8_first: bool) -> Any:
    """standardize -> dense 5->6 -> relu -> dense 6->4 (logits) + wide dense 5->4 (accumulate)."""
    from phoneprice_edge.export.cpp_pem import Op, Program

    rng = np.random.default_rng(1)

    def dense(src: int, dst: int, n_in: int, n_out: int, **kw: Any) -> Op:
        return Op("dense", src, dst, n_in, n_out, {
            "weight": rng.standard_normal((n_out, n_in)).astype(np.float32),
            "bias": np.zeros(n_out, np.float32)}, **kw)

    ops = [Op("standardize", 0, 2, 5, 5, {"mean": np.zeros(5, np.float32),
                                          "std": np.ones(5, np.float32)}),
           dense(2, 3, 5, 6, keep_fp32=not int8_first), Op("relu", 3, 3, 6, 6),
           dense(3, 1, 6, 4, keep_fp32=True), dense(2, 1, 5, 4, accumulate=True, keep_fp32=True)]
    return Program(ops, 4, [f"f{i}" for i in range(5)], ["a", "b", "c", "d"])


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_pem_program(tmp_path: Path, precision: str) -> None:
    from phoneprice_edge.export.cpp_pem import build_pem

    data = build_pem(_program(int8_first=True), precision)
    got = [(la["name"], la["macs"], la["int8"]) for la in pem_layers(data)]
    assert got == [("op1:first", 30, precision == "int8"), ("op3:last", 24, False),
                   ("op4:wide", 20, False)]
    (tmp_path / "model.pem").write_bytes(data)
    _manifest(tmp_path, "cpp", precision, ["model.pem"])
    s = int8_share_or_none(tmp_path)
    if precision == "fp32":
        assert s is None and int8_share(tmp_path)["int8_mac_share"] == 0.0
    else:
        assert s is not None and s["int8_macs"] == 30 and s["macs_total"] == 74
    with pytest.raises(ArtifactError, match="truncated"):
        pem_layers(data[:-1])
    with pytest.raises(ArtifactError, match="CRC"):
        pem_layers(data[:-1] + bytes([data[-1] ^ 1]))


def test_or_none_never_raises(tmp_path: Path) -> None:
    assert "error" in int8_share_or_none(tmp_path / "missing")  # type: ignore[operator]
    (tmp_path / "model.pem").write_bytes(b"PEMODEL\0" + bytes(10))
    _manifest(tmp_path, "cpp", "int8", ["model.pem"])
    err = int8_share_or_none(tmp_path)
    assert err is not None and "not a .pem file" in err["error"]
    assert share_summary(err).startswith("int8: not analysed (")
    (tmp_path / "model.pem").unlink()
    assert "missing" in int8_share_or_none(tmp_path)["error"]  # type: ignore[index]
    _manifest(tmp_path, "onnx", "int8", ["model.onnx"])
    (tmp_path / "model.onnx").write_bytes(b"not a protobuf at all")
    assert "error" in int8_share_or_none(tmp_path)  # type: ignore[operator]
    assert share_summary(None) == "int8: none (float artifact)"


# --- real exports of a tiny run ---------------------------------------------------------------

# hidden_dims (8, 4) + wide path, 20 features, 4 classes: small enough that the int8 exports'
# weight preparation on the training rows takes about a second.
SHAPES = [(20, 8), (8, 4), (4, 4), (20, 4)]
TOTAL = sum(i * o for i, o in SHAPES)  # 288


def _options(target: str) -> set[str]:
    from phoneprice_edge.targets import TARGETS

    return set(TARGETS[target].settable().get(target, {}))


_CALIB = {"calibration": {"samples": 512, "method": "minmax"}}
# name -> (profile table, int8 layer shapes (in, out), passes of each int8 layer); explicit
# options, so the built-in profiles' keep-float policies may change without touching these.
PROFILES: dict[str, tuple[dict[str, Any], set[tuple[int, int]], int]] = {
    "share-torchscript-int8": ({"target": "torchscript", "precision": "int8",
                                "torchscript": {"int8_keep_fp32": ["first"]}},
                               {(8, 4), (4, 4), (20, 4)}, 1),
    "share-cpp-int8": ({"target": "cpp", "precision": "int8",
                        "cpp": {"int8_keep_fp32": ["first", "last"]}}, {(8, 4), (20, 4)}, 1),
    "share-onnx-int8": ({"target": "onnx", "precision": "int8", **_CALIB,
                         "onnx": {"keep_input_layers_float": True, "float_outputs": True}},
                        {(8, 4), (4, 4)}, 1),
    "share-onnx-int8-all": ({"target": "onnx", "precision": "int8", **_CALIB,
                             "onnx": {"keep_input_layers_float": False}}, set(SHAPES), 1),
    "share-openvino-int8": ({"target": "openvino", "precision": "int8", **_CALIB,
                             "openvino": {"keep_first_float": True,
                                          **({"quantizer": "nncf"}
                                             if "quantizer" in _options("openvino") else {})}},
                            {(8, 4), (4, 4), (20, 4)}, 1),
    "share-onnx-fp32": ({"target": "onnx", "precision": "fp32"}, set(), 1),
    "share-onnx-fp16": ({"target": "onnx", "precision": "fp16"}, set(), 1),
    "share-torchscript-fp32": ({"target": "torchscript", "precision": "fp32"}, set(), 1),
    "share-openvino-fp32": ({"target": "openvino", "precision": "fp32"}, set(), 1),
    "share-cpp-fp32": ({"target": "cpp", "precision": "fp32"}, set(), 1),
}
# The activation split (a residual int8 pass over the same weights), where this tree has it.
if "activation_split" in _options("onnx"):
    PROFILES["share-onnx-int8-split"] = ({"target": "onnx", "precision": "int8", **_CALIB,
                                          "onnx": {"keep_input_layers_float": False,
                                                   "activation_split": True}}, set(SHAPES), 2)
if {"activation_split", "quantizer"} <= _options("openvino"):
    PROFILES["share-openvino-int8-split"] = ({"target": "openvino", "precision": "int8", **_CALIB,
                                              "openvino": {"quantizer": "onnx-qdq",
                                                           "activation_split": True}},
                                             set(SHAPES), 2)
if "activation_split" in _options("torchscript"):
    PROFILES["share-torchscript-int8-split"] = ({"target": "torchscript", "precision": "int8",
                                                 "torchscript": {"int8_keep_fp32": [],
                                                                 "activation_split": True}},
                                                set(SHAPES), 2)


def _tiny_run(run_dir: Path) -> Path:
    """A run folder as the trainer writes it (checkpoint, schema, splits), 200 synthetic rows."""
    import torch
    from run_factory import _synth_xy

    from phoneprice_edge.checkpoint import save_checkpoint
    from phoneprice_edge.model import ModelConfig, build_model
    from phoneprice_edge.schema import PHONE_SCHEMA

    x, y = _synth_xy(n=200, seed=3)
    tr, va = np.arange(40, 200), np.arange(40)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    cfg = ModelConfig(in_features=20, num_classes=4, hidden_dims=(8, 4), activation="relu",
                      norm="none", dropout_p=0.0, wide=True)
    torch.manual_seed(3)
    model = build_model(cfg, mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    save_checkpoint(run_dir / "checkpoints" / "best_model.pt", model, cfg,
                    PHONE_SCHEMA.with_scaler(mean, std))
    PHONE_SCHEMA.with_scaler(mean, std).save(run_dir / "schema.json")
    np.savez(run_dir / "data" / "train.npz", X=x[tr], y=y[tr])
    np.savez(run_dir / "data" / "val.npz", X=x[va], y=y[va])
    return run_dir


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from phoneprice_edge.backends import cpp as cpp_backend
    from phoneprice_edge.export import runner
    from phoneprice_edge.export.profile import parse_profile

    run = _tiny_run(tmp_path_factory.mktemp("share_run"))
    mp = pytest.MonkeyPatch()
    if not cpp_backend.library_path().is_file():  # the .pem is analysed without the runtime
        real = runner.reload_check
        mp.setattr(runner, "reload_check", lambda d, *a: None if d.name.startswith(".share-cpp")
                   else real(d, *a))
    try:
        return {name: runner.export_profile(run, parse_profile(table, name=name)).out_dir
                for name, (table, _, _) in PROFILES.items()}
    finally:
        mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_real_exports(exports: dict[str, Path], name: str) -> None:
    _, want, passes = PROFILES[name]
    s = int8_share(exports[name])
    assert sorted((la["in"], la["out"]) for la in s["layers"]) == sorted(SHAPES)
    assert s["macs_total"] == TOTAL and s["layers_total"] == len(SHAPES)
    assert {(la["in"], la["out"]) for la in s["layers"] if la["int8"]} == want
    assert all(la["passes"] == passes for la in s["layers"] if la["int8"])
    assert s["int8_macs"] == sum(i * o for i, o in want) and s["int8_layers"] == len(want)
    assert s["int8_mac_share"] == pytest.approx(s["int8_macs"] / TOTAL)
    if "int8" in name:
        assert int8_share_or_none(exports[name]) == s
    else:
        assert int8_share_or_none(exports[name]) is None and s["int8_mac_share"] == 0.0


@pytest.mark.slow
def test_real_exports_agree_with_manifests(exports: dict[str, Path]) -> None:
    """The names found int8 match what each exporter recorded it quantized."""
    from phoneprice_edge.export.manifest import read_manifest

    def int8_names(name: str) -> set[str]:
        return {la["name"] for la in int8_share(exports[name])["layers"] if la["int8"]}

    ts = read_manifest(exports["share-torchscript-int8"]).fact("quantization")
    assert int8_names("share-torchscript-int8") == set(ts["quantized"])
    cpp = read_manifest(exports["share-cpp-int8"]).fact("layer_precisions")
    assert int8_names("share-cpp-int8") == {f"op{r['op']}:{r['layer']}" for r in cpp
                                            if r["weights"] == "int8"}
    onnx_q = read_manifest(exports["share-onnx-int8"]).fact("quantization")
    layers = int8_share(exports["share-onnx-int8"])["layers"]
    assert int8_names("share-onnx-int8") == {la["name"] for la in layers} - set(onnx_q["kept_float"])


def test_layer_dicts_have_the_documented_keys() -> None:
    s = share_mod.share_from_layers([share_mod._layer("a", 3, 2, True),
                                     share_mod._layer("b", 2, 5, False)])
    assert s["layers"][0] == {"name": "a", "in": 3, "out": 2, "macs": 6, "int8": True, "passes": 1}
    assert (s["int8_layers"], s["layers_total"], s["int8_macs"], s["macs_total"]) == (1, 2, 6, 16)
    assert share_summary(s) == "int8: 1/2 layers, 6/16 weight MACs (37.5%)"
    assert share_mod.share_from_layers([])["int8_mac_share"] == 0.0
