"""Run folders for the export / backends / parity tests: a small classifier saved as the trainer saves it."""

from __future__ import annotations

from pathlib import Path

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
