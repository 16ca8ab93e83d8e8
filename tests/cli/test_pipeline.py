"""The README's main job, `pe pipeline`, end to end through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from profile_cases import runnable_here

REPO = Path(__file__).resolve().parents[2]
PE = Path(sys.executable).with_name("pe")


@pytest.mark.slow
def test_pipeline_writes_every_stage_output(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.run([str(PE), "pipeline", "--out", str(run), "--quiet"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for rel in ("config.toml", "schema.json", "checkpoints/best_model.pt", "checkpoints/last.pt",
                "metrics.json", "plots", "parity/report.md", "bench/report.json",
                "bench/report.md", "bench/latency.png"):
        assert (run / rel).exists(), rel
    exported = sorted(p.name for p in (run / "export").iterdir())
    runnable, skipped = runnable_here()  # every built-in profile this host can run
    assert exported == sorted(runnable), proc.stdout[-3000:]
    for name, why in skipped.items():
        assert f"   {name}: skipped ({why})" in proc.stdout.splitlines()
    for name in exported:
        rep = json.loads((run / "parity" / f"{name}.json").read_text())
        assert rep["passed"] is True, (name, rep)
    bench = json.loads((run / "bench" / "report.json").read_text())
    timed = {r["artifact"] for r in bench["results"]}
    assert set(exported) <= timed
    assert all(r["p50_us"] > 0 and r["throughput_rows_s"] > 0 for r in bench["results"])
    assert "accuracy" in json.loads((run / "metrics.json").read_text())


def test_stage_data_prints_the_summary_and_refuses_an_unusable_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.cli.pipeline import PipelineContext, stage_data
    from phoneprice_edge.data import synth_phone
    from phoneprice_edge.errors import DataError

    df = synth_phone(40, 1)
    df.to_csv(tmp_path / "ok.csv", index=False)
    stage_data(PipelineContext(tmp_path / "run", str(tmp_path / "ok.csv"), None, None, True))
    out = capsys.readouterr().out
    assert "schema:  built in (phone)" in out and "result:  usable" in out
    df.assign(ram=float("nan")).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad\.csv: 1 problem\(s\) make the table unusable"):
        stage_data(PipelineContext(tmp_path / "run", str(tmp_path / "bad.csv"), None, None, True))
    assert "result:  UNUSABLE" in capsys.readouterr().out
