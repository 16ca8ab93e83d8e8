"""OpenVINO IR export from the fp32 ONNX: fp32, fp16-compressed weights, or NNCF int8."""

from __future__ import annotations

from typing import Any

from phoneprice_edge.errors import BackendUnavailable, ExportError
from phoneprice_edge.export.base import ExportContext
from phoneprice_edge.export.onnx import write_fp32_onnx

XML_FILE = "model.xml"
BIN_FILE = "model.bin"


def _import_openvino() -> Any:
    try:
        import openvino as ov
    except ImportError:
        raise BackendUnavailable("openvino is not installed: install phoneprice_edge[openvino]") \
            from None
    return ov


def export_openvino(ctx: ExportContext) -> list[str]:
    """Exporter for target 'openvino': model.xml + model.bin in ctx.out_dir.

    The inference precision the artifact is validated with (default f32: the CPU plugin would
    otherwise run bf16 on CPUs with avx512_bf16) is recorded and applied at load.
    """
    ov = _import_openvino()
    onnx_path = ctx.out_dir / "fp32.tmp.onnx"
    try:
        write_fp32_onnx(ctx, onnx_path)
        model = ov.convert_model(str(onnx_path))
    finally:
        onnx_path.unlink(missing_ok=True)
    prec = ctx.profile.precision
    facts: dict[str, Any] = {"opset": ctx.profile.opset}
    if prec == "int8":
        model, facts["quantization"] = _nncf_int8(ctx, model)
    ov.save_model(model, str(ctx.out_dir / XML_FILE), compress_to_fp16=(prec == "fp16"))
    facts["openvino"] = {
        "device": ctx.profile.option("device", "CPU"),
        "inference_precision": ctx.profile.option("inference_precision", "f32"),
        "weights": {"fp32": "f32", "fp16": "f16 (compressed)", "int8": "int8 (NNCF)"}[prec],
    }
    ctx.record(**facts)
    return [XML_FILE, BIN_FILE]


def _nncf_int8(ctx: ExportContext, model: Any) -> tuple[Any, dict[str, Any]]:
    """NNCF post-training quantization of the OpenVINO model on the calibration rows."""
    try:
        import nncf
    except ImportError:
        raise BackendUnavailable("nncf is not installed (needed for openvino int8): "
                                 "install phoneprice_edge[openvino]") from None
    x = ctx.calib_x
    batches = [x[i:i + 1] for i in range(len(x))]
    preset_name = ctx.profile.option("preset", "performance")
    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE,
              "mixed": nncf.QuantizationPreset.MIXED}[preset_name]
    # The node that produces the logits (the wide path's Add) stays float: NNCF would otherwise
    # quantize the logits themselves to 8 bits.
    last = model.outputs[0].get_node().input_value(0).get_node().get_friendly_name()
    # True min/max over all rows: NNCF's default estimator averages per-sample extremes, which
    # for one-row samples clips the activation ranges (measured: 31 max abs error vs 0.9).
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    adv = AdvancedQuantizationParameters(
        activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX)
    try:
        qmodel = nncf.quantize(model, nncf.Dataset(batches), preset=preset,
                               subset_size=len(batches), advanced_parameters=adv,
                               ignored_scope=nncf.IgnoredScope(names=[last], validate=False))
    except Exception as exc:
        raise ExportError(f"NNCF quantization failed: {str(exc).splitlines()[0][:300]}") from exc
    return qmodel, {"format": "NNCF post-training (FakeQuantize)", "preset": preset_name,
                    "calibration_method": "minmax", "calibration_rows": int(len(x)),
                    "kept_float": [last]}
