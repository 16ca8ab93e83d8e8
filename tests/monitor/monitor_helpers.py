"""Helpers shared by the monitor tests (imported by name: conftest modules are not importable reliably)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import synth_phone
from phoneprice_edge.schema import PHONE_SCHEMA
from phoneprice_edge.train import train_run

FEATS = PHONE_SCHEMA.feature_names


def xy(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return df[FEATS].to_numpy(np.float32), df[PHONE_SCHEMA.label].to_numpy(np.int64)


def make_run(run_dir: Path, rows: int = 1500, seed: int = 1, epochs: int = 15) -> Path:
    """A run folder trained by the project's trainer on synth data (a small single-stage MLP, few
    epochs; holdout 80/20, CPU). Single stage: a 15-epoch L1 stage is too short for the default
    recipe's feature selection, and these tests are about monitoring, not the recipe."""
    X, y = xy(synth_phone(rows, seed))
    cfg = load_train_config().with_overrides("tests", epochs=epochs, hidden_dims=[32, 16],
                                             kfold=0, refit=False, device="cpu", seed=0,
                                             feature_select="none")
    return train_run(cfg, X, y, PHONE_SCHEMA, run_dir).run_dir


def shifted(df: pd.DataFrame, ram_scale: float = 1.3) -> pd.DataFrame:
    """Inflated RAM at unchanged prices (the labels keep the original price classes)."""
    out = df.copy()
    out["ram"] = np.rint(out["ram"] * ram_scale).astype(np.int64)
    return out
