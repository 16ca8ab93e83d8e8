"""Library noise that export calls print, silenced at its source and only around those calls.

Each entry below is one message a library emits on every export that tells the user nothing
about their model; it is matched narrowly (exact logger or warning category + message start),
so the project's own warnings and any other library warning still show. Use the context
managers around the one library call that produces the noise:

    with quiet.onnx_export():          # torch.onnx.export(..., dynamo=True)
    with quiet.nncf_quantize():        # nncf.quantize(...)
    with quiet.torch_quantized_tensors():   # torch.quantize_per_channel / _per_tensor

Everything is restored on exit (warning filters, logger filters and levels).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class LogNoise:
    """Records of one logger whose message starts with `message` are dropped."""

    logger: str
    message: str
    why: str


@dataclass(frozen=True)
class WarningNoise:
    """Python warnings of `category` whose text starts with `message` (a regex) are ignored."""

    category: type[Warning]
    message: str
    why: str


# torch.onnx dynamo export (torch 2.13), once per export per op:
TORCHVISION_NOT_INSTALLED = LogNoise(
    "torch.onnx._internal.exporter._registration", "torchvision is not installed",
    "the ONNX exporter's op registry looks up torchvision's detection ops (nms, roi_align, "
    "roi_pool, deform_conv2d) and warns 4x per export that it cannot; a tabular MLP uses none")
LEAFSPEC_DEPRECATED = WarningNoise(
    FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    "torch.export deep-copies its pytree specs, constructing torch.utils._pytree.LeafSpec, "
    "which torch itself deprecated (typing_extensions.deprecated); attributed to copyreg, not to "
    "any project code, so it is matched by message only")
# torch eager quantization (phoneprice_edge.export.quantize.StaticInt8Linear):
QUANTIZED_TENSOR_DEPRECATED = WarningNoise(
    UserWarning, r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized "
                 r"tensor creation functions .* are deprecated",
    "torch 2.13 deprecates quantized tensor creation; the torchscript int8 path needs it for "
    "quantized::linear_prepack until it moves off torch.ao (tracked separately)")
# NNCF post-training quantization (OpenVINO int8): INFO lines on stdout and rich progress bars.
NNCF_LOGGER = "nncf"

SILENCED: tuple[LogNoise | WarningNoise, ...] = (
    TORCHVISION_NOT_INSTALLED, LEAFSPEC_DEPRECATED, QUANTIZED_TENSOR_DEPRECATED)


class _DropPrefix(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@contextlib.contextmanager
def silenced(*noise: LogNoise | WarningNoise) -> Iterator[None]:
    """Drop exactly these messages inside the block; everything else passes."""
    filters: list[tuple[logging.Logger, logging.Filter]] = []
    with warnings.catch_warnings():
        for n in noise:
            if isinstance(n, WarningNoise):
                warnings.filterwarnings("ignore", message=n.message, category=n.category)
            else:
                lg, f = logging.getLogger(n.logger), _DropPrefix(n.message)
                lg.addFilter(f)
                filters.append((lg, f))
        try:
            yield
        finally:
            for lg, f in filters:
                lg.removeFilter(f)


def onnx_export() -> contextlib.AbstractContextManager[None]:
    """Around torch.onnx.export(dynamo=True) and torch.export."""
    return silenced(TORCHVISION_NOT_INSTALLED, LEAFSPEC_DEPRECATED)


def torch_quantized_tensors() -> contextlib.AbstractContextManager[None]:
    """Around torch.quantize_per_channel / torch.quantize_per_tensor."""
    return silenced(QUANTIZED_TENSOR_DEPRECATED)


@contextlib.contextmanager
def nncf_quantize() -> Iterator[None]:
    """Around nncf.quantize: its logger (own stdout handler, INFO by default) at WARNING, so its
    warnings and errors still show; its rich progress bars (written to sys.stdout) discarded."""
    import nncf  # noqa: F401  (first, so that the "nncf" logger is NNCF's own class)

    lg = logging.getLogger(NNCF_LOGGER)
    saved = [(lg, lg.level)] + [(h, h.level) for h in lg.handlers]
    lg.setLevel(max(lg.level, logging.WARNING))
    for h in lg.handlers:
        h.setLevel(max(h.level, logging.WARNING))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for obj, level in saved:
            obj.setLevel(level)
