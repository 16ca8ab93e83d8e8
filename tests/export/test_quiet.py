"""export.quiet: the library noise of an export is gone, the project's own warnings are not."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from phoneprice_edge.export import quiet

NOISE = ("torchvision is not installed", "LeafSpec", "INFO:nncf", "Statistics collection",
         "quantize_per_channel")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _mlp():
    import torch

    class MLP(torch.nn.Module):  # forward(x): torch_to_onnx names the dynamic axis of "x"
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.ReLU(),
                                            torch.nn.Linear(8, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    torch.manual_seed(0)
    return MLP()


def test_onnx_export_prints_no_library_noise(capfd, recwarn, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    from phoneprice_edge.export.onnx import torch_to_onnx

    torch_to_onnx(_mlp(), 20, tmp_path / "m.onnx", 18)
    warnings.warn("phoneprice_edge: a project warning after the export", UserWarning, stacklevel=1)
    out, err = capfd.readouterr()
    text = out + err + "\n".join(str(w.message) for w in recwarn)
    assert (tmp_path / "m.onnx").is_file()
    for noise in NOISE:
        assert noise not in text, f"{noise!r} printed by the export:\n{text}"
    # the filters are gone after the call: the project's warning is recorded
    assert any("a project warning" in str(w.message) for w in recwarn)


def test_only_the_listed_messages_are_silenced(recwarn) -> None:
    lib = logging.getLogger(quiet.TORCHVISION_NOT_INSTALLED.logger)
    own = logging.getLogger("phoneprice_edge.export")
    h = _Collect()
    lib.addHandler(h)
    own.addHandler(h)
    try:
        with quiet.onnx_export():
            lib.warning("torchvision is not installed. Skipping %s", "torchvision::nms")
            lib.warning("some other exporter warning")
            own.warning("a project log warning")
            warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
            warnings.warn("another FutureWarning", FutureWarning, stacklevel=1)
            warnings.warn("phoneprice_edge: a project warning", UserWarning, stacklevel=1)
        lib.warning("torchvision is not installed. Skipping %s", "after")
    finally:
        lib.removeHandler(h)
        own.removeHandler(h)
    assert h.messages == ["some other exporter warning", "a project log warning",
                          "torchvision is not installed. Skipping after"]
    assert sorted(str(w.message) for w in recwarn) == ["another FutureWarning",
                                                        "phoneprice_edge: a project warning"]


def test_quantized_tensor_deprecation_is_silenced(recwarn) -> None:
    import torch

    w = torch.randn(4, 3)
    with quiet.torch_quantized_tensors():
        torch.quantize_per_channel(w, torch.ones(4, dtype=torch.double),
                                   torch.zeros(4, dtype=torch.long), 0, torch.qint8)
        warnings.warn("phoneprice_edge: still shown", UserWarning, stacklevel=1)
    assert [str(w.message) for w in recwarn] == ["phoneprice_edge: still shown"]


def test_nncf_logger_level_restored() -> None:
    pytest.importorskip("nncf")
    lg = logging.getLogger(quiet.NNCF_LOGGER)
    before = [lg.level] + [h.level for h in lg.handlers]
    with quiet.nncf_quantize():
        assert not lg.isEnabledFor(logging.INFO)
        assert lg.isEnabledFor(logging.WARNING)
    assert [lg.level] + [h.level for h in lg.handlers] == before
