"""The binary columnar request type (application/octet-stream float32 rows) and binary response:
same answers as JSON, the same checks and 4xx errors, the Accept negotiation, the OpenAPI entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from phoneprice_edge.serve import wire
from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.hooks import JsonlSink
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.settings import ServeSettings

BIN = {"Content-Type": "application/octet-stream"}
BIN_BOTH = {**BIN, "Accept": "application/octet-stream"}


def rows(served: ServedModel, n: int, seed: int = 0) -> np.ndarray:
    """n valid rows: uniform within each feature's range, whole where the schema says so."""
    rng = np.random.default_rng(seed)
    cols = []
    for f in served.schema.features:
        v = rng.uniform(f.min, f.max, size=n)
        cols.append(np.round(v) if f.kind != "float" else np.round(v, 2))
    return np.stack(cols, axis=1).astype(np.float32)


@pytest.fixture()
def client(served: ServedModel) -> Iterator[TestClient]:
    with TestClient(create_app(served, ServeSettings(max_batch=64, max_body_bytes=8 * 1024))) as c:
        yield c


def expect_error(r: Any, status: int, code: str, index: int | None = None,
                 field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == code
    if index is not None or field is not None:
        assert any(i["index"] == index and i["field"] == field for i in err["issues"]), err
    return err


def test_binary_request_matches_json_and_the_backend(client: TestClient,
                                                     served: ServedModel) -> None:
    x = rows(served, 50)
    names = served.schema.feature_names
    as_json = client.post("/v1/predict", json={"columns": names, "data": x.tolist()})
    assert as_json.status_code == 200, as_json.text
    r = client.post("/v1/predict", content=wire.encode_rows(x), headers=BIN)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == as_json.json()["predictions"]
    r = client.post("/v1/predict", content=wire.encode_rows(x), headers=BIN_BOTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-pe-rows"] == "50" and r.headers["x-pe-classes"] == "4"
    assert r.headers["x-pe-model-id"] == served.model_id and r.headers["x-pe-warnings"] == "0"
    assert r.headers["x-request-id"]
    probs, idx = wire.decode_predictions(r.content, 50, 4)
    want_p, want_i = served.predict(x)
    np.testing.assert_array_equal(probs, want_p)
    np.testing.assert_array_equal(idx, want_i)
    assert idx.dtype == np.int32 and probs.dtype == np.float32


def test_json_request_can_ask_for_a_binary_response(client: TestClient,
                                                    served: ServedModel) -> None:
    x = rows(served, 3)
    r = client.post("/v1/predict", json={"columns": served.schema.feature_names,
                                         "data": x.tolist()},
                    headers={"Accept": "application/octet-stream"})
    assert r.headers["content-type"] == "application/octet-stream"
    _, idx = wire.decode_predictions(r.content, 3, 4)
    np.testing.assert_array_equal(idx, served.predict(x)[1])


@pytest.mark.parametrize("n_bytes", [0, 4, 79, 81, 80 * 3 + 2])
def test_body_that_is_not_whole_rows_is_422(client: TestClient, n_bytes: int) -> None:
    err = expect_error(client.post("/v1/predict", content=b"\0" * n_bytes, headers=BIN_BOTH),
                       422, "invalid_body")
    assert "80 bytes each" in err["message"]


@pytest.mark.parametrize(("value", "field", "words"), [
    (np.nan, "ram", "finite float32"), (np.inf, "px_width", "finite float32"),
    (-np.inf, "battery_power", "finite float32"), (99999.0, "ram", "out of range"),
    (0.5, "blue", "whole number"), (-1.0, "clock_speed", "out of range")])
def test_bad_values_name_row_and_field(client: TestClient, served: ServedModel, value: float,
                                       field: str, words: str) -> None:
    x = rows(served, 5)
    x[3, served.schema.feature_names.index(field)] = value
    err = expect_error(client.post("/v1/predict", content=wire.encode_rows(x), headers=BIN_BOTH),
                       422, "invalid_input", 3, field)
    assert words in err["message"] and "record 3" in err["message"]


def test_row_count_and_body_size_limits_are_413(client: TestClient, served: ServedModel) -> None:
    body = wire.encode_rows(rows(served, 65))  # 5,200 bytes: under the body limit, over max_batch
    expect_error(client.post("/v1/predict", content=body, headers=BIN), 413, "batch_too_large")
    big = b"\0" * (8 * 1024 + 80)
    expect_error(client.post("/v1/predict", content=big, headers=BIN), 413, "body_too_large")
    expect_error(client.post("/v1/predict", content=iter([big[:4096], big[4096:]]), headers=BIN),
                 413, "body_too_large")


def test_warn_mode_predicts_and_counts_warnings(served: ServedModel) -> None:
    x = rows(served, 4)
    x[1, served.schema.feature_names.index("ram")] = 5000
    with TestClient(create_app(served, ServeSettings(out_of_range="warn"))) as c:
        r = c.post("/v1/predict", content=wire.encode_rows(x), headers=BIN_BOTH)
        assert r.status_code == 200 and r.headers["x-pe-warnings"] == "1"
        (w,) = c.post("/v1/predict", content=wire.encode_rows(x), headers=BIN).json()["warnings"]
        assert w["index"] == 1 and w["field"] == "ram"


def test_binary_predictions_reach_the_sink(served: ServedModel, tmp_path: Any) -> None:
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path, served.schema.feature_names, served.classes)
    x = rows(served, 7)
    with TestClient(create_app(served, sink=sink)) as c:
        assert c.post("/v1/predict", content=wire.encode_rows(x), headers=BIN_BOTH).status_code == 200
    (line,) = [json.loads(s) for s in path.read_text().splitlines()]
    np.testing.assert_array_equal(np.array(line["features"], dtype=np.float32), x)


@pytest.mark.parametrize(("accept", "binary"), [
    (None, False), ("", False), ("*/*", False), ("application/json", False),
    ("application/octet-stream", True), ("application/octet-stream, application/json", False),
    ("application/json;q=0.5, application/octet-stream", True),
    ("application/octet-stream;q=0.2, */*;q=0.1", True), ("application/octet-stream;q=x", False)])
def test_accept_negotiation(accept: str | None, binary: bool) -> None:
    assert wire.wants_binary(accept) is binary


@pytest.mark.parametrize(("content_type", "kind"), [
    ("application/json", "json"), ("Application/JSON; charset=utf-8", "json"),
    ("application/problem+json", "json"), ("application/octet-stream", "binary"),
    ("text/plain", None), ("application/x-www-form-urlencoded", None), (None, None),
    ("multipart/form-data; boundary=a", None)])
def test_body_kind(content_type: str | None, kind: str | None) -> None:
    assert wire.body_kind(content_type) == kind


def test_decode_checks_the_length() -> None:
    with pytest.raises(ValueError, match="expected 40"):
        wire.decode_predictions(b"\0" * 36, 2, 4)


def test_openapi_documents_the_binary_types(served: ServedModel) -> None:
    doc = create_app(served, ServeSettings(max_batch=16)).openapi()
    post = doc["paths"]["/v1/predict"]["post"]
    body = post["requestBody"]
    assert body["content"]["application/octet-stream"]["schema"] == {"type": "string",
                                                                     "format": "binary"}
    assert "little-endian float32" in body["description"]
    assert ", ".join(served.schema.feature_names) in body["description"]
    assert "application/octet-stream" in post["responses"]["200"]["content"]
    assert "415" in post["responses"]


def test_validator_on_batches_longer_than_a_tile_and_unbounded_features() -> None:
    """The vectorised check works on 4,096-row tiles: a bad value past the first tile is found;
    an unbounded feature takes any finite value but never inf or NaN; float32 bounds are exact."""
    from phoneprice_edge.schema import FeatureSchema, FeatureSpec
    from phoneprice_edge.serve.validation import RequestRejected, Validator

    schema = FeatureSchema((FeatureSpec("a", "float", 0.1, 0.7), FeatureSpec("b", "integer", 0, 9),
                            FeatureSpec("c", "float")), label="y", classes=("n", "p"))
    v = Validator(schema, max_batch=10_000)
    x = np.tile(np.array([[0.5, 3, -1e30]], dtype=np.float32), (9000, 1))
    assert v.binary(x.tobytes()).warnings == []
    for row, col, value in [(8500, 1, 2.5), (4096, 0, 0.8), (8999, 2, np.inf), (5000, 2, np.nan),
                            (7000, 0, np.nextafter(np.float32(0.1), np.float32(0)))]:
        bad = x.copy()
        bad[row, col] = value
        with pytest.raises(RequestRejected) as exc:
            v.binary(bad.tobytes())
        assert exc.value.issues[0].index == row and exc.value.issues[0].field == "abc"[col]
    edge = x[:2].copy()
    edge[:, 0] = [np.float32(0.1), np.float32(0.7)]  # 0.1f > 0.1 and 0.7f < 0.7: both inside
    assert v.binary(edge.tobytes()).x.shape == (2, 3)
