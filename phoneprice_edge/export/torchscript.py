"""TorchScript export (fp32, or static int8 Linear layers): traced, saved, reloaded and compared."""

from __future__ import annotations

import copy

import torch

from phoneprice_edge.errors import ExportError
from phoneprice_edge.export.base import ExportInputs, ExportOutput

TS_FILE = "model.pt"


def export_torchscript(ctx: ExportInputs) -> ExportOutput:
    """Exporter for target 'torchscript': writes model.pt (torch.jit) in ctx.out_dir.

    torch.jit is deprecated in favour of torch.export; it stays a target because libtorch C++
    deployments load it. Its deprecation warnings are left visible.
    """
    model = copy.deepcopy(ctx.loaded.model).eval()
    quant: dict[str, object] = {}
    if ctx.profile.precision == "int8":
        model, quant = _static_int8(ctx, model)
    method = ctx.profile.option("method")
    example = torch.as_tensor(ctx.calib_x[:8]) if len(ctx.calib_x) else \
        torch.zeros(8, ctx.loaded.config.in_features)
    try:
        with torch.no_grad():
            scripted = torch.jit.trace(model, example) if method == "trace" else \
                torch.jit.script(model)
    except Exception as exc:
        raise ExportError(f"torch.jit.{method} failed: {str(exc).splitlines()[0][:300]}") from exc
    path = ctx.out_dir / TS_FILE
    scripted.save(str(path))
    _check_reload(model, path, example)
    facts: dict[str, object] = {"torchscript": {"method": method, "torch": torch.__version__}}
    if quant:
        facts["quantization"] = quant
    return ExportOutput((TS_FILE,), facts)


def _static_int8(ctx: ExportInputs, model: torch.nn.Module) -> tuple[torch.nn.Module, dict]:
    """Static int8 calibrated on every training row outside the validation split (the profile's
    64 example rows would clip the ranges: measured max abs 10 instead of 0.35)."""
    from phoneprice_edge.export.quantize import calibration_rows, torch_static_int8

    calib = calibration_rows(ctx.train_x, ctx.val_x, len(ctx.train_x), 0)
    return torch_static_int8(model, ctx.profile.option("int8_keep_fp32"), calib,
                             split=ctx.profile.option("activation_split"))


def _check_reload(model: torch.nn.Module, path: object, example: torch.Tensor) -> None:
    """Reload the saved module and check it reproduces the eager model on batch 1 and batch N."""
    loaded = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.no_grad():
        for x in (example[:1], example):
            want, got = model(x), loaded(x)
            if got.shape != want.shape or not torch.allclose(got, want, atol=1e-5, rtol=1e-4):
                raise ExportError(f"{path}: reloaded TorchScript differs from the eager model "
                                  f"(max abs {float((got - want).abs().max()):.3g})")
