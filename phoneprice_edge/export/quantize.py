"""Reduced precision: calibration rows, ONNX fp16 conversion, ONNX static QDQ int8, torch dynamic int8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.errors import DataError, ExportError

# Only the matrix products are quantized: the Sub/Div standardisation reads raw features whose
# ranges (0/1 flags next to RAM in MB) would not survive one 8-bit scale.
QUANTIZED_OPS = ["Gemm", "MatMul"]


def calibration_rows(train_x: np.ndarray, val_x: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Up to `samples` training rows that do not occur in the validation split (seeded sample)."""
    val_keys = {row.tobytes() for row in np.ascontiguousarray(val_x, dtype=np.float32)}
    train_x = np.ascontiguousarray(train_x, dtype=np.float32)
    keep = np.array([row.tobytes() not in val_keys for row in train_x], dtype=bool)
    pool = train_x[keep]
    if len(pool) == 0:
        raise DataError("no training rows outside the validation split to calibrate int8 with")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pool), size=min(samples, len(pool)), replace=False)
    return pool[np.sort(idx)]


class ArrayCalibrationReader:
    """onnxruntime.quantization CalibrationDataReader over float32 rows, fed in small batches."""

    def __init__(self, input_name: str, x: np.ndarray, batch: int = 64) -> None:
        self._batches = [x[i:i + batch] for i in range(0, len(x), batch)]
        self._name = input_name
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= len(self._batches):
            return None
        self._pos += 1
        return {self._name: self._batches[self._pos - 1]}

    def rewind(self) -> None:
        self._pos = 0


def onnx_static_qdq(fp32_path: Path, out_path: Path, calib_x: np.ndarray, method: str,
                    per_channel: bool, quantize_bias: bool = True,
                    activation_symmetric: bool = True) -> dict[str, Any]:
    """ORT quantize_static in QDQ format: symmetric int8 weights; activations symmetric int8, or
    asymmetric uint8 (activation_symmetric=False: ReLU outputs use all 256 levels; measured on
    the real data: 99.25% top-1 agreement instead of 98.5%).

    quantize_bias=False keeps Gemm biases float (TensorRT's explicit quantization takes int8
    Q/DQ only, not ORT's int32 bias DequantizeLinear). Returns the settings used.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    pre = out_path.with_name(out_path.stem + ".pre.tmp.onnx")
    try:
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        name = onnx.load(str(pre)).graph.input[0].name
        quantize_static(str(pre), str(out_path), ArrayCalibrationReader(name, calib_x),
                        quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8 if activation_symmetric else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=per_channel,
                        op_types_to_quantize=QUANTIZED_OPS, calibrate_method=methods[method],
                        extra_options={"ActivationSymmetric": activation_symmetric, "WeightSymmetric": True,
                                       "QuantizeBias": quantize_bias})
    except Exception as exc:
        raise ExportError(f"int8 static quantization failed: {str(exc).splitlines()[0][:300]}") \
            from exc
    finally:
        pre.unlink(missing_ok=True)
    return {"format": "QDQ",
            "activations": "int8 symmetric" if activation_symmetric else "uint8 asymmetric", "weights": "int8 symmetric",
            "per_channel": per_channel, "calibration_method": method,
            "calibration_rows": int(len(calib_x)), "quantized_ops": QUANTIZED_OPS,
            "bias": "int32" if quantize_bias else "float"}


def onnx_to_fp16(fp32_path: Path, out_path: Path) -> None:
    """fp16 weights and compute, float32 graph inputs/outputs (Cast nodes at the edges)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    except Exception as exc:
        raise ExportError(f"fp16 conversion failed: {str(exc).splitlines()[0][:300]}") from exc
    _toposort(model.graph)  # the converter appends its input Casts after their consumers
    onnx.save(model, str(out_path))


def _toposort(graph: Any) -> None:
    """Reorder graph.node so that every node comes after the producers of its inputs."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        progress = [n for n in pending if all(i in ready for i in n.input)]
        if not progress:
            raise ExportError("fp16 graph has a cycle or an input nobody produces")
        for n in progress:
            ordered.append(n)
            ready.update(n.output)
        pending = [n for n in pending if n not in progress]
    del graph.node[:]
    graph.node.extend(ordered)


def torch_dynamic_int8(model: torch.nn.Module, keep_fp32: list[str]) -> torch.nn.Module:
    """torch.ao dynamic int8 of the Linear layers, except those named in keep_fp32.

    keep_fp32 takes "first" (the Linear reading the standardised input), "last" (the head) and
    "wide" (the linear skip path).
    """
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    first = next((n for n in names if n.startswith("body.")), "head")
    skip = {"first": first, "last": "head", "wide": "wide"}
    bad = sorted(set(keep_fp32) - set(skip))
    if bad:
        raise ExportError(f"int8_keep_fp32: unknown layer(s) {bad} (use first, last, wide)")
    keep = {skip[k] for k in keep_fp32}
    spec = {n: default_dynamic_qconfig for n in names if n not in keep}
    return quantize_dynamic(model.eval(), qconfig_spec=spec, dtype=torch.qint8)
