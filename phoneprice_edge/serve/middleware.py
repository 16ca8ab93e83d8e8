"""One pure-ASGI middleware for every request: request id, API key, timeout, metrics, JSON access log."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import IO, Any

from phoneprice_edge.serve.jsonio import dumps
from phoneprice_edge.serve.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]
OPEN_PATHS = frozenset({"/healthz", "/readyz"})

def error_body(code: str, message: str) -> bytes:
    return dumps({"error": {"code": code, "message": message, "issues": []}})


class AccessLog:
    """Structured access log: one JSON object per line, buffered, flushed at least every interval."""

    def __init__(self, stream: IO[bytes] | None = None, interval: float = 0.5,
                 max_buffer: int = 64) -> None:
        self._stream = stream if stream is not None else sys.stderr.buffer
        self._buf: list[bytes] = []
        self._interval = interval
        self._max = max_buffer
        self._last = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        self._buf.append(dumps(record) + b"\n")
        now = time.monotonic()
        if len(self._buf) >= self._max or now - self._last >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        self._last = time.monotonic() if now is None else now
        if self._buf:
            data, self._buf = b"".join(self._buf), []
            try:
                self._stream.write(data)
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken log stream must not fail requests


class ServiceMiddleware:
    """Wraps the app: X-Request-ID, API key check, request timeout (504), metrics, access log.

    direct_posts: POST paths answered by a plain ASGI handler instead of the wrapped app (the hot
    route skips the framework's routing; everything above stays the same for it)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: set[str], timeout_s: float,
                 api_key: str | None = None, access_log: AccessLog | None = None,
                 direct_posts: dict[str, ASGIApp] | None = None) -> None:
        self.app = app
        self.direct_posts = direct_posts or {}
        self.metrics = metrics
        self.routes = routes
        self.timeout_s = timeout_s
        self.api_key = api_key.encode() if api_key else None
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope["path"]
        route = path if path in self.routes else "other"
        rid, key = _scan_headers(scope["headers"])
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        started = False
        rid_header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            if self.api_key is not None and path not in OPEN_PATHS and not _key_ok(key, self.api_key):
                await _send_error(send_wrapper, 401, "unauthorized",
                                  "missing or wrong API key (X-API-Key or Authorization: Bearer)")
                return
            app = self.app
            if scope["method"] == "POST" and not scope.get("root_path"):
                app = self.direct_posts.get(path, app)
            async with asyncio.timeout(self.timeout_s):
                await app(scope, receive, send_wrapper)
        except TimeoutError:
            if not started:
                await _send_error(send_wrapper, 504, "timeout",
                                  f"request took longer than {self.timeout_s:g} s")
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.request(route, scope["method"], status, elapsed)
            if self.access_log is not None:
                self.access_log.write({
                    "ts": round(time.time(), 6), "request_id": rid, "method": scope["method"],
                    "path": path, "status": status, "duration_ms": round(elapsed * 1000, 3),
                    "client": (scope.get("client") or ("", 0))[0], "rows": state.get("rows")})


def _scan_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes | None]:
    rid = None
    key = None
    for name, value in headers:
        if name == b"x-request-id" and 0 < len(value) <= 128:
            rid = value.decode("latin-1")
        elif name == b"x-api-key":
            key = value
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            key = value[7:].strip()
    return rid or f"{_RID_PREFIX}{next(_RID_COUNTER):08x}", key


# Generated request ids: a random per-process prefix and a counter (unique across processes and
# restarts; one os.urandom syscall per request was 1-2% of a single-record request).
_RID_PREFIX = os.urandom(4).hex()
_RID_COUNTER = itertools.count()


def _key_ok(given: bytes | None, want: bytes) -> bool:
    return given is not None and hmac.compare_digest(given, want)


async def _send_error(send: Callable[[Message], Awaitable[None]], status: int, code: str,
                      message: str) -> None:
    body = error_body(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
