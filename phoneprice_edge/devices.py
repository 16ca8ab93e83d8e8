"""The device strings the runtime commands accept: cpu, cuda, cuda:N (parse, GPU index)."""

from __future__ import annotations

import re

from phoneprice_edge.errors import UsageError

__all__ = ["DEVICES", "cuda_index", "is_cuda", "parse_device"]

DEVICES = "cpu, cuda or cuda:N"
_DEVICE = re.compile(r"cpu|cuda(?::(\d+))?")


def parse_device(value: str) -> str:
    """value when it is cpu, cuda or cuda:N (N a GPU index >= 0), else a UsageError."""
    if not isinstance(value, str) or _DEVICE.fullmatch(value) is None:
        raise UsageError(f"device must be {DEVICES}, got {value!r}")
    return value


def is_cuda(device: str) -> bool:
    """Whether a parsed device is a GPU (cuda or cuda:N)."""
    return device == "cuda" or device.startswith("cuda:")


def cuda_index(device: str) -> int:
    """The GPU index of cuda (0) or cuda:N (N)."""
    m = _DEVICE.fullmatch(parse_device(device))
    if m is None or not is_cuda(device):
        raise UsageError(f"device {device!r} is not a GPU ({DEVICES})")
    return int(m.group(1) or 0)
