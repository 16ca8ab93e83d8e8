"""Hot reload: a real registry promotion while requests flow (no errors, model id switches), the
admin endpoint's auth rules, a tampered artifact that keeps the old model, and lease semantics."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from artifact import make_onnx_artifact
from fastapi.testclient import TestClient

from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.errors import BackendClosed
from phoneprice_edge.model import ModelConfig, TabularClassifier
from phoneprice_edge.monitor.registry import Registry
from phoneprice_edge.schema import PHONE_SCHEMA
from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.model import load_served_model
from phoneprice_edge.serve.reload import ModelHolder, Reloader, registry_locator
from phoneprice_edge.serve.settings import ServeSettings

PROFILE = "onnx-fp32"
KEY = "s3cret-key"
ROW = {f.name: (f.min + f.max) / 2 if f.kind == "float" else int((f.min + f.max) // 2)
       for f in PHONE_SCHEMA.features}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two real ONNX export folders with different weights (so different model ids)."""
    root = tmp_path_factory.mktemp("exports")
    return [make_onnx_artifact(root / f"m{seed}", seed=seed) for seed in (0, 1)]


def _run(root: Path, export: Path) -> Path:
    """A run folder holding a checkpoint and one export profile (what the registry copies)."""
    cfg = ModelConfig(in_features=PHONE_SCHEMA.n_features, num_classes=PHONE_SCHEMA.n_classes,
                      hidden_dims=(8,))
    save_checkpoint(root / "checkpoints" / "best_model.pt",
                    TabularClassifier(cfg, torch.zeros(cfg.in_features), torch.ones(cfg.in_features)),
                    cfg, PHONE_SCHEMA)
    shutil.copytree(export, root / "export" / PROFILE)
    return root


@pytest.fixture()
def registry(tmp_path: Path, exports: list[Path]) -> tuple[Registry, list[str]]:
    """A registry with v0001 champion (seed 0) and v0002 candidate (seed 1)."""
    reg = Registry(tmp_path / "registry")
    versions = [reg.register(_run(tmp_path / f"run{i}", e)) for i, e in enumerate(exports)]
    reg.promote(versions[0])
    return reg, versions


def _app(reg: Registry, **settings: Any) -> tuple[Any, ModelHolder]:
    locate = registry_locator(reg.root, PROFILE)
    path = locate()
    holder = ModelHolder(load_served_model(path), path)
    app = create_app(holder, ServeSettings(warmup_runs=1, **settings), reloader=Reloader(
        holder, locate, warmup_runs=1))
    return app, holder


@pytest.fixture()
def closing() -> Iterator[list[ModelHolder]]:
    holders: list[ModelHolder] = []
    yield holders
    for h in holders:
        h.close()


def predict_id(c: TestClient, key: str | None = None) -> tuple[int, str | None]:
    r = c.post("/v1/predict", json={"records": [ROW]}, headers={"X-API-Key": key} if key else {})
    return r.status_code, (r.json()["model"]["id"] if r.status_code == 200 else r.text)


def test_promotion_is_picked_up_by_the_poll_without_dropping_requests(
        registry: tuple[Registry, list[str]], closing: list[ModelHolder]) -> None:
    reg, (v1, v2) = registry
    app, holder = _app(reg, reload_interval_s=0.05)
    closing.append(holder)
    old_id = holder.current.model_id
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()
    with TestClient(app) as c:
        def send() -> None:
            while not stop.is_set():
                results.append(predict_id(c))

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.3)
        reg.promote(v2, reason="test")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                r[1] not in (old_id, None) for r in results[-5:]):
            time.sleep(0.05)
        time.sleep(0.2)
        stop.set()
        sender.join(10)
        new_id = c.get("/v1/model").json()["id"]
        metrics = c.get("/metrics").text
    assert results and all(code == 200 for code, _ in results), [r for r in results if r[0] != 200][:3]
    ids = [i for _, i in results]
    assert new_id != old_id and ids[0] == old_id and ids[-1] == new_id
    switch = ids.index(new_id)
    assert set(ids[:switch]) == {old_id} and set(ids[switch:]) == {new_id}  # one clean switch
    assert 'pe_model_reloads_total{result="swapped"} 1.0' in metrics
    assert "pe_model_reload_failed 0.0" in metrics
    assert holder.retired_open() == 0


