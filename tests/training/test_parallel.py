"""K-fold folds in worker processes: bitwise equal to serial, error messages, when it stays serial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import CheckpointError, ConfigError
from phoneprice_edge.train import resume_run, train_run
from phoneprice_edge.training.parallel import n_workers


def small(**kw: object) -> TrainConfig:
    # dropout: a config the stacked trainer does not cover, so the folds are fitted one by one
    # (serially or in kfold_workers processes), the path these tests are about
    base = {"epochs": 3, "batch_size": 32, "hidden_dims": [8], "device": "cpu", "kfold": 3,
            "feature_select": "l1_relaxed", "stage2_epochs": 2, "select_threshold": 0.03,
            "dropout_p": 0.1}
    return TrainConfig().with_overrides(**{**base, **kw})


def fold_weights(run: Path, i: int) -> dict[str, torch.Tensor]:
    return torch.load(run / "folds" / f"fold_{i}" / "model.pt", weights_only=True)["state_dict"]


def test_two_workers_bitwise_equal_to_serial(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    serial = train_run(small(kfold_workers=1), X, y, schema, tmp_path / "serial")
    par = train_run(small(kfold_workers=2), X, y, schema, tmp_path / "par")
    s_cv, p_cv = serial.metrics["cv"], par.metrics["cv"]
    assert [f["fold"] for f in p_cv["folds"]] == [1, 2, 3]
    for key in ("accuracy", "macro_f1", "epochs", "selected_features"):
        assert [f[key] for f in p_cv["folds"]] == [f[key] for f in s_cv["folds"]], key
    assert p_cv["accuracy_mean"] == s_cv["accuracy_mean"]
    for i in (1, 2, 3):
        a, b = fold_weights(tmp_path / "serial", i), fold_weights(tmp_path / "par", i)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), f"fold {i}"
    assert (tmp_path / "par" / "checkpoints" / "best_model.pt").is_file()


def test_resume_trains_only_unfinished_folds_in_workers(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    ref = train_run(small(kfold_workers=1), X, y, schema, tmp_path / "ref")
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # a hook forces the serial path; stop inside fold 2
        train_run(small(kfold_workers=2), X, y, schema, run,
                  hook=lambda label, epoch: _stop(label, epoch))
    assert (run / "folds" / "fold_1" / "result.json").is_file()
    assert not (run / "folds" / "fold_2" / "result.json").exists()
    assert (run / "folds" / "fold_2" / "checkpoints" / "last.pt").is_file()
    res = resume_run(run)  # folds 2 (from its last.pt) and 3 (from scratch) in 2 workers
    skip = {"seconds", "samples"}  # time, and samples trained in this process only
    got, want = res.metrics["cv"]["folds"], ref.metrics["cv"]["folds"]
    assert [{k: v for k, v in f.items() if k not in skip} for f in got] == \
        [{k: v for k, v in f.items() if k not in skip} for f in want]
    for i in (1, 2, 3):
        a, b = fold_weights(tmp_path / "ref", i), fold_weights(run, i)
        assert all(torch.equal(a[k], b[k]) for k in a), f"fold {i}"


def _stop(label: str, epoch: int) -> None:
    if label.startswith("fold 2") and epoch == 2:
        raise KeyboardInterrupt


def test_worker_error_is_the_same_one_line_error(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    bad = tmp_path / "missing.pt"
    with pytest.raises(CheckpointError) as serial:
        train_run(small(kfold_workers=1), X, y, schema, tmp_path / "s", init_from=str(bad))
    with pytest.raises(CheckpointError) as par:
        train_run(small(kfold_workers=2), X, y, schema, tmp_path / "p", init_from=str(bad))
    assert str(par.value) == str(serial.value)
    assert "\n" not in str(par.value) and par.value.__cause__ is None
    assert not (tmp_path / "p" / "folds" / "fold_1" / "result.json").exists()


def test_when_it_stays_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = small(kfold=5)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for cores, want in ((3, 3), (16, 5), (None, 1)):  # automatic: min(kfold, cores)
        monkeypatch.setattr("phoneprice_edge.training.parallel.os.cpu_count", lambda c=cores: c)
        assert n_workers(cfg, 5, hook=None, distributed=False, device=cpu) == want
    monkeypatch.undo()
    assert n_workers(cfg.with_overrides(kfold_workers=2), 5, hook=None, distributed=False,
                     device=cpu) == 2
    assert n_workers(cfg.with_overrides(kfold_workers=8), 3, hook=None, distributed=False,
                     device=cpu) == 3  # never more workers than pending folds
    assert n_workers(cfg.with_overrides(kfold_workers=2), 1, hook=None, distributed=False,
                     device=cpu) == 1
    assert n_workers(cfg.with_overrides(kfold_workers=1), 5, hook=None, distributed=False,
                     device=cpu) == 1
    for kw in ({"hook": print, "distributed": False, "device": cpu},
               {"hook": None, "distributed": True, "device": cpu},
               {"hook": None, "distributed": False, "device": cuda}):
        assert n_workers(cfg.with_overrides(kfold_workers=2), 5, **kw) == 1
    with pytest.raises(ConfigError, match="kfold_workers"):
        cfg.with_overrides(kfold_workers=-1)


def test_result_json_written_per_fold(tmp_path: Path, phone) -> None:
    X, y, schema = phone
    train_run(small(kfold_workers=2), X, y, schema, tmp_path / "run")
    for i in (1, 2, 3):
        r = json.loads((tmp_path / "run" / "folds" / f"fold_{i}" / "result.json").read_text())
        assert r["fold"] == i and r["epochs"] == 5
