"""OpenVINO IR export from the fp32 ONNX: fp32, fp16-compressed weights, or int8 (a QDQ ONNX, or NNCF)."""

from __future__ import annotations

from typing import Any

from phoneprice_edge.backends.common import vendor
from phoneprice_edge.errors import BackendUnavailable, ExportError
from phoneprice_edge.export import quiet
from phoneprice_edge.export.base import ExportInputs, ExportOutput
from phoneprice_edge.export.onnx import write_fp32_onnx

XML_FILE = "model.xml"
BIN_FILE = "model.bin"


def export_openvino(ctx: ExportInputs) -> ExportOutput:
    """Exporter for target 'openvino': model.xml + model.bin in ctx.out_dir.

    The inference precision the artifact is validated with (default f32: the CPU plugin would
    otherwise run bf16 on CPUs with avx512_bf16) is recorded and applied at load.
    """
    from phoneprice_edge.numerics import openvino_uncapped

    with openvino_uncapped():  # its own oneDNN must not run capped at SSE4.1 (NNCF runs it)
        return _export(ctx)


def _export(ctx: ExportInputs) -> ExportOutput:
    ov = vendor("openvino", "openvino")
    prec = ctx.profile.precision
    facts: dict[str, Any] = {}
    qdq = prec == "int8" and ctx.profile.option("quantizer") == "onnx-qdq"
    onnx_path = ctx.out_dir / "fp32.tmp.onnx"
    qdq_path = ctx.out_dir / "int8.tmp.onnx"
    try:
        write_fp32_onnx(ctx, onnx_path)
        if qdq:
            facts["quantization"] = _qdq_int8(ctx, onnx_path, qdq_path)
        model = ov.convert_model(str(qdq_path if qdq else onnx_path))
    finally:
        onnx_path.unlink(missing_ok=True)
        qdq_path.unlink(missing_ok=True)
    if prec == "int8" and not qdq:
        model, facts["quantization"] = _nncf_int8(ctx, model)
    if prec == "fp16":
        facts["fp16"] = _fp16_weights(ov, model)
    ov.save_model(model, str(ctx.out_dir / XML_FILE), compress_to_fp16=False)
    facts["openvino"] = {
        "device": ctx.profile.option("device"),
        "inference_precision": ctx.profile.option("inference_precision"),
        "weights": {"fp32": "f32", "fp16": "f16 except fp16.fp32_constants",
                    "int8": "int8 (ONNX QDQ -> FakeQuantize)" if qdq else "int8 (NNCF)"}[prec],
    }
    return ExportOutput((XML_FILE, BIN_FILE), facts, opset=ctx.profile.opset)


_ELEMENTWISE = {"Multiply", "Add", "Subtract", "Divide"}


def _fp32_constants(model: Any) -> list[Any]:
    """Constants kept f32: those of the standardisation (elementwise ops on the Parameter before
    the first layer) and of the linear tail producing the logits (head/wide MatMul, bias Adds)."""
    def consts(node: Any) -> list[Any]:
        return [i.get_source_output().get_node() for i in node.inputs()
                if i.get_source_output().get_node().get_type_name() == "Constant"]

    keep: list[Any] = []
    frontier = [model.get_parameters()[0]]
    while frontier:
        nxt = [t.get_node() for n in frontier for t in n.output(0).get_target_inputs()
               if t.get_node().get_type_name() in _ELEMENTWISE
               and len(consts(t.get_node())) == t.get_node().get_input_size() - 1]
        keep += [c for n in nxt for c in consts(n)]
        frontier = nxt
    todo = [model.outputs[0].get_node().input_value(0).get_node()]
    while todo:
        node = todo.pop()
        if node.get_type_name() not in ("Add", "MatMul"):
            continue
        keep += consts(node)
        todo += [i.get_source_output().get_node() for i in node.inputs()]
    return keep


def _fp16_weights(ov: Any, model: Any) -> dict[str, Any]:
    """f16 weights for the hidden layers (f16 Constant + Convert, decompressed at load; compute
    runs at the pinned inference precision); the standardisation and logits tail constants stay
    f32 (measured on the real data: 0.0157 max abs with every constant in f16, 0.0123 so)."""
    import numpy as np
    import openvino.opset13 as ops

    keep = {c.get_friendly_name() for c in _fp32_constants(model)}
    compressed = []
    for node in model.get_ordered_ops():
        if (node.get_type_name() != "Constant" or node.get_friendly_name() in keep
                or node.get_output_element_type(0) != ov.Type.f32):
            continue
        name = node.get_friendly_name()
        c16 = ops.constant(node.get_data().astype(np.float16))
        c16.set_friendly_name(name + "/fp16")
        conv = ops.convert(c16, ov.Type.f32)
        conv.set_friendly_name(name)
        node.output(0).replace(conv.output(0))
        compressed.append(name)
    return {"fp16_constants": compressed, "fp32_constants": sorted(keep)}


