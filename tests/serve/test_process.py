"""pe-serve as a real uvicorn process on loopback: serves, shuts down on SIGTERM with exit 0,
refuses a tampered artifact with exit 1 and a one-line message."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PE_SERVE = [sys.executable, "-c", "from phoneprice_edge.cli import serve_cli; serve_cli()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()[1].decode()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.mark.slow
def test_real_server_serves_and_stops_gracefully(onnx_artifact: Path, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "preds.jsonl"
    proc = subprocess.Popen([*PE_SERVE, "--artifact", str(onnx_artifact), "--port", str(port),
                             "--log-predictions", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_ready(proc, url)
        names = httpx.get(url + "/v1/model").json()["features"]
        r = httpx.post(url + "/v1/predict", json={"columns": names, "data": [[1] * len(names)]})
        assert r.status_code == 422 and r.json()["error"]["issues"][0]["index"] == 0
        row = {"records": [dict.fromkeys(names, 1) | {"battery_power": 900, "clock_speed": 1.0,
                                                      "int_memory": 8, "m_dep": 0.5,
                                                      "mobile_wt": 150, "px_width": 900,
                                                      "ram": 2000, "sc_h": 12, "talk_time": 10}]}
        r = httpx.post(url + "/v1/predict", json=row)
        assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = proc.wait(timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert rc == 0, err
    assert elapsed < 5, f"shutdown took {elapsed:.1f} s"
    access = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [a["status"] for a in access if a["path"] == "/v1/predict"] == [422, 200]
    assert all({"ts", "request_id", "duration_ms", "method"} <= set(a) for a in access)
    assert len(log.read_text().splitlines()) == 1  # the sink was drained at shutdown


def test_tampered_artifact_exits_1_with_one_line(onnx_artifact: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tampered"
    shutil.copytree(onnx_artifact, bad)
    with open(bad / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    r = subprocess.run([*PE_SERVE, "--artifact", str(bad), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "sha256 mismatch" in lines[0]
    missing = subprocess.run([*PE_SERVE, "--artifact", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr


def test_taken_port_and_unknown_host_exit_1_with_one_line(onnx_artifact: Path) -> None:
    """Exit 1 (a runtime failure), not uvicorn's 3 (the drift code), with one line (issue 18)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([*PE_SERVE, "--artifact", str(onnx_artifact), "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "address already in use" in r.stderr.lower(), r.stderr
    r = subprocess.run([*PE_SERVE, "--artifact", str(onnx_artifact), "--host",
                        "no-such-host.invalid"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "no-such-host.invalid" in r.stderr, r.stderr
