"""pe-train's checks before a run folder exists, and the clean-up of a start that failed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import DataError, PEError, UsageError, one_line

# what training holds per parameter: weights, gradients, two AdamW moments, the best-model copy,
# the last.pt snapshot and the serialised checkpoint
_BYTES_PER_PARAM = 4 * 7
_ALLOCATION_SIGNS = ("can't allocate memory", "out of memory", "not enough memory",
                     "cannot allocate memory")


def check_out_folder(run_dir: str | Path) -> str:
    """UsageError when run_dir is a non-empty folder that is not a run (nothing is mixed into
    it); a run folder is left to the trainer's own check. Returns what run_dir was: "new" (no
    such folder), "empty" or "run"."""
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path}: exists and is not a folder")
    if not path.is_dir():
        return "new"
    if (path / "config.toml").exists() or (path / "checkpoints").exists():
        return "run"  # the trainer refuses it with the --resume hint
    if any(path.iterdir()):
        raise UsageError(f"--out {path}: the folder is not empty and is not a training run; "
                         "choose a new or empty folder")
    return "empty"


def check_trainable(cfg: Any, X: np.ndarray, y: np.ndarray | None, schema: Any,
                    source: str) -> None:
    """Refuse, before any file is written, a table that cannot train a classifier (rows of one
    class only) or a model too large for this machine's memory."""
    if y is None or y.size == 0:
        raise DataError(f"{source}: no labelled rows to train on")
    present = np.unique(y)
    if present.size < 2:
        name = schema.classes[int(present[0])]
        raise DataError(f"{source}: label column {schema.label!r} has rows of one class only "
                        f"({name!r}); a classifier needs rows of at least two classes")
    check_model_memory(cfg, X.shape[1], schema.n_classes)


def model_parameters(hidden_dims: tuple[int, ...], n_features: int, n_classes: int,
                     wide: bool = False) -> int:
    """Weights and biases of the MLP body and head (plus the wide path)."""
    dims = [n_features, *hidden_dims, n_classes]
    n = sum(a * b + b for a, b in zip(dims[:-1], dims[1:], strict=True))
    return n + (n_features * n_classes + n_classes if wide else 0)


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (None where there is none: then nothing is checked)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_model_memory(cfg: Any, n_features: int, n_classes: int) -> None:
    """PEError (exit 1) when training the configured model needs more memory than is available."""
    params = model_parameters(tuple(cfg.hidden_dims), n_features, n_classes, bool(cfg.wide))
    widest = max([n_features, *cfg.hidden_dims, n_classes])
    need = params * _BYTES_PER_PARAM + 4 * 8 * cfg.batch_size * widest
    have = available_memory()
    if have is not None and need > have:
        raise PEError(f"hidden_dims = {list(cfg.hidden_dims)}: the model has {params:,} parameters "
                      f"and training it needs about {_gib(need)} of memory; this machine has "
                      f"{_gib(have)} available (choose smaller hidden_dims)")


def _gib(n: int) -> str:
    return f"{n / 2 ** 30:.1f} GiB"


@contextmanager
def cleanup_on_failed_start(run_dir: str | Path, before: str) -> Iterator[None]:
    """Remove what a failed start wrote, so the same --out works next time.

    A start has failed when no epoch (checkpoints/last.pt) nor fold (folds/*/result.json) was
    finished: the folder is removed (emptied when it was empty before: `before` is what
    check_out_folder said; a folder that already held a run is never touched). An interrupt
    keeps the folder (it resumes). An allocation error becomes a one-line PEError.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if before != "run" and not _made_progress(Path(run_dir)):
            _remove_start(Path(run_dir), before == "empty")
        if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and any(
                s in str(exc).lower() for s in _ALLOCATION_SIGNS)):
            raise PEError(f"training ran out of memory: {_short(exc)}") from None
        raise


def _short(exc: BaseException) -> str:
    text = one_line(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def _made_progress(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "last.pt").is_file() or \
        any(run_dir.glob("folds/fold_*/result.json"))


def _remove_start(run_dir: Path, existed: bool) -> None:
    if not run_dir.is_dir() or not (run_dir / ".in_progress").exists():
        return  # not started by us (a run refused by the trainer keeps its files)
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for p in run_dir.iterdir():  # it was empty before: everything in it is ours
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() \
            else p.unlink(missing_ok=True)
