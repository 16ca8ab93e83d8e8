"""Metrics against scikit-learn, pe-eval outputs (run, other file, exported artifact), plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from phoneprice_edge.cli.common import entry
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.data import prepare, synth_phone, write_table
from phoneprice_edge.evaluate import compute_metrics, evaluate_run, softmax
from phoneprice_edge.train import train_run


def test_metrics_match_sklearn_on_fixed_predictions() -> None:
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 25)
    logits = rng.normal(size=(100, 4)) + 2.0 * np.eye(4)[y] * rng.uniform(0, 1, (100, 1))
    m = compute_metrics(y, logits, ["a", "b", "c", "d"])
    pred = logits.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert 0.3 < m["accuracy"] < 0.95  # neither trivial nor perfect
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["weighted_precision"] == pytest.approx(skm.precision_score(y, pred, average="weighted"))
    assert m["macro_recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["auc_ovr_macro"] == pytest.approx(skm.roc_auc_score(y, softmax(logits), multi_class="ovr"))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert m["report"]["b"]["support"] == 25


def test_auc_is_none_when_a_class_is_missing() -> None:
    y = np.array([0, 0, 1, 1])
    m = compute_metrics(y, np.eye(3)[[0, 1, 1, 1]], ["0", "1", "2"])
    assert m["auc_ovr_macro"] is None and m["accuracy"] == 0.75


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = prepare(synth_phone(rows=300, seed=5))
    cfg = TrainConfig(epochs=3, batch_size=32, hidden_dims=(8,), kfold=2, refit=True, device="cpu")
    return train_run(cfg, ds.X, ds.y, ds.schema, tmp_path_factory.mktemp("r") / "run").run_dir


def test_eval_run_writes_metrics_report_plots(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.cli.evaluate import cmd

    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["--run", str(run)])
    assert exc.value.code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "auc_ovr_macro", "confusion_matrix", "cv"} <= set(metrics)
    assert metrics["cv"]["folds"] and metrics["val_held_out"] is False
    for name in ("training_curves", "confusion_matrix", "roc", "precision_recall"):
        png = run / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (run / "report.md").read_text()
    assert "2-fold cross-validation" in report and "also trained on" in report
    assert "accuracy" in capsys.readouterr().out


def test_eval_other_file(run: Path, tmp_path: Path) -> None:
    df = synth_phone(rows=120, seed=9)
    write_table(df, tmp_path / "other.csv")
    res = evaluate_run(run, data=str(tmp_path / "other.csv"), plots=False)
    assert res.out_dir == run / "eval" / "other"
    assert res.metrics["n"] == 120 and (res.out_dir / "report.md").is_file()


def test_eval_unlabelled_file_is_a_clear_error(run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.cli.evaluate import cmd

    write_table(synth_phone(rows=20, seed=2).drop(columns=["price_range"]), tmp_path / "u.csv")
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["--run", str(run), "--data", str(tmp_path / "u.csv")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "price_range" in err and "Traceback" not in err


def test_eval_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.cli.evaluate import cmd

    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["--run", str(tmp_path)])
    assert exc.value.code == 2 and "not a run folder" in capsys.readouterr().err


def test_eval_exported_onnx_artifact_matches_checkpoint(run: Path) -> None:
    pytest.importorskip("onnxruntime")
    from phoneprice_edge.export.profile import profile_for
    from phoneprice_edge.export.runner import export_profile

    exported = export_profile(run, profile_for("onnx", "fp32"))
    res = evaluate_run(run, artifact=str(exported.out_dir), plots=False)
    ref = json.loads((run / "metrics.json").read_text())
    assert res.metrics["confusion_matrix"] == ref["confusion_matrix"]
    assert res.metrics["model"].startswith("artifact")
