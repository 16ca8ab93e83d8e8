"""The README's main job, `pe pipeline`, end to end through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    for name in ("onnx-fp32", "onnx-int8", "openvino-fp32", "torchscript-fp32", "cpp-fp32"):
        assert name in exported
    for name in exported:
        rep = json.loads((run / "parity" / f"{name}.json").read_text())
        assert rep["passed"] is True, (name, rep)
    bench = json.loads((run / "bench" / "report.json").read_text())
    timed = {r["artifact"] for r in bench["results"]}
    assert set(exported) <= timed
    assert all(r["p50_us"] > 0 and r["throughput_rows_s"] > 0 for r in bench["results"])
    assert "accuracy" in json.loads((run / "metrics.json").read_text())
