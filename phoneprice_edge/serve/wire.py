"""The binary wire format of /v1/predict (both sides): media types, Accept negotiation, and the
encoding of request rows and of the binary response.

Request (Content-Type: application/octet-stream): N rows of F little-endian float32 values,
row-major, the features in the order that GET /v1/model publishes (`features`); N = bytes / 4F.

Response (Accept: application/octet-stream): N x C little-endian float32 probabilities (row-major,
classes in the order of /v1/model's `classes`), then N little-endian int32 class indices.
Headers: X-PE-Rows (N), X-PE-Classes (C), X-PE-Model-Id, X-PE-Warnings (count of out-of-range
values accepted in --out-of-range warn mode; the JSON response lists them).
"""

from __future__ import annotations

import numpy as np

JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
ROWS_HEADER = "x-pe-rows"
CLASSES_HEADER = "x-pe-classes"
MODEL_HEADER = "x-pe-model-id"
WARNINGS_HEADER = "x-pe-warnings"


def media_type(content_type: str | None) -> str:
    """'application/json; charset=utf-8' -> 'application/json' ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_kind(content_type: str | None) -> str | None:
    """'json', 'binary', or None for a type the API does not take (415)."""
    mt = media_type(content_type)
    if mt == JSON_TYPE or (mt.startswith("application/") and mt.endswith("+json")):
        return "json"
    if mt == BINARY_TYPE:
        return "binary"
    return None


def wants_binary(accept: str | None) -> bool:
    """True when Accept prefers application/octet-stream to JSON (q-values honoured; */* and
    application/* count for JSON, the default)."""
    if not accept or "octet-stream" not in accept:
        return False
    binary = json = 0.0
    for part in accept.split(","):
        mt, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        mt = mt.lower()
        if mt == BINARY_TYPE:
            binary = max(binary, q)
        elif mt in (JSON_TYPE, "application/*", "*/*"):
            json = max(json, q)
    return binary > json


def encode_rows(x: np.ndarray) -> bytes:
    """A request body: float32 [N, F] rows as little-endian bytes."""
    return np.ascontiguousarray(x, dtype="<f4").tobytes()


def encode_predictions(probs: np.ndarray, idx: np.ndarray) -> bytes:
    """A binary response body: float32 [N, C] probabilities, then int32 [N] class indices."""
    return (np.ascontiguousarray(probs, dtype="<f4").tobytes()
            + np.ascontiguousarray(idx, dtype="<i4").tobytes())


def decode_predictions(body: bytes, n_rows: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities float32 [N, C], class indices int32 [N]) from a binary response body."""
    want = n_rows * (n_classes + 1) * 4
    if len(body) != want:
        raise ValueError(f"binary response of {len(body)} bytes, expected {want} "
                         f"({n_rows} rows x {n_classes} classes)")
    probs = np.frombuffer(body, dtype="<f4", count=n_rows * n_classes).reshape(n_rows, n_classes)
    idx = np.frombuffer(body, dtype="<i4", offset=n_rows * n_classes * 4)
    return probs, idx