def test_admin_reload_needs_the_api_key(registry: tuple[Registry, list[str]],
                                        closing: list[ModelHolder]) -> None:
    reg, (v1, v2) = registry
    app, holder = _app(reg, api_key=KEY)
    closing.append(holder)
    with TestClient(app) as c:
        old = predict_id(c, KEY)[1]
        assert c.post("/v1/admin/reload").status_code == 401
        r = c.post("/v1/admin/reload", headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["status"] == "unchanged"
        reg.promote(v2)
        r = c.post("/v1/admin/reload", headers={"X-API-Key": KEY})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "swapped" and body["previous"] == old
        assert body["model_id"] != old and predict_id(c, KEY) == (200, body["model_id"])
        assert c.get("/v1/model", headers={"X-API-Key": KEY}).json()["id"] == body["model_id"]


def test_admin_reload_is_refused_without_a_key_unless_allowed(
        registry: tuple[Registry, list[str]], closing: list[ModelHolder], served: Any) -> None:
    reg, (v1, v2) = registry
    app, holder = _app(reg)
    closing.append(holder)
    with TestClient(app) as c:
        r = c.post("/v1/admin/reload")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    app, holder = _app(reg, allow_unauthenticated_reload=True)
    closing.append(holder)
    with TestClient(app) as c:
        assert c.post("/v1/admin/reload").json()["status"] == "unchanged"
    with TestClient(create_app(served, ServeSettings(allow_unauthenticated_reload=True))) as c:
        r = c.post("/v1/admin/reload")
        assert r.status_code == 409 and r.json()["error"]["code"] == "reload_unavailable"


def test_a_tampered_artifact_keeps_the_old_model(registry: tuple[Registry, list[str]],
                                                 closing: list[ModelHolder],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    reg, (v1, v2) = registry
    onnx = reg.path(v2) / "export" / PROFILE / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-16] + b"\0" * 16)  # sha256 no longer matches the manifest
    app, holder = _app(reg, allow_unauthenticated_reload=True, reload_interval_s=0.05)
    closing.append(holder)
    old = holder.current.model_id
    with caplog.at_level(logging.ERROR, "phoneprice_edge.serve.reload"), TestClient(app) as c:
        reg.promote(v2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "pe_model_reload_failed 1.0" not in (
                c.get("/metrics").text):
            time.sleep(0.05)
        time.sleep(0.3)  # the poll sees the same broken artifact again: not retried, no swap
        assert predict_id(c) == (200, old)
        polled = c.get("/metrics").text
        r = c.post("/v1/admin/reload", params={"force": "true"})  # forced: retried, fails again
        assert r.status_code == 409 and r.json()["error"]["code"] == "reload_failed"
        assert old in r.json()["error"]["message"]
        assert predict_id(c) == (200, old)
        metrics = c.get("/metrics").text
    assert 'pe_model_reloads_total{result="failed"} 1.0' in polled
    assert 'pe_model_reloads_total{result="failed"} 2.0' in metrics
    assert "pe_model_reload_failed 1.0" in metrics
    assert any("reload failed" in rec.getMessage() for rec in caplog.records)


def test_a_retired_model_stays_open_until_its_last_request_ends(exports: list[Path]) -> None:
    holder = ModelHolder(load_served_model(exports[0]))
    new = load_served_model(exports[1])
    with holder.lease() as old:
        assert holder.swap(new) is old
        assert holder.current is new and holder.retired_open() == 1
        old.predict(torch.zeros(1, PHONE_SCHEMA.n_features).numpy())  # still usable
    assert holder.retired_open() == 0
    with pytest.raises(BackendClosed):  # closed once the lease ended
        old.predict(torch.zeros(1, PHONE_SCHEMA.n_features).numpy())
    holder.close()


@pytest.mark.parametrize("args,msg", [([], "exactly one of"),
                                      (["--artifact", "a", "--registry", "."], "exactly one of"),
                                      (["--registry", "."], "needs --profile")])
def test_cli_needs_one_model_source(args: list[str], msg: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.cli.common import entry
    from phoneprice_edge.cli.serve import cmd

    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    assert exc.value.code == 2 and msg in capsys.readouterr().err


def test_a_champion_without_the_profile_is_reported_once(registry: tuple[Registry, list[str]],
                                                         closing: list[ModelHolder]) -> None:
    reg, (v1, v2) = registry
    shutil.rmtree(reg.path(v2) / "export" / PROFILE)
    app, holder = _app(reg, reload_interval_s=0.05)
    closing.append(holder)
    old = holder.current.model_id
    with TestClient(app) as c:
        reg.promote(v2)
        time.sleep(0.5)  # ~10 polls
        assert predict_id(c) == (200, old)
        metrics = c.get("/metrics").text
    assert 'pe_model_reloads_total{result="failed"} 1.0' in metrics
