"""The Backend protocol every runtime implements: load(artifact) -> run(x) -> logits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from phoneprice_edge.artifact.manifest import TensorSpec
from phoneprice_edge.backends.options import LoadOptions
from phoneprice_edge.errors import BackendClosed, InputError

if TYPE_CHECKING:
    from phoneprice_edge.artifact import Manifest

__all__ = ["Backend", "IOSpec", "LoadOptions", "TensorSpec"]


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

    Subclasses implement `_load`, `_run`, `describe` and (if they hold resources) `_close`; the
    public `load` turns keyword options into a validated `LoadOptions`, the public `run` refuses a
    closed backend and validates the input once, the public `close` releases once.
    """

    name: str = "base"
    device: str = "cpu"
    manifest: Manifest | None = None  # the verified manifest (set by backends.registry)
    _closed: bool = False

    @classmethod
    def load(cls, artifact: str | Path, device: str = "cpu",
             options: LoadOptions | None = None, **more: Any) -> Self:
        """Load the artifact (a file or an export folder) for the given device; keyword options
        are LoadOptions' fields (an unknown one is a UsageError)."""
        return cls._load(artifact, device, LoadOptions.of(options, **more))

    @classmethod
    @abstractmethod
    def _load(cls, artifact: str | Path, device: str, options: LoadOptions) -> Self:
        """Load with validated options."""

    @abstractmethod
    def describe(self) -> IOSpec:
        """Input and output names, shapes and dtypes."""

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run a validated float32 C-contiguous [N, F] array; return float32 logits [N, C]."""

    def run(self, x: np.ndarray) -> np.ndarray:
        """Validate shape and dtype, then return float32 logits [N, C] (BackendClosed after close)."""
        if self._closed:
            raise BackendClosed(f"the {self.name} backend was closed; load the artifact again "
                                "to run it")
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

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def close(self) -> None:
        """Release runtime resources (sessions, engines, contexts); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._close()

    def _close(self) -> None:  # noqa: B027 - optional hook: most runtimes need no explicit release
        """Release this runtime's resources (called once, by close)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
