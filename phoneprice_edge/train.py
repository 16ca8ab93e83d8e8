"""Public training API: train a run folder from a config and a data source, or resume one."""

from __future__ import annotations

from pathlib import Path

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.training.fold import EpochHook
from phoneprice_edge.training.loop import FitPaths, FitResult, SplitTensors, Trainer
from phoneprice_edge.training.run import RunResult, resume_run, train_run
from phoneprice_edge.training.rundir import MARKER, load_npz, save_npz

__all__ = ["MARKER", "EpochHook", "FitPaths", "FitResult", "RunResult", "SplitTensors", "Trainer",
           "load_data", "load_npz", "resume_run", "save_npz", "train", "train_run"]


def load_data(data: str | None, *, label: str | None = None, table: str | None = None,
              query: str | None = None, fmt: str | None = None, seed: int = 42):  # noqa: ANN201
    """A Dataset from a file or SQL URL, or the built-in synthetic phone data (2000 rows) when None."""
    from phoneprice_edge.data import load_dataset, prepare, synth_phone

    if data is None:
        return prepare(synth_phone(rows=2000, seed=seed), source="built-in synthetic data")
    return load_dataset(data, label=label, table=table, query=query, fmt=fmt)


def train(cfg: TrainConfig, data: str | None, run_dir: str | Path, *, label: str | None = None,
          table: str | None = None, init_from: str | None = None, quiet: bool = True,
          query: str | None = None) -> RunResult:
    """Load the data (or synthesise the default) and train into run_dir."""
    ds = load_data(data, label=label, table=table, query=query, seed=cfg.seed)
    return train_run(cfg, ds.X, ds.y, ds.schema, run_dir, init_from=init_from, quiet=quiet)
