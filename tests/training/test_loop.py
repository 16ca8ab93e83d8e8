"""Training loop: learns a toy set, every option builds and steps, L1 subgradient, schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.model import ModelConfig, build_model
from phoneprice_edge.schema import FeatureSchema, FeatureSpec
from phoneprice_edge.training.batching import index_batches, n_steps
from phoneprice_edge.training.builders import (
    add_l1_subgradient,
    lr_factor,
    make_optimizer,
    make_scheduler,
    model_config,
)
from phoneprice_edge.training.loop import FitPaths, SplitTensors, Trainer


def toy(n: int = 300, seed: int = 0, scale: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """XOR of the signs of two features (+ two noise features), quadrants kept apart, on a raw
    scale with large offsets (so standardisation matters); no linear map separates it."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.3, 1.0, (n, 4)) * rng.choice([-1.0, 1.0], (n, 4))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return (X * scale + 1000).astype(np.float32), y


def toy_schema(n_features: int = 4, n_classes: int = 3) -> FeatureSchema:
    return FeatureSchema(tuple(FeatureSpec(f"f{i}") for i in range(n_features)), "label",
                         tuple(str(c) for c in range(n_classes)))


def fit(cfg: TrainConfig, X: np.ndarray, y: np.ndarray, n_train: int = 240) -> Trainer:
    mean, std = X[:n_train].mean(0), X[:n_train].std(0)
    data = SplitTensors(*(torch.from_numpy(a) for a in (X[:n_train], y[:n_train], X[n_train:], y[n_train:])))
    schema = toy_schema(X.shape[1], int(y.max()) + 1).with_scaler(mean, std)
    return Trainer(cfg, model_config(cfg, X.shape[1], schema.n_classes), schema, data,
                   FitPaths(None), torch.device("cpu"), seed=cfg.seed)


def test_learns_separable_toy_set() -> None:
    X, y = toy()
    cfg = TrainConfig(epochs=30, batch_size=32, hidden_dims=(16,), l1_input=0.0, learning_rate=0.02,
                      feature_select="none")
    result = fit(cfg, X, y).run()
    assert result.history[-1]["val_accuracy"] >= 0.97
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert len(result.history) == 30 and result.samples == 30 * 240


def test_untrained_model_is_not_already_right() -> None:
    """Guards the test above: the toy task is not solved by initialisation alone."""
    X, y = toy()
    t = fit(TrainConfig(epochs=1, hidden_dims=(16,)), X, y)
    assert t.validate()["val_accuracy"] < 0.8
    linear = fit(TrainConfig(epochs=30, batch_size=32, hidden_dims=(), l1_input=0.0), X, y).run()
    assert linear.history[-1]["val_accuracy"] < 0.8


@pytest.mark.parametrize("overrides", [
    {"optimizer": "adamw"}, {"optimizer": "sgd", "learning_rate": 0.05},
    {"scheduler": "cosine", "warmup_steps": 3}, {"scheduler": "step", "step_epochs": 1},
    {"scheduler": "warmup_linear", "warmup_steps": 2}, {"scheduler": "none"},
    {"norm": "batchnorm"}, {"norm": "layernorm"}, {"norm": "none"},
    {"init": "xavier"}, {"init": "kaiming"}, {"activation": "gelu"},
    {"dropout_p": 0.3}, {"wide": True}, {"hidden_dims": ()}, {"hidden_dims": (8, 8)},
    {"grad_clip": 0.5}, {"label_smoothing": 0.1}, {"noise_sigma": 0.1}, {"mixup_alpha": 0.4},
    {"drop_last": True, "batch_size": 50}, {"shuffle": False}, {"weight_decay": 0.01},
    {"patience": 1}, {"ordinal": True}, {"ordinal": True, "hidden_dims": (), "l1_input": 0.01},
])
def test_every_option_builds_and_steps(overrides: dict) -> None:
    X, y = toy(120)
    cfg = TrainConfig(epochs=2, batch_size=32).with_overrides(**overrides)
    t = fit(cfg, X, y, n_train=90)
    before = [p.detach().clone() for p in t.model.parameters()]
    result = t.run()
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["grad_norm"]) for r in result.history)
    changed = [not torch.equal(a, b) for a, b in zip(before, t.model.parameters(), strict=True)]
    assert any(changed)
    if overrides.get("grad_clip"):
        assert all(r["grad_norm"] > 0 for r in result.history)


