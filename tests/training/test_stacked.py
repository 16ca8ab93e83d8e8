"""The stacked k-fold trainer: each fold as if alone, close to the per-fold Trainer, exact resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.data import kfold as kfold_split
from phoneprice_edge.train import MARKER, resume_run, train_run
from phoneprice_edge.training import kfold
from phoneprice_edge.training.builders import model_config
from phoneprice_edge.training.fold import fit, fit_schema, split_tensors
from phoneprice_edge.training.stacked import FoldSpec, StackedTrainer


def small(**kw: Any) -> TrainConfig:
    base = {"epochs": 3, "batch_size": 32, "hidden_dims": [8], "device": "cpu", "kfold": 3,
            "feature_select": "l1_relaxed", "stage2_epochs": 2, "select_threshold": 0.03}
    return TrainConfig().with_overrides(**{**base, **kw})


def specs(cfg: TrainConfig, phone: Any, which: list[int]) -> list[FoldSpec]:
    X, y, schema = phone
    out = []
    for i, (tr, va) in enumerate(kfold_split(y, cfg.kfold, cfg.seed), start=1):
        if i in which:
            t = split_tensors(X, y, tr, va)
            out.append(FoldSpec(i, f"fold {i}", fit_schema(schema, X, tr), t.x_train, t.y_train,
                                t.x_val, t.y_val, None))
    return out


def train(cfg: TrainConfig, phone: Any, which: list[int]) -> list[Any]:
    mcfg = model_config(cfg, phone[0].shape[1], phone[2].n_classes)
    return StackedTrainer(cfg, mcfg, specs(cfg, phone, which), torch.device("cpu")).run()


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


EARLY_STOP = {"hidden_dims": [64], "l1_input": 0.0, "learning_rate": 0.05, "epochs": 30,
              "patience": 2, "scheduler": "none", "feature_select": "none"}  # stops at 7, 5, 7


@pytest.mark.parametrize("extra", [{}, EARLY_STOP])
def test_each_fold_of_a_stack_is_bitwise_the_fold_trained_alone(phone, extra: dict) -> None:
    cfg = small(**extra)
    together = train(cfg, phone, [1, 2, 3])
    for k, i in enumerate([1, 2, 3]):
        alone = train(cfg, phone, [i])[0]
        assert same_weights(together[k].model, alone.model), f"fold {i}"
        assert together[k].history == alone.history
        assert together[k].extra == alone.extra and together[k].stopped_early == alone.stopped_early
    if extra:  # early stopping is per fold: the folds stopped at different epochs
        assert len({len(r.history) for r in together}) > 1, [len(r.history) for r in together]


def test_stacked_is_the_per_fold_trainer_up_to_rounding(phone, tmp_path: Path) -> None:
    X, y, schema = phone
    cfg = small()
    stacked = train(cfg, phone, [1, 2, 3])
    for k, (tr, va) in enumerate(kfold_split(y, cfg.kfold, cfg.seed)):
        res, _ = fit(cfg, schema, X, y, tr, va, tmp_path / f"f{k}", None, resume=False,
                     init_from=None, quiet=True, label="x", track_best=False, hook=None)
        assert stacked[k].extra == res.extra  # the same features kept
        a, b = stacked[k].model.state_dict(), res.model.state_dict()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
        for ra, rb in zip(stacked[k].history, res.history, strict=True):
            assert ra["epoch"] == rb["epoch"] and ra["lr"] == pytest.approx(rb["lr"])
            assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-4)
            assert ra["val_accuracy"] == pytest.approx(rb["val_accuracy"])


def test_which_configs_are_stacked() -> None:
    assert kfold.stacked(small())
    for over in ({"dropout_p": 0.1}, {"norm": "batchnorm"}, {"noise_sigma": 0.1}, {"ordinal": True},
                 {"grad_clip": 1.0}, {"optimizer": "sgd"}, {"num_workers": 1}):
        assert not kfold.stacked(small(**over)), over


def fold_weights(run: Path, i: int) -> dict[str, torch.Tensor]:
    return torch.load(run / "folds" / f"fold_{i}" / "model.pt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("stop_at", [2, 4])  # stage 1, and stage 2 of the relaxed lasso
def test_stacked_resume_is_bitwise_exact(tmp_path: Path, phone, stop_at: int) -> None:
    X, y, schema = phone
    cfg = small()
    full = train_run(cfg, X, y, schema, tmp_path / "full")

    def hook(label: str, epoch: int) -> None:
        if epoch == stop_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, X, y, schema, tmp_path / "cut", hook=hook)
    cut = tmp_path / "cut"
    assert (cut / MARKER).exists() and not (cut / "folds" / "fold_1" / "result.json").exists()
    last = torch.load(cut / "folds" / "fold_2" / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == stop_at and ("input_mask" in last) == (stop_at > cfg.epochs)
    resumed = resume_run(cut)
    for i in (1, 2, 3):
        a, b = fold_weights(tmp_path / "full", i), fold_weights(cut, i)
        assert all(torch.equal(a[k], b[k]) for k in a), f"fold {i}"
        ha = (tmp_path / "full" / "folds" / f"fold_{i}" / "history.jsonl").read_text()
        assert ha == (cut / "folds" / f"fold_{i}" / "history.jsonl").read_text()
    skip = {"seconds", "samples"}
    assert [{k: v for k, v in f.items() if k not in skip} for f in resumed.metrics["cv"]["folds"]] \
        == [{k: v for k, v in f.items() if k not in skip} for f in full.metrics["cv"]["folds"]]


def test_folds_of_unequal_size_train_in_groups(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    cfg = small(kfold=7, epochs=2, feature_select="none")
    sizes = {tr.size for tr, _ in kfold_split(y, 7, cfg.seed)}
    assert len(sizes) == 2  # 240 rows in 7 folds
    res = train_run(cfg, X, y, schema, tmp_path / "run")
    folds = res.metrics["cv"]["folds"]
    assert [f["fold"] for f in folds] == list(range(1, 8)) and all(f["epochs"] == 2 for f in folds)
    alone = train(cfg, (X, y, schema), [5])[0]
    saved = fold_weights(tmp_path / "run", 5)
    assert all(torch.equal(saved[k], v) for k, v in alone.model.state_dict().items())
    tb = list((tmp_path / "run" / "tb" / "fold_5").glob("events.out.tfevents.*"))
    assert tb and json.loads((tmp_path / "run" / "folds" / "fold_5" / "result.json").read_text())
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tb" / "fold_5"))
    events.Reload()  # one event per epoch holding every scalar, readable as add_scalar's
    history = [json.loads(line) for line in
               (tmp_path / "run" / "folds" / "fold_5" / "history.jsonl").read_text().splitlines()]
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/val", "accuracy/train",
                                             "accuracy/val", "lr", "grad_norm"}
    for tag, key in (("loss/train", "train_loss"), ("accuracy/val", "val_accuracy"), ("lr", "lr")):
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert got == [(r["epoch"], pytest.approx(r[key], rel=1e-6)) for r in history], tag
    assert np.isfinite(res.metrics["cv"]["accuracy_mean"])
