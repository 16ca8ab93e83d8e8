"""CI gate: pe-train -> pe-export --all -> pe-parity --all through the real console scripts, every
built-in profile (export_profiles/) this host can run; the others reported as skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from profile_cases import runnable_here

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
    runnable, skipped = runnable_here()
    lines = r.stdout.splitlines()
    for name, why in skipped.items():  # e.g. tensorrt-*: no GPU/TensorRT here, with the reason
        assert f"{name}: skipped ({why})" in lines, r.stdout
    for name in runnable:
        assert any(ln.startswith(f"{name}: {run / 'export' / name} (") for ln in lines), r.stdout
    r = _run("pe-parity", "--run", str(run), "--all")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    reports = {p.stem: json.loads(p.read_text()) for p in (run / "parity").glob("*.json")}
    assert sorted(reports) == sorted(runnable), r.stdout
    for name in runnable:
        assert reports[name]["passed"], (name, reports[name]["failures"])
    print(r.stdout)