def _first_layer(model: Any) -> list[str]:
    """The MatMul of the body's first Linear (weight Constant 'body.<i>.weight', first in order):
    it reads the standardised raw features."""
    for node in model.get_ordered_ops():
        if node.get_type_name() == "MatMul" and any(
                i.get_source_output().get_node().get_friendly_name().startswith("body.")
                for i in node.inputs()):
            return [node.get_friendly_name()]
    return []


def _qdq_int8(ctx: ExportInputs, fp32_path: Any, out_path: Any) -> dict[str, Any]:
    """int8 as a QDQ ONNX (the onnx-int8 recipe: ONNX Runtime's static quantizer on the
    calibration rows, per-channel int8 weights, uint8 activations, optional residual split) that
    OpenVINO's ONNX frontend reads as FakeQuantize nodes and its CPU plugin runs in int8.
    The profile's activation_levels = 127 spreads each range over 0..127 (both passes; weights
    keep -127..127, biases stay float): on CPUs without VNNI, OpenVINO's int8 FullyConnected adds pairs of u8 x s8 products
    in int16, which saturate for full-range inputs and weights (measured with its oneDNN capped at
    SSE4.1: logits off by up to 11 on 150 of 2000 rows against ONNX Runtime). 7-bit weights
    avoided it too but cost 2 of 400 validation rows on the built-in data; 7-bit activations lose
    nothing measurable thanks to the residual pass."""
    from phoneprice_edge.export import quantize

    calib = ctx.profile.calibration
    assert calib is not None  # guaranteed by profile validation
    facts = quantize.onnx_static_qdq(
        fp32_path, out_path, ctx.calib_x, method=calib.method,
        per_channel=ctx.profile.option("per_channel"), activation_symmetric=False,
        quantize_bias=False, float_outputs=True, split=ctx.profile.option("activation_split"),
        act_levels=ctx.profile.option("activation_levels"))
    return {"quantizer": "onnx-qdq", **facts}


def _nncf_int8(ctx: ExportInputs, model: Any) -> tuple[Any, dict[str, Any]]:
    """NNCF post-training quantization of the OpenVINO model on the calibration rows.

    Kept float (ignored scope): the node that produces the logits (the wide path's Add; NNCF
    would otherwise quantize the logits themselves to 8 bits) and the first layer's MatMul, whose
    input is the standardised raw features: one per-tensor 8-bit scale for all 20 of them cost up
    to 2.25 points of top-1 agreement (measured on 8 runs, real and synthetic data: min 97.75%
    quantized, 99.25% kept float). Weights int8 symmetric per channel (NNCF's default for
    MatMul); activations per tensor with the true min/max over all calibration rows.
    """
    try:
        import nncf
    except ImportError:
        raise BackendUnavailable("nncf is not installed (needed for openvino int8): "
                                 "install phoneprice_edge[openvino]") from None
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    x = ctx.calib_x
    batches = [x[i:i + 1] for i in range(len(x))]
    preset_name = ctx.profile.option("preset")
    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE,
              "mixed": nncf.QuantizationPreset.MIXED}[preset_name]
    last = model.outputs[0].get_node().input_value(0).get_node().get_friendly_name()
    keep = [last] + (_first_layer(model) if ctx.profile.option("keep_first_float") else [])
    # True min/max over all rows: NNCF's default estimator averages per-sample extremes, which
    # for one-row samples clips the activation ranges (measured: 31 max abs error vs 0.9).
    adv = AdvancedQuantizationParameters(
        activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX)
    try:
        # NNCF's INFO lines and progress bars are left out; its warnings still show (quiet.py).
        with quiet.nncf_quantize():
            qmodel = nncf.quantize(model, nncf.Dataset(batches), preset=preset,
                                   subset_size=len(batches), advanced_parameters=adv,
                                   fast_bias_correction=True,
                                   ignored_scope=nncf.IgnoredScope(names=keep, validate=False))
    except Exception as exc:
        raise ExportError(f"NNCF quantization failed: {str(exc).splitlines()[0][:300]}") from exc
    return qmodel, {"format": "NNCF post-training (FakeQuantize)", "preset": preset_name,
                    "weights": "int8 symmetric per channel", "activations": "int8 per tensor",
                    "calibration_method": "minmax", "calibration_rows": int(len(x)),
                    "fast_bias_correction": True, "kept_float": keep,
                    "quantized_matmuls": _quantized_matmuls(qmodel)}


def _quantized_matmuls(model: Any) -> list[str]:
    """MatMuls with a FakeQuantize (or NNCF's compressed int8 weights) on an input."""
    out = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "MatMul":
            continue
        srcs = [i.get_source_output().get_node().get_friendly_name() for i in node.inputs()]
        if any("fq_" in s for s in srcs):
            out.append(node.get_friendly_name())
    return out
