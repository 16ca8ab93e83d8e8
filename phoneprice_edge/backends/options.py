"""The typed options of Backend.load (`LoadOptions`): defaults, validation, unknown key -> UsageError."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from numbers import Integral
from pathlib import Path
from typing import Any

from phoneprice_edge.artifact.manifest import Manifest
from phoneprice_edge.errors import UsageError

__all__ = ["INFERENCE_PRECISIONS", "LoadOptions"]

INFERENCE_PRECISIONS = ("f32", "f16", "bf16")  # OpenVINO's INFERENCE_PRECISION_HINT values


@dataclass(frozen=True)
class LoadOptions:
    """What every backend's load accepts; a backend ignores the fields its runtime has no use for.

    threads: intra-op threads (onnxruntime, openvino, torch; None = the runtime's choice; the C++
    runtime and TensorRT ignore it). manifest: the folder's manifest a registry already verified
    (else load verifies it). verify_key: Ed25519 public key the signature must match (with no
    manifest). inference_precision: OpenVINO's precision hint (default: the manifest's).
    """

    threads: int | None = None
    manifest: Manifest | None = None
    verify_key: str | Path | None = None
    inference_precision: str | None = None

    def __post_init__(self) -> None:
        t = self.threads
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, Integral) or t < 1:
                raise UsageError(f"backend option threads must be an integer >= 1, got {t!r}")
            object.__setattr__(self, "threads", int(t))
        if self.manifest is not None and not isinstance(self.manifest, Manifest):
            raise UsageError("backend option manifest must be an artifact.Manifest, got "
                             f"{type(self.manifest).__name__}")
        if self.verify_key is not None and not isinstance(self.verify_key, str | Path):
            raise UsageError("backend option verify_key must be a path, got "
                             f"{type(self.verify_key).__name__}")
        p = self.inference_precision
        if p is not None and p not in INFERENCE_PRECISIONS:
            raise UsageError(f"backend option inference_precision must be one of "
                             f"{', '.join(INFERENCE_PRECISIONS)}, got {p!r}")

    @classmethod
    def of(cls, options: LoadOptions | Mapping[str, Any] | None = None, /,
           **more: Any) -> LoadOptions:
        """LoadOptions from keyword options (and/or an existing LoadOptions); an unknown name is a
        UsageError that lists the known ones."""
        base = {} if options is None else (
            {f.name: getattr(options, f.name) for f in fields(cls)}
            if isinstance(options, LoadOptions) else dict(options))
        merged = {**base, **more}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise UsageError(f"unknown backend option(s) {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(known))})")
        return cls(**merged)
