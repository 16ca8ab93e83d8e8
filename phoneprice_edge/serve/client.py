"""A client of a running pe-serve for batch scoring: the schema and limits from GET /v1/model, rows
sent as binary float32 (application/octet-stream), binary probabilities and classes back."""

from __future__ import annotations

import os
from typing import Any

import httpx
import numpy as np

from phoneprice_edge.errors import DataError, PEError, UsageError
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.serve import wire
from phoneprice_edge.serve.settings import API_KEY_ENV


class ServerError(PEError):
    """The server could not be reached or answered something other than a prediction."""


class PredictClient:
    """predict(x) for float32 [N, F] rows of the served model's schema, N up to max_rows."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--url must start with http:// or https://, got {url!r}")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"X-API-Key": key} if key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        try:
            self.info = self._get("/v1/model")
            self.schema = FeatureSchema.from_dict(self.info["schema"], source=f"{url}/v1/model")
        except BaseException:
            self._http.close()
            raise
        limits = self.info.get("limits", {})
        row_bytes = 4 * self.schema.n_features
        self.max_rows = max(1, min(int(limits.get("max_batch", 4096)),
                                   int(limits.get("max_body_bytes", 4 << 20)) // row_bytes))
        self.model_id: str = self.info["id"]

    @property
    def classes(self) -> list[str]:
        return list(self.schema.classes)

    def _get(self, path: str) -> dict[str, Any]:
        r = self._send("GET", path)
        try:
            info = r.json()
            assert isinstance(info, dict) and isinstance(info.get("schema"), dict)
        except (ValueError, AssertionError):
            raise ServerError(f"{self.url}{path}: not a pe-serve model description") from None
        return info

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach {self.url}: {exc}") from None
        if r.status_code != 200:
            raise ServerError(f"{self.url}{path}: HTTP {r.status_code}: {_message(r)}")
        return r

    def predict(self, x: np.ndarray, first_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities float32 [N, C], class indices int64 [N]); a row the server refuses is a
        DataError naming its row (first_row + its index in x)."""
        n = int(x.shape[0])
        try:
            r = self._http.post("/v1/predict", content=wire.encode_rows(x),
                                headers={"Content-Type": wire.BINARY_TYPE,
                                         "Accept": wire.BINARY_TYPE})
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach {self.url}: {exc}") from None
        if r.status_code == 422:
            raise DataError(_row_message(r, first_row))
        if r.status_code != 200 or r.headers.get("content-type") != wire.BINARY_TYPE:
            raise ServerError(f"{self.url}/v1/predict: HTTP {r.status_code}: {_message(r)}")
        try:
            probs, idx = wire.decode_predictions(r.content, n, len(self.classes))
        except ValueError as exc:
            raise ServerError(f"{self.url}/v1/predict: {exc}") from None
        return probs, idx.astype(np.int64)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PredictClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return r.text[:200] or r.reason_phrase


def _row_message(r: httpx.Response, first_row: int) -> str:
    """The server's first issue, with the row counted in the whole input."""
    try:
        issues = r.json()["error"]["issues"]
        i = issues[0]
    except (ValueError, KeyError, TypeError, IndexError):
        return f"the server refused the rows from {first_row}: {_message(r)}"
    row = "" if i.get("index") is None else f"row {first_row + int(i['index'])}, "
    col = "" if i.get("field") is None else f"column {i['field']!r}: "
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{row}{col}{i.get('message')} (refused by the server){more}"
