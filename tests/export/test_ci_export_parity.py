"""CI gate: pe-train -> pe-export --all -> pe-parity --all through the real console scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from phoneprice_edge.targets import TARGETS

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["default", "real"])
def test_every_cpu_profile_exports_and_passes_parity(source: str, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    run = tmp_path / "run"
    data = [] if source == "default" else ["--data", str(request.getfixturevalue("real_train_csv"))]
    r = _run("pe-train", *data, "--epochs", "60", "--out", str(run))
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run("pe-export", "--run", str(run), "--all")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    reason = TARGETS["tensorrt"].unavailable_reason("fp16")
    lines = r.stdout.splitlines()
    if reason:  # no GPU/TensorRT here: the profile is reported as skipped, with the reason
        assert f"tensorrt-fp16: skipped ({reason})" in lines, r.stdout
    else:
        assert any(ln.startswith(f"tensorrt-fp16: {run / 'export' / 'tensorrt-fp16'} (")
                   for ln in lines), r.stdout
    r = _run("pe-parity", "--run", str(run), "--all")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    reports = {p.stem: json.loads(p.read_text()) for p in (run / "parity").glob("*.json")}
    for name in ("onnx-fp32", "onnx-fp16", "onnx-int8", "torchscript-fp32", "torchscript-int8",
                 "openvino-fp32", "openvino-fp16", "openvino-int8"):
        assert reports[name]["passed"], (name, reports[name]["failures"])
    print(r.stdout)