@pytest.mark.parametrize(("n", "drop_last", "sizes"), [
    (10, False, [4, 4, 2]), (10, True, [4, 4]), (8, True, [4, 4]), (3, True, [3]), (0, False, []),
])
def test_batching_drops_the_partial_batch_only_with_drop_last(n: int, drop_last: bool,
                                                              sizes: list[int]) -> None:
    cfg = TrainConfig(batch_size=4, drop_last=drop_last)
    order = torch.arange(n).flip(0)
    x, y = torch.arange(n) * 10, torch.arange(n)
    batches = list(index_batches(order, x, y, cfg))
    assert n_steps(n, cfg) == len(sizes) and [len(b) for _, b in batches] == sizes
    assert [v for _, b in batches for v in b.tolist()] == order[:sum(sizes)].tolist()
    assert all(torch.equal(xb, yb * 10) for xb, yb in batches)


def test_dataloader_path_with_workers_matches_shapes() -> None:
    X, y = toy(100)
    result = fit(TrainConfig(epochs=1, batch_size=16, num_workers=1, feature_select="none"), X, y,
                 n_train=80).run()
    assert result.samples == 80


def test_l1_subgradient_matches_autograd() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(5, 3, (4,), wide=True))
    with torch.no_grad():
        model.wide.weight.normal_()
    x = torch.randn(8, 5)
    loss = model(x).square().mean()
    penalty = 0.01 * (model.first_linear.weight.abs().sum() + model.wide.weight.abs().sum())
    (loss + penalty).backward()
    expected = [model.first_linear.weight.grad.clone(), model.wide.weight.grad.clone()]
    model.zero_grad()
    model(x).square().mean().backward()
    add_l1_subgradient(model, 0.01)
    assert torch.allclose(model.first_linear.weight.grad, expected[0])
    assert torch.allclose(model.wide.weight.grad, expected[1])


def test_l1_subgradient_of_an_ordinal_path_is_on_its_vector() -> None:
    model = build_model(ModelConfig(5, 3, (4,), wide=True, ordinal=True))
    v = model.wide.parametrizations.weight.original
    with torch.no_grad():
        v.copy_(torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]))
    model(torch.randn(8, 5)).sum().backward()
    grad = v.grad.clone()
    add_l1_subgradient(model, 0.01)
    assert torch.allclose(v.grad - grad, 0.01 * torch.sign(v), atol=1e-5)


def test_lr_schedules() -> None:
    cfg = TrainConfig(epochs=10, warmup_steps=4, scheduler="cosine")
    f = lr_factor(cfg, steps_per_epoch=10)
    assert f(0) == pytest.approx(0.25) and f(3) == pytest.approx(1.0)
    assert f(4) == pytest.approx(1.0) and f(52) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)
    f = lr_factor(TrainConfig(epochs=10, scheduler="step", step_epochs=3, step_gamma=0.5), 10)
    assert f(29) == 1.0 and f(30) == 0.5 and f(60) == 0.25
    f = lr_factor(TrainConfig(epochs=10, scheduler="warmup_linear"), 10)
    assert f(0) == 1.0 and f(50) == pytest.approx(0.5)
    assert lr_factor(TrainConfig(scheduler="none"), 5)(123) == 1.0


def test_weight_decay_skips_biases() -> None:
    model = build_model(ModelConfig(4, 3, (8,), norm="layernorm"))
    opt = make_optimizer(TrainConfig(weight_decay=0.1), model)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert all((id(p) in decayed) == (p.ndim > 1) for p in model.parameters())
    sched = make_scheduler(TrainConfig(epochs=2), opt, 3)  # cosine over 2 epochs x 3 steps
    lrs = []
    for _ in range(7):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    want = [0.01 * 0.5 * (1 + math.cos(math.pi * s / 6)) for s in range(7)]
    assert [lr[0] for lr in lrs] == pytest.approx(want) and all(a == b for a, b in lrs)
    assert lrs[3][0] == pytest.approx(0.005) and lrs[6][0] == pytest.approx(0.0)
