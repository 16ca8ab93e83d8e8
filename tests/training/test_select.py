"""Relaxed-lasso feature selection: exact zero columns, plain saved models, resume across stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.model import TabularClassifier
from phoneprice_edge.train import MARKER, resume_run, train_run
from phoneprice_edge.training import select


def sel(**kw: object) -> TrainConfig:
    base = {"epochs": 3, "stage2_epochs": 3, "batch_size": 32, "hidden_dims": [8], "device": "cpu",
            "feature_select": "l1_relaxed", "select_threshold": 0.5, "l1_input": 0.05}
    return TrainConfig().with_overrides(**{**base, **kw})


def input_columns(model: TabularClassifier) -> torch.Tensor:
    """Per-feature max |weight| over the plain Linear layers that read the input."""
    ws = [model.first_linear.weight] + ([model.wide.weight] if model.wide is not None else [])
    return torch.stack([w.detach().abs().amax(0) for w in ws]).amax(0)


def interrupt_at(k: int):  # noqa: ANN201
    def hook(label: str, epoch: int) -> None:
        if epoch == k:
            raise KeyboardInterrupt
    return hook


@pytest.mark.parametrize("kw", [{}, {"ordinal": True}, {"hidden_dims": [], "wide": False}])
def test_dropped_columns_are_exactly_zero_in_a_plain_saved_model(tmp_path: Path, phone,
                                                                 kw: dict) -> None:
    X, y, schema = phone
    res = train_run(sel(**kw), X, y, schema, tmp_path / "run")
    kept = json.loads((res.run_dir / "selected_features.json").read_text())["selected_features"]
    assert 1 <= len(kept) < len(schema.feature_names)
    for ckpt in ("best_model.pt", "last.pt"):
        loaded = load_model(res.run_dir / "checkpoints" / ckpt)
        assert type(loaded.model) is TabularClassifier and not loaded.model.cfg.ordinal
        cols = input_columns(loaded.model)
        for name, value in zip(schema.feature_names, cols.tolist(), strict=True):
            assert (value == 0.0) == (name not in kept), (ckpt, name, value)
    hist = [json.loads(r) for r in (res.run_dir / "history.jsonl").read_text().splitlines()]
    assert len(hist) == 6


@pytest.mark.parametrize("cut", [3, 4])  # at the stage boundary, inside stage 2
def test_resume_across_the_stage_boundary_is_bitwise_equal(tmp_path: Path, phone, cut: int) -> None:
    X, y, schema = phone
    cfg = sel(dropout_p=0.2)
    full = train_run(cfg, X, y, schema, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, X, y, schema, tmp_path / "cut", hook=interrupt_at(cut))
    assert (tmp_path / "cut" / MARKER).exists()
    last = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)
    assert ("input_mask" in last) == (cut > cfg.epochs)
    resumed = resume_run(tmp_path / "cut")
    for ckpt in ("best_model.pt", "last.pt"):
        a = torch.load(full.run_dir / "checkpoints" / ckpt, weights_only=True)["state_dict"]
        b = torch.load(resumed.run_dir / "checkpoints" / ckpt, weights_only=True)["state_dict"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), ckpt
    assert (full.run_dir / "history.jsonl").read_text() == (tmp_path / "cut" / "history.jsonl").read_text()


def test_kfold_records_each_folds_features(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    res = train_run(sel(kfold=2), X, y, schema, tmp_path / "run")
    for fold in res.metrics["cv"]["folds"]:
        assert set(fold["selected_features"]) <= set(schema.feature_names)
        assert fold["epochs"] == 6


def test_select_mask_keeps_the_largest_and_uses_every_input_layer() -> None:
    from phoneprice_edge.model import ModelConfig, build_model

    model = build_model(ModelConfig(in_features=3, num_classes=4, hidden_dims=(2,), wide=True,
                                    ordinal=True), np.zeros(3), np.ones(3))
    with torch.no_grad():
        model.first_linear.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, -0.1]]))
        select.apply_mask(model, torch.tensor([True, True, True]))
        model.wide.parametrizations.weight.original.copy_(torch.tensor([0.0, -3.0, 0.0]))
    assert torch.allclose(select.importance(model), torch.tensor([2.0, 3.0, 0.1]))
    assert select.select_mask(model, 0.5).tolist() == [True, True, False]
    assert select.select_mask(model, 0.99).tolist() == [False, True, False]


def test_bad_selection_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="feature_select"):
        TrainConfig().with_overrides(feature_select="lasso")
    with pytest.raises(ConfigError, match="select_threshold"):
        TrainConfig().with_overrides(select_threshold=1.5)
