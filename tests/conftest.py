"""Shared fixtures: the real data set beside the checkout (skipped where absent), GPU marker."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_TRAIN = SHARED_DATA / "mobile_price_train.csv"
REAL_TEST = SHARED_DATA / "mobile_price_test.csv"


@pytest.fixture(scope="session")
def real_train_csv() -> Path:
    """The public phone data set (not shipped: licence unknown); skip where ../shared/data is absent."""
    if not REAL_TRAIN.is_file():
        pytest.skip(f"real data set not found at {REAL_TRAIN} (it is not shipped with the project)")
    return REAL_TRAIN


@pytest.fixture(scope="session")
def real_test_csv() -> Path:
    """The unlabelled test file of the public data set; skip where absent."""
    if not REAL_TEST.is_file():
        pytest.skip(f"real test file not found at {REAL_TEST} (it is not shipped with the project)")
    return REAL_TEST


def _has_cuda() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch always importable here
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA; none on this host")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# --- Run folders for the export / backends / parity tests (added by the export stage) -------------
# A small TabularClassifier trained for a second or two, saved exactly as the trainer saves it
# (checkpoints/best_model.pt, schema.json, data/train.npz, data/val.npz), so those stages are
# tested without waiting for a full training run.

RUN_VARIANTS = {  # name -> (norm, activation, wide)
    "plain": ("none", "relu", False),
    "bn_gelu_wide": ("batchnorm", "gelu", True),
    "ln_relu_wide": ("layernorm", "relu", True),
}


def _real_xy(csv: Path):
    import numpy as np
    import pandas as pd

    from phoneprice_edge.schema import PHONE_SCHEMA

    df = pd.read_csv(csv)
    return (df[PHONE_SCHEMA.feature_names].to_numpy(np.float32),
            df[PHONE_SCHEMA.label].to_numpy(np.int64))


def _synth_xy(n: int = 1200, seed: int = 0):
    """Separable phone-like rows: the class follows a weighted sum of a few columns."""
    import numpy as np

    from phoneprice_edge.schema import PHONE_SCHEMA

    rng = np.random.default_rng(seed)
    lo = np.array([f.min for f in PHONE_SCHEMA.features], np.float32)
    hi = np.array([f.max for f in PHONE_SCHEMA.features], np.float32)
    x = (lo + rng.random((n, len(lo)), dtype=np.float32) * (hi - lo)).astype(np.float32)
    x[:, [1, 3, 5, 17, 18, 19]] = np.round(x[:, [1, 3, 5, 17, 18, 19]])
    score = (x[:, 13] - lo[13]) / (hi[13] - lo[13]) * 3 + (x[:, 0] - lo[0]) / (hi[0] - lo[0]) * 0.6
    y = np.clip(np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])), 0, 3).astype(np.int64)
    return x, y


def build_run(run_dir: Path, x, y, norm: str = "none", activation: str = "relu",
              wide: bool = False, seed: int = 0, epochs: int = 40) -> Path:
    """Train a small classifier (AdamW, minibatch 64, dropout 0.2) and write a run folder."""
    import numpy as np
    import torch

    from phoneprice_edge.checkpoint import save_checkpoint
    from phoneprice_edge.model import ModelConfig, build_model
    from phoneprice_edge.schema import PHONE_SCHEMA

    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n_val = len(x) // 5
    tr, va = idx[n_val:], idx[:n_val]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    schema = PHONE_SCHEMA.with_scaler(mean, std)
    cfg = ModelConfig(in_features=x.shape[1], num_classes=4, hidden_dims=(64, 32),
                      activation=activation, norm=norm, dropout_p=0.2, wide=wide)
    torch.manual_seed(seed)
    model = build_model(cfg, mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-2)
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for b in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
            opt.step()
    model.eval()
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    save_checkpoint(run_dir / "checkpoints" / "best_model.pt", model, cfg, schema)
    schema.save(run_dir / "schema.json")
    np.savez(run_dir / "data" / "train.npz", X=x[tr], y=y[tr])
    np.savez(run_dir / "data" / "val.npz", X=x[va], y=y[va])
    return run_dir


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain MLP trained on separable synthetic rows (no real data needed)."""
    x, y = _synth_xy()
    return build_run(tmp_path_factory.mktemp("synth_run"), x, y, epochs=15)


@pytest.fixture(scope="session", params=sorted(RUN_VARIANTS))
def variant_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run per model variant that matters for export (norm, activation, wide path)."""
    norm, act, wide = RUN_VARIANTS[request.param]
    x, y = _synth_xy(seed=1)
    return build_run(tmp_path_factory.mktemp(f"run_{request.param}"), x, y, norm, act, wide,
                     epochs=15)


@pytest.fixture(scope="session")
def real_run(real_train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real phone data (80/20 split), batchnorm + gelu + wide: the richest graph."""
    x, y = _real_xy(real_train_csv)
    return build_run(tmp_path_factory.mktemp("real_run"), x, y, "batchnorm", "gelu", True)
