"""The exporter contract: what every exporter receives (ExportInputs) and returns (ExportOutput)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phoneprice_edge.checkpoint import LoadedModel

if TYPE_CHECKING:
    from phoneprice_edge.export.profile import ExportProfile


@dataclass(frozen=True)
class ExportInputs:
    """Inputs of one export; an exporter writes only inside out_dir."""

    run_dir: Path
    checkpoint: Path
    loaded: LoadedModel  # int8: the int8-ready copy (export/int8_prep.py)
    profile: ExportProfile
    out_dir: Path
    calib_x: np.ndarray
    train_x: np.ndarray  # the run's data/train.npz and data/val.npz features, already loaded
    val_x: np.ndarray
    defer_build: bool = False  # --defer-build: a deferrable target writes its build recipe


@dataclass(frozen=True)
class ExportOutput:
    """What an exporter wrote and the facts its manifest gets."""

    files: tuple[str, ...]  # names of the artifact files in out_dir
    facts: Mapping[str, Any] = field(default_factory=dict)  # manifest fields (opset aside)
    opset: int | None = None  # the ONNX opset, for ONNX-based artifacts
    fmt: str | None = None  # the manifest's format when it is not the target's (a build recipe)
    host_extra: Mapping[str, Any] | None = None  # build-host facts (the GPU that built an engine)
    deferred: bool = False  # a build recipe instead of the model: no reload check at export


Exporter = Callable[[ExportInputs], ExportOutput]
