"""The Backend protocol every runtime implements: load(artifact) -> run(x) -> logits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from phoneprice_edge.artifact.manifest import TensorSpec
from phoneprice_edge.errors import InputError

if TYPE_CHECKING:
    from phoneprice_edge.artifact import Manifest

__all__ = ["Backend", "IOSpec", "TensorSpec"]


@dataclass(frozen=True)
class IOSpec:
    """Inputs and outputs of a loaded artifact."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def n_features(self) -> int:
        return int(self.inputs[0].shape[1])  # type: ignore[arg-type]

    @property
    def n_classes(self) -> int:
        return int(self.outputs[0].shape[1])  # type: ignore[arg-type]


class Backend(ABC):
    """A loaded model on one runtime and device. Use as a context manager or call close().

    Subclasses implement `load`, `_run` and `describe`; the public `run` validates the input once.
    """

    name: str = "base"
    device: str = "cpu"
    manifest: Manifest | None = None  # the verified manifest (set by backends.registry)

    @classmethod
    @abstractmethod
    def load(cls, artifact: str | Path, device: str = "cpu", **options: Any) -> Backend:
        """Load the artifact (a file or an export folder) for the given device."""

    @abstractmethod
    def describe(self) -> IOSpec:
        """Input and output names, shapes and dtypes."""

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run a validated float32 C-contiguous [N, F] array; return float32 logits [N, C]."""

    def run(self, x: np.ndarray) -> np.ndarray:
        """Validate shape and dtype, then return float32 logits [N, C]."""
        spec = self.describe()
        if not isinstance(x, np.ndarray):
            raise InputError(f"input must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise InputError(f"input dtype must be float32, got {x.dtype}")
        if x.ndim != 2 or x.shape[1] != spec.n_features:
            raise InputError(f"input shape must be [N, {spec.n_features}], got {list(x.shape)}")
        if x.shape[0] == 0:
            raise InputError("input has no rows")
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        return self._run(x)

    def close(self) -> None:  # noqa: B027 - optional hook: most runtimes need no explicit release
        """Release runtime resources (sessions, engines, contexts)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
