"""Run folders: layout, checkpoints (weights_only), resume equivalence, k-fold cv, refit, init-from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from phoneprice_edge.checkpoint import load_model
from phoneprice_edge.config import TrainConfig, load_train_config
from phoneprice_edge.errors import UsageError
from phoneprice_edge.train import MARKER, load_npz, resume_run, train_run


def small(**kw: object) -> TrainConfig:
    base = {"epochs": 4, "batch_size": 32, "hidden_dims": [8], "device": "cpu", "dropout_p": 0.2,
            "feature_select": "none"}  # exact epoch counts below: one stage
    return TrainConfig().with_overrides(**{**base, **kw})


def interrupt_at(k: int):  # noqa: ANN201
    def hook(label: str, epoch: int) -> None:
        if epoch == k:
            raise KeyboardInterrupt
    return hook


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_holdout_run_layout(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    res = train_run(small(), X, y, schema, tmp_path / "run")
    run = res.run_dir
    for name in ("config.toml", "schema.json", "history.jsonl", "metrics.json", "data/train.npz",
                 "data/val.npz", "checkpoints/last.pt", "checkpoints/best_model.pt"):
        assert (run / name).is_file(), name
    assert list((run / "tb").rglob("events.out.tfevents.*"))
    assert not (run / MARKER).exists()
    assert load_train_config(run / "config.toml") == small()
    Xt, yt = load_npz(run / "data" / "train.npz")
    Xv, yv = load_npz(run / "data" / "val.npz")
    assert Xt.dtype == np.float32 and yv.dtype == np.int64 and len(yt) + len(yv) == len(y)
    hist = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "grad_norm"} <= set(hist[0])
    saved = json.loads((run / "schema.json").read_text())
    assert np.allclose(saved["scaler"]["mean"], Xt.mean(0), rtol=1e-5)
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "auc_ovr_macro", "confusion_matrix"} <= set(metrics)


def test_checkpoints_load_weights_only_and_rebuild(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    res = train_run(small(), X, y, schema, tmp_path / "run")
    last = torch.load(res.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert {"model_config", "schema", "state_dict", "optimizer", "scheduler", "epoch", "rng",
            "train_config"} <= set(last) and last["epoch"] == 4
    loaded = load_model(res.best_checkpoint)
    Xv, _ = load_npz(res.run_dir / "data" / "val.npz")
    a = loaded.model(torch.from_numpy(Xv))
    hist = [json.loads(line) for line in (res.run_dir / "history.jsonl").read_text().splitlines()]
    best = max(hist, key=lambda h: (h["val_accuracy"], -h["val_loss"]))  # first of equals wins
    assert loaded.payload["epoch"] == best["epoch"] and loaded.payload["val"] == best
    assert a.shape == (len(Xv), 4)
    assert loaded.schema.scaler_mean is not None


@pytest.mark.parametrize("cfg_kw", [{}, {"kfold": 3, "refit": True, "epochs": 3},
                                    {"noise_sigma": 0.1, "mixup_alpha": 0.2}])
def test_resume_equals_uninterrupted(tmp_path: Path, phone, cfg_kw: dict) -> None:
    X, y, schema = phone
    cfg = small(**cfg_kw)
    full = train_run(cfg, X, y, schema, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):  # epoch 2: inside the first fold or the holdout fit
        train_run(cfg, X, y, schema, tmp_path / "cut", hook=interrupt_at(2))
    assert (tmp_path / "cut" / MARKER).exists()
    assert not (tmp_path / "cut" / "metrics.json").exists()
    resumed = resume_run(tmp_path / "cut")
    a, b = weights(full.best_checkpoint), weights(resumed.best_checkpoint)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ha = (tmp_path / "full" / "history.jsonl").read_text().splitlines()
    hb = (tmp_path / "cut" / "history.jsonl").read_text().splitlines()
    assert [json.loads(r)["train_loss"] for r in ha] == [json.loads(r)["train_loss"] for r in hb]
    if cfg.kfold:
        ma = json.loads((tmp_path / "full" / "metrics.json").read_text())["cv"]
        mb = json.loads((tmp_path / "cut" / "metrics.json").read_text())["cv"]
        assert [f["accuracy"] for f in ma["folds"]] == [f["accuracy"] for f in mb["folds"]]


def test_resume_refuses_finished_or_foreign_folder(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    train_run(small(epochs=1), X, y, schema, tmp_path / "run")
    with pytest.raises(UsageError, match="already finished"):
        resume_run(tmp_path / "run")
    with pytest.raises(UsageError, match="not a run folder"):
        resume_run(tmp_path)
    with pytest.raises(UsageError, match="already holds a training run"):
        train_run(small(epochs=1), X, y, schema, tmp_path / "run")


def test_kfold_writes_cv_and_best_fold(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    res = train_run(small(kfold=3, epochs=2), X, y, schema, tmp_path / "run")
    cv = res.metrics["cv"]
    assert {"accuracy_mean", "accuracy_std", "macro_f1_mean", "folds"} <= set(cv)
    accs = [f["accuracy"] for f in cv["folds"]]
    assert len(accs) == 3 and cv["accuracy_mean"] == pytest.approx(np.mean(accs))
    assert cv["accuracy_std"] == pytest.approx(np.std(accs))
    best = int(np.argmax(accs)) + 1
    fold_model = res.run_dir / "folds" / f"fold_{best}" / "model.pt"
    assert (res.run_dir / "checkpoints" / "best_model.pt").read_bytes() == fold_model.read_bytes()
    _, yv = load_npz(res.run_dir / "data" / "val.npz")
    assert res.metrics["accuracy"] == pytest.approx(accs[best - 1])
    assert len(yv) == cv["folds"][best - 1]["n_val"]


def test_refit_trains_on_all_rows(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    res = train_run(small(kfold=2, refit=True, epochs=2), X, y, schema, tmp_path / "run")
    Xt, yt = load_npz(res.run_dir / "data" / "train.npz")
    _, yv = load_npz(res.run_dir / "data" / "val.npz")
    assert len(yt) == len(y) and len(yv) == round(0.2 * len(y))
    assert res.metrics["val_held_out"] is False and "cv" in res.metrics
    assert torch.load(res.best_checkpoint, weights_only=True)["refit"] is True


def test_init_from_copies_weights_but_not_scaler(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    first = train_run(small(epochs=1), X, y, schema, tmp_path / "a")
    from phoneprice_edge.training.builders import make_model, model_config

    cfg = small()
    m = make_model(model_config(cfg, X.shape[1], 4), np.zeros(X.shape[1]), np.ones(X.shape[1]),
                   init_from=str(first.best_checkpoint))
    src = weights(first.best_checkpoint)
    assert torch.equal(m.state_dict()["head.weight"], src["head.weight"])
    assert torch.equal(m.standardize.mean, torch.zeros(X.shape[1]))
    from phoneprice_edge.errors import CheckpointError
    with pytest.raises(CheckpointError):
        make_model(model_config(small(hidden_dims=[5]), X.shape[1], 4), np.zeros(X.shape[1]),
                   np.ones(X.shape[1]), init_from=str(first.best_checkpoint))


@pytest.mark.gpu
def test_cuda_same_code_path_resumes(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    cfg = small(device="cuda")
    full = train_run(cfg, X, y, schema, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, X, y, schema, tmp_path / "cut", hook=interrupt_at(2))
    resumed = resume_run(tmp_path / "cut")
    a, b = weights(full.best_checkpoint), weights(resumed.best_checkpoint)
    for key in a:
        assert a[key].device.type == "cpu"
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert load_model(full.best_checkpoint).model(torch.from_numpy(X[:3])).shape == (3, 4)
