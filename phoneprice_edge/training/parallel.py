"""K-fold folds trained in spawned worker processes (one torch thread each), bitwise equal to serial."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import PEError
from phoneprice_edge.schema import FeatureSchema

FoldJob = tuple[int, np.ndarray, np.ndarray]  # fold number, training rows, validation rows


def n_workers(cfg: TrainConfig, pending: int, *, hook: Any, distributed: bool,
              device: torch.device) -> int:
    """How many processes train the pending folds; 1 = the serial path in this process.

    Serial when a per-epoch hook is given, under DDP, on CUDA, or with fewer than 2 folds to train.
    """
    if hook is not None or distributed or device.type == "cuda" or pending < 2:
        return 1
    wanted = cfg.kfold_workers or min(cfg.kfold, os.cpu_count() or 1)
    return max(1, min(wanted, pending))


def _init_worker() -> None:
    """One intra-op thread per worker; Ctrl-C is the parent's to handle (it terminates workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _work(args: tuple[Any, ...]) -> tuple[str, Any]:
    """Train one fold (same code and seeding as the serial path); a PEError comes back as a value."""
    from phoneprice_edge.training.fold import train_fold

    try:
        return "ok", train_fold(*args)
    except PEError as exc:
        return "error", (type(exc), str(exc))


def _raise(cls: type[PEError], message: str) -> None:
    try:
        err = cls(message)
    except TypeError:  # a subclass with another signature
        err = PEError(message)
    raise err from None


def run_parallel(cfg: TrainConfig, schema: FeatureSchema, X: np.ndarray, y: np.ndarray,
                 run_dir: Path, jobs: list[FoldJob], kw: dict[str, Any], workers: int,
                 on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Train the given folds in `workers` spawned processes; return their result dicts."""
    fold_kw = {"resume": kw["resume"], "init_from": kw["init_from"], "quiet": True, "hook": None}
    tasks = [(cfg, schema, X, y, i, tr, va, run_dir, fold_kw) for i, tr, va in jobs]
    results: list[dict[str, Any]] = []
    pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker)
    try:
        for status, value in pool.imap_unordered(_work, tasks):
            if status == "error":
                _raise(*value)
            results.append(value)
            if on_done is not None:
                on_done(value)
        pool.close()
    except BaseException:  # Ctrl-C or a fold's error: stop the others (last.pt writes are atomic)
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


def print_fold(k: int) -> Callable[[dict[str, Any]], None]:
    """One stderr line per finished fold (workers draw no per-epoch bars)."""
    def show(r: dict[str, Any]) -> None:
        print(f"fold {r['fold']}/{k}: accuracy {r['accuracy']:.4f} ({r['epochs']} epochs, "
              f"{r['seconds']:.1f} s)", file=sys.stderr, flush=True)
    return show
