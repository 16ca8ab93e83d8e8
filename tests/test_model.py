"""The classifier built from a TrainConfig: standardisation first, sizes from data, blocks only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from phoneprice_edge.checkpoint import load_model, save_checkpoint
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.model import Standardize
from phoneprice_edge.schema import FeatureSchema, FeatureSpec
from phoneprice_edge.training.builders import make_model, model_config

ALLOWED = (nn.Linear, nn.BatchNorm1d, nn.LayerNorm, nn.ReLU, nn.GELU, nn.Dropout, nn.Sequential)


def schema(n: int) -> FeatureSchema:
    return FeatureSchema(tuple(FeatureSpec(f"f{i}") for i in range(n)), "label", ("0", "1", "2", "3"))


def _ordinal_model(hidden: tuple[int, ...], wide: bool) -> torch.nn.Module:
    cfg = TrainConfig(hidden_dims=hidden, wide=wide, ordinal=True)
    torch.manual_seed(0)
    model = make_model(model_config(cfg, 6, 4), np.zeros(6), np.ones(6))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model


def _rank1_structured(w: torch.Tensor) -> bool:
    k = torch.arange(w.shape[0], dtype=w.dtype)[:, None]
    return torch.allclose(w, k * w[1:2], atol=1e-6) and not torch.equal(w[1], torch.zeros_like(w[1]))


@pytest.mark.parametrize(("hidden", "wide", "layer"), [((8,), True, "wide"), ((), False, "head")])
def test_ordinal_trains_one_vector_and_saves_a_plain_linear(
        tmp_path: Path, hidden: tuple[int, ...], wide: bool, layer: str) -> None:
    model = _ordinal_model(hidden, wide)
    trainable = dict(model.named_parameters())
    assert trainable[f"{layer}.parametrizations.weight.original"].shape == (6,)  # v, not 4 x 6
    state = model.state_dict()
    plain_model = make_model(model_config(TrainConfig(hidden_dims=hidden, wide=wide), 6, 4),
                             np.zeros(6), np.ones(6))
    assert set(state) == set(plain_model.state_dict())  # no extra (or missing) entries
    assert _rank1_structured(state[f"{layer}.weight"])
    path = save_checkpoint(tmp_path / "m.pt", model, model.cfg.materialized(), schema(6))
    loaded = load_model(path)
    assert not loaded.config.ordinal
    assert all(isinstance(m, (*ALLOWED, Standardize)) or m is loaded.model
               for m in loaded.model.modules())  # no parametrisation module left
    x = torch.randn(5, 6)
    assert torch.allclose(loaded.model(x), model.eval()(x), atol=1e-5)


def test_ordinal_state_round_trips_and_materializes_in_place() -> None:
    model = _ordinal_model((8,), True)
    again = _ordinal_model((8,), True)
    with torch.no_grad():
        again.wide.parametrizations.weight.original.zero_()
    again.load_state_dict(model.state_dict())  # resume: plain weight -> the same v
    assert torch.allclose(again.wide.parametrizations.weight.original,
                          model.wide.parametrizations.weight.original)
    x = torch.randn(3, 6)
    before = model(x)
    assert model.materialize() is model and not model.cfg.ordinal
    assert "wide.weight" in dict(model.named_parameters())
    assert torch.equal(model(x), before)


def test_ordinal_needs_a_linear_path() -> None:
    with pytest.raises(ConfigError, match="ordinal needs"):
        model_config(TrainConfig(hidden_dims=(8,), wide=False, ordinal=True), 6, 4)
