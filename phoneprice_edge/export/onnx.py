"""ONNX export: the torch model (preprocessing inside) to ONNX with a dynamic batch axis; fp16/int8."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.errors import ExportError
from phoneprice_edge.export import quiet
from phoneprice_edge.export.base import ExportInputs, ExportOutput

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
ONNX_FILE = "model.onnx"


def torch_to_onnx(model: torch.nn.Module, n_features: int, path: Path, opset: int,
                  exporter: str = "dynamo") -> None:
    """Export an eval-mode model [N, F] -> [N, C] with a dynamic batch axis named 'batch'."""
    model = model.eval()
    example = (torch.zeros(2, n_features, dtype=torch.float32),)
    try:
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            # The exporter prints its own progress lines; keep them out of the CLI's output,
            # with the library warnings it repeats on every export (export/quiet.py).
            with contextlib.redirect_stdout(io.StringIO()), quiet.onnx_export():
                prog = torch.onnx.export(model, example, dynamo=True, opset_version=opset,
                                         input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                         dynamic_shapes={"x": {0: batch}}, verbose=False)
            prog.save(str(path))
        else:
            torch.onnx.export(model, example, str(path), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    except Exception as exc:  # converter errors come in many types; report the first line
        raise ExportError(f"torch.onnx.export ({exporter}, opset {opset}) failed: "
                          f"{str(exc).strip().splitlines()[0][:300]}") from exc


def check_onnx(path: Path, n_features: int, n_classes: int) -> None:
    """onnx.checker, one float32 input/output, dynamic batch verified by running batch 1 and 7."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path.name}: onnx.checker failed: {str(exc).splitlines()[0]}") from None
    ins, outs = model.graph.input, model.graph.output
    if len(ins) != 1 or len(outs) != 1:
        raise ExportError(f"{path.name}: expected 1 input and 1 output, got {len(ins)}/{len(outs)}")
    for vi in (ins[0], outs[0]):
        if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ExportError(f"{path.name}: {vi.name} is not float32")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for n in (1, 7):
        y = sess.run(None, {ins[0].name: rng.random((n, n_features), dtype=np.float32)})[0]
        if y.shape != (n, n_classes) or y.dtype != np.float32:
            raise ExportError(f"{path.name}: batch {n} gave {y.dtype} {list(y.shape)}, "
                              f"expected float32 [{n}, {n_classes}] (dynamic batch axis broken?)")


def io_spec(n_features: int, n_classes: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The manifest's inputs/outputs for every artifact: float32 [N, F] -> float32 [N, C]."""
    return ([{"name": INPUT_NAME, "shape": [None, n_features], "dtype": "float32"}],
            [{"name": OUTPUT_NAME, "shape": [None, n_classes], "dtype": "float32"}])


def write_fp32_onnx(inp: ExportInputs, path: Path) -> None:
    """The fp32 ONNX of the inputs' model, checked."""
    cfg = inp.loaded.config
    torch_to_onnx(inp.loaded.model, cfg.in_features, path, inp.profile.opset,
                  inp.profile.option("exporter"))
    check_onnx(path, cfg.in_features, cfg.num_classes)


def write_onnx_for_precision(inp: ExportInputs, path: Path,
                             quantize_bias: bool = True) -> dict[str, Any]:
    """fp32, fp16 (float32 I/O) or int8 (static QDQ) ONNX at path; returns manifest facts. The
    int8 settings are the profile's [onnx] options (fixed ones for targets reusing this writer)."""
    from phoneprice_edge.export import quantize

    cfg = inp.loaded.config
    prof = inp.profile
    facts: dict[str, Any] = {}
    if prof.precision == "fp32":
        write_fp32_onnx(inp, path)
        return facts
    fp32 = path.with_name(path.stem + ".fp32.tmp.onnx")
    try:
        write_fp32_onnx(inp, fp32)
        if prof.precision == "fp16":
            facts["fp16"] = quantize.onnx_to_fp16(fp32, path)
        else:
            calib = prof.calibration
            assert calib is not None  # guaranteed by profile validation
            facts["quantization"] = quantize.onnx_static_qdq(
                fp32, path, inp.calib_x, method=calib.method,
                per_channel=prof.option("per_channel"), quantize_bias=quantize_bias,
                activation_symmetric=prof.option("activation_symmetric"),
                keep_input_layers_float=prof.option("keep_input_layers_float"),
                float_outputs=prof.option("float_outputs"),
                split=prof.option("activation_split"), act_levels=prof.option("activation_levels"))
    finally:
        fp32.unlink(missing_ok=True)
    check_onnx(path, cfg.in_features, cfg.num_classes)
    return facts


def export_onnx(inp: ExportInputs) -> ExportOutput:
    """Exporter for target 'onnx': writes model.onnx in inp.out_dir."""
    facts = write_onnx_for_precision(inp, inp.out_dir / ONNX_FILE)
    return ExportOutput((ONNX_FILE,), facts, opset=inp.profile.opset)
