"""Every endpoint and every bad-input case of the API, through FastAPI's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.hooks import JsonlSink
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.settings import ServeSettings

JSON = {"Content-Type": "application/json"}


def good_record(served: ServedModel, **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for f in served.schema.features:
        mid = (f.min + f.max) / 2
        rec[f.name] = round(mid, 1) if f.kind == "float" else int(mid)
    rec.update(over)
    return rec


@pytest.fixture()
def client(served: ServedModel) -> Iterator[TestClient]:
    with TestClient(create_app(served, ServeSettings(max_batch=64, max_body_bytes=64 * 1024))) as c:
        yield c


def expect_error(r: Any, status: int, code: str, index: int | None = None,
                 field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    if index is not None or field is not None:
        assert any(i["index"] == index and i["field"] == field for i in err["issues"]), err
    return err


def test_predict_one_record_matches_backend(client: TestClient, served: ServedModel) -> None:
    rec = good_record(served)
    r = client.post("/v1/predict", json={"records": [rec]})
    assert r.status_code == 200, r.text
    body = r.json()
    x = np.array([[rec[n] for n in served.schema.feature_names]], dtype=np.float32)
    probs, idx = served.predict(x)
    (pred,) = body["predictions"]
    assert pred["class_index"] == int(idx[0])
    assert pred["class_name"] == served.classes[int(idx[0])]
    np.testing.assert_allclose(pred["probabilities"], probs[0], rtol=1e-6)
    assert abs(sum(pred["probabilities"]) - 1) < 1e-5
    assert body["model"]["id"] == served.model_id and len(body["model"]["id"]) == 12
    assert body["model"]["version"] == served.version
    assert body["classes"] == served.classes and body["warnings"] == []
    assert r.headers["x-request-id"] == body["request_id"]


def test_records_and_columnar_agree(client: TestClient, served: ServedModel) -> None:
    rng = np.random.default_rng(1)
    recs = [good_record(served, ram=int(v)) for v in rng.integers(256, 4000, size=10)]
    by_rec = client.post("/v1/predict", json={"records": recs}).json()["predictions"]
    cols = served.schema.feature_names
    data = [[r[c] for c in cols] for r in recs]
    r = client.post("/v1/predict", json={"columns": cols, "data": data})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == by_rec
    r = client.post("/v1/predict", json={"columns": cols[::-1], "data": [d[::-1] for d in data]})
    expect_error(r, 422, "invalid_input", None, "columns")
    assert len(by_rec) == 10
    assert [p["class_index"] for p in by_rec] == [int(np.argmax(p["probabilities"])) for p in by_rec]
    _, idx = served.predict(np.array(data, dtype=np.float32))
    assert [p["class_index"] for p in by_rec] == idx.tolist()


def test_request_id_is_echoed(client: TestClient, served: ServedModel) -> None:
    r = client.post("/v1/predict", json={"records": [good_record(served)]},
                    headers={"X-Request-ID": "abc-123"})
    assert r.json()["request_id"] == "abc-123" and r.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize(("mutate", "field", "code"), [
    (lambda r: r.pop("ram"), "ram", "missing"),
    (lambda r: r.update(colour=1), "colour", "unknown"),
    (lambda r: r.update(ram="2000"), "ram", "must be a number, got string"),
    (lambda r: r.update(ram=None), "ram", "must be a number, got null"),
    (lambda r: r.update(wifi=True), "wifi", "must be a number, got boolean"),
    (lambda r: r.update(ram=[1]), "ram", "must be a number, got array"),
    (lambda r: r.update(ram=99999), "ram", "out of range"),
    (lambda r: r.update(blue=0.5), "blue", "whole number"),
    (lambda r: r.update(px_width=1e300), "px_width", "finite float32"),
])
def test_bad_field_names_record_and_field(client: TestClient, served: ServedModel, mutate: Any,
                                          field: str, code: str) -> None:
    recs = [good_record(served) for _ in range(3)]
    mutate(recs[2])
    r = client.post("/v1/predict", json={"records": recs})
    err = expect_error(r, 422, "invalid_input", 2, field)
    assert code in err["message"] and "record 2" in err["message"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_infinity_are_rejected_naming_the_field(client: TestClient, served: ServedModel,
                                                        literal: bytes) -> None:
    rec = json.dumps({"records": [good_record(served), good_record(served, ram=-7)]})
    body = rec.replace("-7", literal.decode()).encode()
    expect_error(client.post("/v1/predict", content=body, headers=JSON), 422, "invalid_input", 1, "ram")


def test_columnar_bad_inputs(client: TestClient, served: ServedModel) -> None:
    names = served.schema.feature_names
    row = [good_record(served)[n] for n in names]
    expect_error(client.post("/v1/predict", json={"columns": names[:-1], "data": [row[:-1]]}),
                 422, "invalid_input", None, names[-1])
    expect_error(client.post("/v1/predict", json={"columns": [*names, "x"], "data": [row + [1]]}),
                 422, "invalid_input", None, "x")
    err = expect_error(client.post("/v1/predict", json={"columns": [*names, names[0]],
                                                        "data": [row + [row[0]]]}),
                       422, "invalid_input", None, names[0])
    assert "more than once" in err["message"]
    expect_error(client.post("/v1/predict", json={"columns": names, "data": [row, row[:5]]}),
                 422, "invalid_input", 1, None)
    bad = list(row)
    bad[names.index("ram")] = "lots"
    expect_error(client.post("/v1/predict", json={"columns": names, "data": [row, bad]}),
                 422, "invalid_input", 1, "ram")
    bad[names.index("ram")] = 1e6
    expect_error(client.post("/v1/predict", json={"columns": names, "data": [row, row, bad]}),
                 422, "invalid_input", 2, "ram")


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2", b"\xff\xfe", b"{\"records\": [}"])
def test_malformed_json_is_400(client: TestClient, body: bytes) -> None:
    expect_error(client.post("/v1/predict", content=body, headers=JSON), 400, "malformed_json")


@pytest.mark.parametrize("payload", [[], 3, "x", {"records": []}, {"records": {}},
                                     {"rows": []}, {"records": [], "extra": 1}, {"records": [1]},
                                     {"columns": "ram", "data": []}, {"columns": [], "data": {}}])
def test_wrong_body_shapes_are_4xx(client: TestClient, payload: Any) -> None:
    r = client.post("/v1/predict", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("invalid_body", "invalid_input")


def test_batch_and_body_limits_are_413(client: TestClient, served: ServedModel) -> None:
    rec = good_record(served)
    expect_error(client.post("/v1/predict", json={"records": [rec] * 65}), 413, "batch_too_large")
    big = b'{"records": [' + b" " * (70 * 1024) + b"]}"
    expect_error(client.post("/v1/predict", content=big, headers=JSON), 413, "body_too_large")
    chunked = iter([b'{"records": [', b" " * (70 * 1024), b"]}"])  # no Content-Length
    expect_error(client.post("/v1/predict", content=chunked, headers=JSON), 413, "body_too_large")


def test_out_of_range_warn_mode_predicts_and_warns(served: ServedModel) -> None:
    app = create_app(served, ServeSettings(out_of_range="warn"))
    with TestClient(app) as c:
        r = c.post("/v1/predict", json={"records": [good_record(served),
                                                    good_record(served, ram=5000)]})
        assert r.status_code == 200, r.text
        (w,) = r.json()["warnings"]
        assert w["index"] == 1 and w["field"] == "ram" and "out of range" in w["message"]
        assert "pe_predict_input_warnings_total 1.0" in c.get("/metrics").text


def test_health_ready_model_and_unknown_routes(client: TestClient, served: ServedModel) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    info = client.get("/v1/model").json()
    assert info["id"] == served.model_id and info["target"] == "onnx"
    assert info["features"] == served.schema.feature_names
    assert info["schema"]["features"][0]["min"] is not None
    assert info["limits"]["max_batch"] == 64
    expect_error(client.get("/nope"), 404, "not_found")
    expect_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_readyz_is_503_before_warm_up(served: ServedModel) -> None:
    c = TestClient(create_app(served))  # no context manager: the lifespan has not run
    assert c.get("/readyz").status_code == 503
    assert c.get("/healthz").status_code == 200


def test_metrics_count_requests_errors_batches_and_classes(client: TestClient,
                                                           served: ServedModel) -> None:
    client.post("/v1/predict", json={"records": [good_record(served)] * 5})
    client.post("/v1/predict", content=b"{", headers=JSON)
    text = client.get("/metrics").text
    assert 'pe_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'pe_http_requests_total{method="POST",route="/v1/predict",status="400"} 1.0' in text
    assert 'pe_predict_errors_total{code="malformed_json"} 1.0' in text
    assert "pe_predict_batch_size_sum 5.0" in text and "pe_predict_rows_total 5.0" in text
    per_class = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("pe_predictions_total{")]
    assert len(per_class) == len(served.classes) and sum(per_class) == 5
    assert "pe_http_request_duration_seconds_bucket" in text and "pe_model_ready 1.0" in text


def test_api_key_header_and_bearer(served: ServedModel) -> None:
    app = create_app(served, ServeSettings(api_key="s3cret"))
    with TestClient(app) as c:
        rec = {"records": [good_record(served)]}
        expect_error(c.post("/v1/predict", json=rec), 401, "unauthorized")
        expect_error(c.post("/v1/predict", json=rec, headers={"X-API-Key": "wrong"}), 401,
                     "unauthorized")
        assert c.post("/v1/predict", json=rec, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.post("/v1/predict", json=rec,
                      headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/metrics").status_code == 401
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        doc = c.get("/openapi.json", headers={"X-API-Key": "s3cret"}).json()
        assert "ApiKey" in doc["components"]["securitySchemes"]


def test_cors_off_by_default_and_on_by_flag(served: ServedModel, client: TestClient) -> None:
    pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/predict", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    with TestClient(create_app(served, ServeSettings(cors_origins=("https://example.org",)))) as c:
        r = c.options("/v1/predict", headers=pre)
        assert r.headers["access-control-allow-origin"] == "https://example.org"


def test_request_timeout_is_504(served: ServedModel) -> None:
    """A client that stops sending half way through the body gets a 504 after --timeout."""
    import asyncio

    app = create_app(served, ServeSettings(request_timeout_s=0.2))
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b'{"records": [', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(5)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/predict", "raw_path": b"/v1/predict",
             "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 3))
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"])["error"]["code"] == "timeout"


def test_predictions_reach_the_jsonl_sink(served: ServedModel, tmp_path: Any) -> None:
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path, served.schema.feature_names, served.classes)
    with TestClient(create_app(served, sink=sink)) as c:
        for n in (1, 3):
            assert c.post("/v1/predict",
                          json={"records": [good_record(served)] * n}).status_code == 200
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # closed at shutdown
    assert [len(line["features"]) for line in lines] == [1, 3]
    assert lines[0]["model_id"] == served.model_id and len(lines[1]["probabilities"][0]) == 4
    assert lines[1]["feature_names"] == served.schema.feature_names


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", None])
def test_non_json_content_types_are_415_and_not_logged(served: ServedModel, tmp_path: Any,
                                                       content_type: str | None) -> None:
    """A browser may send text/plain or a form cross-site without a preflight: such a request is
    refused before it is read, and never reaches the prediction log (issue 18)."""
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path, served.schema.feature_names, served.classes)
    app = create_app(served, ServeSettings(cors_origins=("https://example.org",)), sink=sink)
    body = json.dumps({"records": [good_record(served)]}).encode()
    headers = {"Origin": "https://example.org"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    with TestClient(app) as c:
        err = expect_error(c.post("/v1/predict", content=body, headers=headers), 415,
                           "unsupported_media_type")
        assert "application/json" in err["message"]
        assert 'pe_predict_errors_total{code="unsupported_media_type"} 1.0' in c.get("/metrics").text
        assert c.post("/v1/predict", content=body,
                      headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200
    assert len(path.read_text().splitlines()) == 1  # only the JSON request was logged


def test_unknown_methods_do_not_create_metric_series(client: TestClient) -> None:
    """Each unknown HTTP method used to add a Prometheus series (issue 18): they count as one."""
    def series() -> list[str]:
        return [line for line in client.get("/metrics").text.splitlines()
                if line.startswith("pe_http_requests_total{")]

    client.get("/healthz")
    before = len(series())
    for i in range(40):
        assert client.request(f"M{i}", "/healthz").status_code == 405
        client.request(f"X{i}", f"/nope{i}")
    lines = series()
    assert len(lines) <= before + 4, lines  # "other" method on /healthz and on "other" paths
    assert any('method="other",route="/healthz",status="405"} 40.0' in line for line in lines)
    assert not any('method="M' in line or "/nope" in line for line in lines)


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = client.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert f"/docs/assets/{asset}" in r.text
        assert "cdn." not in r.text and "googleapis" not in r.text and "https://" not in r.text
        js = client.get(f"/docs/assets/{asset}")
        assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200


def test_docs_page_says_so_when_the_assets_are_missing(served: ServedModel,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from phoneprice_edge.serve import docs

    monkeypatch.setattr(docs, "assets_dir", lambda: None)
    with TestClient(create_app(served)) as c:
        r = c.get("/docs")
        assert r.status_code == 200 and "fastapi-offline" in r.text and "/openapi.json" in r.text
        assert "https://" not in r.text
        assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 404


def test_direct_predict_path_answers_as_the_framework_route(served: ServedModel) -> None:
    """/v1/predict is answered by a plain ASGI handler unless CORS is on (then by the FastAPI
    route): both give the same bodies, statuses, headers and metrics for good and bad requests."""
    good = json.dumps({"records": [good_record(served)]}).encode()
    bad = json.dumps({"records": [good_record(served, ram=float("nan"))]}).encode()
    rec = good_record(served)
    rows = np.array([[rec[n] for n in served.schema.feature_names]] * 2, dtype="<f4").tobytes()
    cases = [(good, JSON), (bad, JSON), (b"{", JSON), (good, {"Content-Type": "text/plain"}),
             (b"x" * 70_000, JSON), (rows, {"Content-Type": "application/octet-stream",
                                           "Accept": "application/octet-stream"})]
    answers = []
    for cors in ((), ("https://example.org",)):
        settings = ServeSettings(max_body_bytes=64 * 1024, cors_origins=cors)
        with TestClient(create_app(served, settings)) as c:
            got = []
            for body, headers in cases:
                r = c.post("/v1/predict", content=body, headers={**headers, "X-Request-ID": "r1"})
                keep = {k: v for k, v in r.headers.items() if k.startswith(("x-", "content-"))}
                got.append((r.status_code, keep, r.content))
            metrics = [line for line in c.get("/metrics").text.splitlines()
                       if line.startswith(("pe_http_requests_total", "pe_predict_errors_total",
                                           "pe_predict_rows_total", "pe_predictions_total"))]
            answers.append((got, metrics))
    assert [s for s, _, _ in answers[0][0]] == [200, 422, 400, 415, 413, 200]
    assert answers[0] == answers[1]
