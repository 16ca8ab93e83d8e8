"""pe-monitor drift / status / promote through the real entry point: exit codes and report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monitor_helpers import shifted, xy

from phoneprice_edge.cli.common import entry
from phoneprice_edge.cli.monitor import cmd
from phoneprice_edge.data import synth_phone
from phoneprice_edge.monitor.reference import predict_classes
from phoneprice_edge.monitor.store import SQLPredictionSink
from phoneprice_edge.serve.hooks import PredictionBatch

main = entry(cmd)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def log_batch(X: np.ndarray, pred: np.ndarray, ts: float, rid: str) -> PredictionBatch:
    return PredictionBatch(features=X, probabilities=np.eye(4, dtype=np.float32)[pred],
                           predicted=pred, model_id="v1", timestamp=ts, request_id=rid)


def test_drift_exit_codes_and_reports(small_run: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    ok = tmp_path / "ok.csv"
    synth_phone(300, 50).to_csv(ok, index=False)
    code, out, _ = run(["drift", "--run", str(small_run), "--log", str(ok), "--out", str(tmp_path / "r1")], capsys)
    assert code == 0 and "no drift" in out
    assert {p.name for p in (tmp_path / "r1").iterdir()} == {"drift.json", "drift.md", "drift.png"}
    bad = tmp_path / "bad.parquet"
    shifted(synth_phone(300, 51)).to_parquet(bad)
    code, out, _ = run(["drift", "--run", str(small_run), "--log", str(bad), "--out", str(tmp_path / "r2"),
                        "--no-plot"], capsys)
    assert code == 3 and "DRIFT" in out and "ram" in out
    rep = json.loads((tmp_path / "r2" / "drift.json").read_text())
    assert rep["alarm"] and "feedback" in rep  # the table carries labels: accuracy is reported


def test_drift_from_sql_log_with_feedback(small_run: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    df = shifted(synth_phone(400, 60), 1.6)
    X, y = xy(df)
    X = np.minimum(X, 4000)
    pred = predict_classes(small_run, X.astype(np.float64))
    db = tmp_path / "log.db"
    with SQLPredictionSink(db, flush_interval_s=0.01) as sink:
        for i in range(0, 400, 8):
            sink.submit(log_batch(X[i:i + 8], pred[i:i + 8], 1000.0 + i * 10, f"q{i}"))
        sink.flush(10)
    fb = pd.DataFrame({"request_id": [f"q{i - i % 8}" for i in range(400)], "row": [i % 8 for i in range(400)],
                       "price_range": y})
    fb.to_csv(tmp_path / "fb.csv", index=False)
    code, out, _ = run(["drift", "--run", str(small_run), "--log", f"sqlite:///{db}", "--window", "300",
                        "--feedback", str(tmp_path / "fb.csv"), "--out", str(tmp_path / "r"), "--no-plot"], capsys)
    rep = json.loads((tmp_path / "r" / "drift.json").read_text())
    assert code == 3 and rep["n_rows"] == 300 and rep["feedback"]["n"] == 300
    assert rep["feedback"]["alarm"] and len(rep["feedback"]["windows"]) == 2  # 1000 s..4990 s in 3600 s buckets
    assert rep["feedback"]["accuracy"] == pytest.approx(float((pred[100:] == y[100:]).mean()))


def test_usage_errors_exit_2(small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = tmp_path / "t.toml"
    t.write_text("nope = 1\n")
    log = tmp_path / "a.csv"
    synth_phone(50, 1).to_csv(log, index=False)
    code, _, err = run(["drift", "--run", str(small_run), "--log", str(log), "--thresholds", str(t)], capsys)
    assert code == 2 and "unknown key(s) nope" in err and "Traceback" not in err
    code, _, err = run(["drift", "--run", str(small_run), "--log", str(tmp_path / "none.csv")], capsys)
    assert code == 1 and "not found" in err
    code, _, err = run(["drift", "--run", str(small_run), "--log", str(log), "--since", "soon"], capsys)
    assert code == 2 and "--since" in err
