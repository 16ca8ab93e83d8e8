"""Fixtures for the monitor tests: a small trained run on the built-in synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phoneprice_edge.data import synth_phone
from phoneprice_edge.monitor import fit as F
from phoneprice_edge.schema import PHONE_SCHEMA

FEATS = PHONE_SCHEMA.feature_names


def xy(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return df[FEATS].to_numpy(np.float32), df[PHONE_SCHEMA.label].to_numpy(np.int64)


def make_run(run_dir: Path, rows: int = 1500, seed: int = 1, epochs: int = 15) -> Path:
    """A run folder (schema, splits, checkpoints, metrics) with a small MLP trained on synth data."""
    X, y = xy(synth_phone(rows, seed))
    n = int(rows * 0.8)
    model, cfg, schema = F.new_model(PHONE_SCHEMA, X[:n], hidden=(32, 16), seed=0)
    F.fit(model, X[:n], y[:n], F.FitConfig(epochs=epochs, batch_size=64, lr=5e-3))
    return F.write_run(run_dir, model, cfg, schema, (X[:n], y[:n]), (X[n:], y[n:]))


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run shared by the tests that only read it."""
    return make_run(tmp_path_factory.mktemp("monitor") / "run")


def shifted(df: pd.DataFrame, ram_scale: float = 1.3) -> pd.DataFrame:
    """Inflated RAM at unchanged prices (the labels keep the original price classes)."""
    out = df.copy()
    out["ram"] = np.rint(out["ram"] * ram_scale).astype(np.int64)
    return out
