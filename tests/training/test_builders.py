"""training.builders: the classifier a TrainConfig builds (standardisation first, sizes from data)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.training.builders import make_model, model_config

ALLOWED = (nn.Linear, nn.BatchNorm1d, nn.LayerNorm, nn.ReLU, nn.GELU, nn.Dropout, nn.Sequential)


def test_model_from_config_takes_raw_features() -> None:
    cfg = TrainConfig(hidden_dims=(16, 8), norm="batchnorm", activation="gelu", wide=True, dropout_p=0.1)
    mean, std = np.full(6, 100.0), np.full(6, 10.0)
    model = make_model(model_config(cfg, 6, 3), mean, std).eval()
    x = torch.full((2, 6), 100.0)
    z = model.standardize(x)
    assert torch.equal(z, torch.zeros(2, 6))
    assert model(x).shape == (2, 3)
    for m in model.modules():
        if m is not model and type(m).__name__ not in ("Standardize",):
            assert isinstance(m, ALLOWED), type(m)


def test_default_recipe_shape() -> None:
    model = make_model(model_config(TrainConfig(), 20, 4), np.zeros(20), np.ones(20))
    assert model.first_linear.in_features == 20 and model.head.out_features == 4
    assert sum(p.numel() for p in model.parameters()) < 5000


def test_softmax_regression_has_no_body() -> None:
    model = make_model(model_config(TrainConfig(hidden_dims=()), 5, 2), np.zeros(5), np.ones(5))
    assert len(model.body) == 0 and model.first_linear is model.head
