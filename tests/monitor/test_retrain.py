"""Gated retraining: better candidates are promoted; a broken or worse one is refused, champion kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from monitor_helpers import FEATS as S_FEATS
from monitor_helpers import shifted

from phoneprice_edge.cli.common import entry
from phoneprice_edge.cli.monitor import cmd
from phoneprice_edge.data import synth_phone
from phoneprice_edge.export.manifest import read_manifest, update_manifest
from phoneprice_edge.export.stages import StageRun, artifact_dirs, stage_export
from phoneprice_edge.io_utils import sha256_file
from phoneprice_edge.monitor import stages as S
from phoneprice_edge.monitor.registry import Registry, current_artifact
from phoneprice_edge.monitor.retrain import (
    RetrainOptions,
    Stages,
    _candidate_accuracy,
    decide,
    retrain,
)

PASS = {"artifact": "x/onnx-fp32", "passed": True}


def test_decide_gates() -> None:
    assert decide(0.80, 0.80, [PASS]) == (True, [])
    ok, why = decide(0.80, 0.79, [PASS])
    assert not ok and "below the champion" in why[0]
    assert decide(0.80, 0.79, [PASS], tolerance=0.02)[0]
    ok, why = decide(0.80, 0.90, [PASS, {"artifact": "x/openvino-fp32", "passed": False, "error": "boom"}])
    assert not ok and why == ["parity failed for openvino-fp32: boom"]
    assert not decide(0.8, 0.9, [])[0]
    ok, why = decide(0.8, 0.9, [PASS], latency=(10.0, 25.0), max_latency_ratio=2.0)
    assert not ok and "latency" in why[0]
    assert not decide(0.8, 0.9, [PASS], errors=["export failed: x"])[0]


def test_candidate_accuracy_is_read_from_metrics(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(S, "evaluate", lambda run, X, y: calls.append(run) or 0.5)
    xy = (np.zeros((2, 20)), np.zeros(2))
    (tmp_path / "metrics.json").write_text(json.dumps({"heldout_accuracy": 0.875}))
    assert _candidate_accuracy(tmp_path, xy) == 0.875 and calls == []  # stored by train_candidate
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
    assert _candidate_accuracy(tmp_path, xy) == 0.5 and calls == [tmp_path]  # a stage that did not


@pytest.fixture()
def setup(small_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    new = tmp_path / "new.csv"
    shifted(synth_phone(1000, 5)).to_csv(new, index=False)
    return run, new


FAST = {"epochs": 10, "learning_rate": 3e-3}  # TrainConfig overrides: few epochs


@pytest.mark.slow
def test_shifted_data_promotes_a_better_model(setup: tuple[Path, Path], tmp_path: Path) -> None:
    run, new = setup
    reg = tmp_path / "reg"
    res = retrain(RetrainOptions(run=run, data=str(new), registry=reg, out=tmp_path / "cand", train_overrides=FAST))
    assert res["promoted"], res["reasons"]
    assert res["candidate_accuracy"] > res["champion_accuracy"] + 0.05
    assert Registry(reg).champion() == "v0002"
    assert current_artifact(reg, "onnx-fp32") == reg / "versions" / "v0002" / "export" / "onnx-fp32"
    assert (tmp_path / "cand" / "parity" / "onnx-fp32.json").is_file()
    assert (tmp_path / "cand" / "bench" / "report.json").is_file()


def corrupting_export(ctx: StageRun) -> None:
    """The real export stage, then one weight of the ONNX graph perturbed (manifest re-hashed, so it loads)."""
    import onnx
    from onnx import numpy_helper

    stage_export(ctx)
    for art in artifact_dirs(ctx):
        m = read_manifest(art).to_dict()
        name = next(n for n in m["files"] if n.endswith(".onnx"))
        model = onnx.load(str(art / name))
        init = next(i for i in model.graph.initializer if numpy_helper.to_array(i).size > 16)
        arr = numpy_helper.to_array(init).copy()
        arr.flat[0] += 0.5
        init.CopyFrom(numpy_helper.from_array(arr, init.name))
        onnx.save(model, str(art / name))
        update_manifest(art, files={**m["files"], name: sha256_file(art / name)})


@pytest.mark.slow
def test_candidate_failing_parity_is_refused(setup: tuple[Path, Path], tmp_path: Path) -> None:
    run, new = setup
    reg = tmp_path / "reg"
    res = retrain(RetrainOptions(run=run, data=str(new), registry=reg, out=tmp_path / "cand", train_overrides=FAST,
                                 bench=False), stages=Stages().with_stage("export", corrupting_export))
    assert not res["promoted"] and res["candidate_accuracy"] > res["champion_accuracy"]
    assert any("parity failed for onnx-fp32" in r for r in res["reasons"])
    (rep,) = res["parity"]
    assert "error" not in rep and rep["failures"] and rep["max_abs_diff"] > 1e-3  # a numerical failure
    r = Registry(reg)
    assert r.champion() == "v0001" and r.info("v0002")["status"] == "rejected"


@pytest.mark.slow
def test_candidate_losing_accuracy_is_refused_by_the_cli(setup: tuple[Path, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = setup
    df = synth_phone(800, 8)
    df["price_range"] = np.random.default_rng(0).permutation(df["price_range"].to_numpy())
    df.to_csv(tmp_path / "garbage.csv", index=False)
    synth_phone(400, 9).to_csv(tmp_path / "holdout.csv", index=False)
    reg = tmp_path / "reg"
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["retrain", "--run", str(run), "--data", str(tmp_path / "garbage.csv"),
                    "--holdout", str(tmp_path / "holdout.csv"), "--registry", str(reg),
                    "--out", str(tmp_path / "cand"), "--epochs", "10", "--no-bench"])
    out = capsys.readouterr().out
    assert exc.value.code == 1 and "REFUSED" in out and "below the champion" in out
    assert Registry(reg).champion() == "v0001"


@pytest.mark.parametrize("full", [False, True], ids=["fine-tune", "full"])
def test_candidate_is_a_trainer_run_folder(small_run: Path, tmp_path: Path, full: bool) -> None:
    from phoneprice_edge.config import load_train_config
    from phoneprice_edge.train import load_npz

    df = shifted(synth_phone(400, 11))
    X, y = df[S_FEATS].to_numpy(np.float32), df["price_range"].to_numpy(np.int64)
    out = S.train_candidate(small_run, tmp_path / "cand", (X[:300], y[:300]), (X[300:], y[300:]),
                            S.TrainPlan(full=full, overrides={"epochs": 3}, seed=1))
    for part in ("config.toml", "schema.json", "metrics.json", "data/all.npz", "data/train.npz",
                 "data/val.npz", "checkpoints/best_model.pt", "checkpoints/last.pt",
                 "monitor/reference.json"):
        assert (out / part).is_file(), part
    cfg = load_train_config(out / "config.toml")
    champ = load_train_config(small_run / "config.toml")
    assert cfg.epochs == 3 and cfg.seed == 1 and cfg.kfold == 0
    assert cfg.hidden_dims == champ.hidden_dims  # the champion's recipe
    assert cfg.learning_rate == (champ.learning_rate if full else 3e-3)
    n_all = len(load_npz(out / "data" / "all.npz")[1])
    n_old = len(load_npz(small_run / "data" / "train.npz")[1])
    assert n_all == (n_old + 300 if full else 300 + 150)  # fine-tune: new rows + 50 % replay
    m = json.loads((out / "metrics.json").read_text())
    assert m["retrain"]["mode"] == ("full" if full else "incremental")
    assert (m["retrain"]["init_from"] is None) == full
    assert 0.0 <= m["heldout_accuracy"] <= 1.0 and "confusion_matrix" in m


def test_profiles_are_checked_before_any_work(setup: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad --profile stops retraining before the registry, the split or training: exit 2 for an
    unknown name, 1 for a target this host cannot export (its reason named)."""
    from phoneprice_edge.targets import TARGETS

    run, new = setup
    monkeypatch.setattr(S, "train_candidate", lambda *a, **k: pytest.fail("trained"))
    args = ["retrain", "--run", str(run), "--data", str(new), "--registry", str(tmp_path / "reg"),
            "--out", str(tmp_path / "cand")]
    with pytest.raises(SystemExit) as exc:
        entry(cmd)([*args, "--profile", "onnx-fp32", "--profile", "no-such-profile"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown export profile 'no-such-profile'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reg").exists() and not (tmp_path / "cand").exists()
    why = TARGETS["tensorrt"].unavailable_reason("fp16")
    if why is None:
        return
    with pytest.raises(SystemExit) as exc:
        entry(cmd)([*args, "--profile", "tensorrt-fp16"])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and f"cannot export tensorrt-fp16: {why}" in err
    assert not (tmp_path / "reg").exists() and not (tmp_path / "cand").exists()
