"""The run folder's own files: the in-progress marker, the data snapshots (npz), the fold folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from phoneprice_edge.errors import UsageError
from phoneprice_edge.io_utils import atomic_write

MARKER = ".in_progress"


def save_npz(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write raw float32 X and int64 y atomically."""
    atomic_write(path, lambda fh: np.savez(fh, X=X.astype(np.float32), y=y.astype(np.int64)))


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read X (float32) and y (int64) written by save_npz."""
    with np.load(path, allow_pickle=False) as z:
        return z["X"].astype(np.float32), z["y"].astype(np.int64)


def fold_dir(run_dir: Path, i: int) -> Path:
    """RUN_DIR/folds/fold_i: fold i's checkpoints, history, model.pt and result.json."""
    return run_dir / "folds" / f"fold_{i}"


def prepare_dir(run_dir: Path, resume: bool) -> None:
    """A new run needs a fresh folder; a resumed one needs an unfinished run folder."""
    if resume:
        if not (run_dir / "config.toml").is_file():
            raise UsageError(f"{run_dir}: not a run folder (no config.toml) - nothing to resume")
        if not (run_dir / MARKER).exists():
            raise UsageError(f"{run_dir}: the run already finished (no {MARKER} marker); "
                             f"nothing to resume")
        return
    if (run_dir / "config.toml").exists() or (run_dir / "checkpoints").exists():
        raise UsageError(f"{run_dir}: already holds a training run; choose another --out or "
                         f"continue it with --resume")
