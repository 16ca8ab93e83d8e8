"""`pe-train --distributed`: join the torchrun process group, train or resume on every rank, rank 0 reports."""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import PEError, UsageError
from phoneprice_edge.train import load_data
from phoneprice_edge.training.distributed import (
    DEFAULT_TIMEOUT_S,
    init,
    is_main,
    missing_env,
    on_main,
    session,
)
from phoneprice_edge.training.run import RunResult, read_resume_inputs, train_run
from phoneprice_edge.training.rundir import prepare_dir


def _check_config(cfg: TrainConfig) -> TrainConfig:
    """Refuse what DDP does not cover; split the host's cores between its local ranks."""
    if cfg.kfold:
        raise UsageError("--distributed trains one holdout model; k-fold (kfold = "
                         f"{cfg.kfold}) runs independent small fits: run it without --distributed")
    if cfg.threads == 0:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        cfg = cfg.with_overrides(source="--distributed",
                                 threads=max(1, (os.cpu_count() or 1) // local))
    return cfg


def train_distributed(cfg: TrainConfig, data: str | None, run_dir: str | Path, *,
                      label: str | None = None, table: str | None = None,
                      query: str | None = None, init_from: str | None = None,
                      quiet: bool = True) -> RunResult:
    """train() for every rank of the group: rank 0 reads the data and broadcasts it; only rank 0
    writes the run folder. Metrics in the result are empty on the other ranks."""
    cfg = _check_config(cfg)
    run_dir = Path(run_dir)

    def read() -> Any:
        prepare_dir(run_dir, resume=False)
        return load_data(data, label=label, table=table, query=query, seed=cfg.seed)

    ds = on_main(read)
    return train_run(cfg, ds.X, ds.y, ds.schema, run_dir, quiet=quiet or not is_main(),
                     init_from=init_from if is_main() else None)


def resume_distributed(run_dir: str | Path, *, quiet: bool = True,
                       init_from: str | None = None) -> RunResult:
    """resume_run() for every rank: rank 0 reads config, rows, schema and last.pt and broadcasts them."""
    run_dir = Path(run_dir)
    cfg, X, y, schema = on_main(lambda: read_resume_inputs(run_dir))
    cfg = _check_config(cfg)
    return train_run(cfg, X, y, schema, run_dir, quiet=quiet or not is_main(), _resume=True,
                     init_from=init_from if is_main() else None)


def run_cli(*, resume: str | None, make_config: Callable[[], TrainConfig],
            summary: Callable[[RunResult], None], data: str | None, table: str | None,
            query: str | None, label: str | None, out: str, init_from: str | None,
            quiet: bool, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """`pe-train --distributed`: join the group, train (or resume), rank 0 prints the summary."""
    # A rank killed by a native abort (gloo, c10d) then prints where its Python threads were.
    if not faulthandler.is_enabled():
        try:
            faulthandler.enable(all_threads=True)
        except (AttributeError, OSError, ValueError):  # stderr without a file descriptor
            pass
    if missing_env():  # before reading any config: the launch itself is wrong
        init()
    cfg = None if resume else make_config()
    device = cfg.device if cfg is not None else _run_device(Path(resume or "."))
    with session(device, timeout_s):
        run_dir = on_main(lambda: resume or out)  # rank 0's folder name (a timestamp by default)
        if resume:
            result = resume_distributed(run_dir, quiet=quiet, init_from=init_from)
        else:
            assert cfg is not None
            result = train_distributed(cfg, data, run_dir, label=label, table=table, query=query,
                                       init_from=init_from, quiet=quiet)
        if is_main():
            summary(result)


def _run_device(run_dir: Path) -> str:
    """The device setting of a run folder being resumed (auto where this rank cannot read it)."""
    try:
        from phoneprice_edge.config import load_train_config

        return load_train_config(run_dir / "config.toml").device
    except (PEError, OSError):
        return "auto"
