"""What every exporter receives: the run, the loaded model and rows, the profile, calibration rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phoneprice_edge.checkpoint import LoadedModel

if TYPE_CHECKING:
    from phoneprice_edge.export.profile import ExportProfile


@dataclass
class ExportContext:
    """Inputs of one export; exporters write only inside out_dir and return the file names."""

    run_dir: Path
    checkpoint: Path
    loaded: LoadedModel
    profile: ExportProfile
    out_dir: Path
    calib_x: np.ndarray
    train_x: np.ndarray  # the run's data/train.npz and data/val.npz features, already loaded
    val_x: np.ndarray
    # Facts an exporter wants recorded in the manifest (opset, inference precision, GPU, ...).
    manifest_extra: dict[str, Any] | None = None

    def record(self, **facts: Any) -> None:
        """Add facts to the manifest this export will get."""
        if self.manifest_extra is None:
            self.manifest_extra = {}
        self.manifest_extra.update(facts)
