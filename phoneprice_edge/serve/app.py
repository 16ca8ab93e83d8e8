"""The FastAPI app: /v1/predict, /v1/model, /v1/admin/reload, /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from phoneprice_edge import __version__
from phoneprice_edge.serve import schemas
from phoneprice_edge.serve.docs import add_docs
from phoneprice_edge.serve.hooks import NullSink, PredictionBatch, PredictionSink
from phoneprice_edge.serve.jsonio import dumps
from phoneprice_edge.serve.metrics import CONTENT_TYPE, Metrics
from phoneprice_edge.serve.middleware import AccessLog, ServiceMiddleware, error_body
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.reload import ModelHolder, Reloader, ReloadResult
from phoneprice_edge.serve.settings import ServeSettings
from phoneprice_edge.serve.validation import Issue, RequestRejected, Validator
from phoneprice_edge.serve.wire import (
    BINARY_TYPE,
    CLASSES_HEADER,
    JSON_TYPE,
    MODEL_HEADER,
    ROWS_HEADER,
    WARNINGS_HEADER,
    body_kind,
    encode_predictions,
    wants_binary,
)

log = logging.getLogger("phoneprice_edge.serve")
RELOAD = "/v1/admin/reload"
ROUTES = {"/v1/predict", "/v1/model", RELOAD, "/healthz", "/readyz", "/metrics", "/openapi.json",
          "/docs", "/redoc"}


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json")


def create_app(model: ServedModel | ModelHolder, settings: ServeSettings | None = None,
               sink: PredictionSink | None = None, access_log: AccessLog | None = None,
               reloader: Reloader | None = None) -> FastAPI:
    """Build the app; the model is warmed up in the lifespan, the sink closed at shutdown.

    With a reloader, POST /v1/admin/reload (and a poll every settings.reload_interval_s) loads
    the artifact it locates off the request path and swaps it in; the caller closes the holder's
    current model after the server stops."""
    settings = settings or ServeSettings()
    sink = sink or NullSink()
    holder = model if isinstance(model, ModelHolder) else ModelHolder(model)
    if reloader is not None and reloader.holder is not holder:
        raise ValueError("the reloader must swap the app's own model holder")
    first = holder.current
    metrics = Metrics(first.classes, dropped=lambda: float(sink.dropped))
    if reloader is not None:
        _report_reloads(reloader, metrics)
    state: dict[str, Any] = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(holder.current.warm_up, settings.warmup_runs)
        state["ready"] = True
        metrics.ready.set(1)
        tasks = [asyncio.create_task(_flush_every(access_log, 1.0))] if access_log else []
        if reloader is not None and settings.reload_interval_s > 0:
            tasks.append(asyncio.create_task(_poll_every(reloader, settings.reload_interval_s)))
        try:
            yield
        finally:
            state["ready"] = False
            metrics.ready.set(0)
            for task in tasks:
                task.cancel()
            await asyncio.to_thread(sink.close, 5.0)
            if access_log is not None:
                access_log.flush()

    app = FastAPI(title="phoneprice_edge inference API", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description=f"Serves model {first.model_id} ({first.manifest.get('target')}, "
                              f"{first.manifest.get('precision')}; hot-reloadable). Errors are JSON: "
                              "{error: {code, message, issues: [{index, field, message}]}}.")
    _add_error_handlers(app, metrics)
    work = _add_routes(app, holder, settings, sink, metrics, state)
    _add_reload_route(app, reloader, settings)
    add_docs(app)
    if settings.api_key:
        _document_security(app)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=["X-Request-ID", ROWS_HEADER, CLASSES_HEADER,
                                           MODEL_HEADER, WARNINGS_HEADER])
    # CORS must see every response, so with it on /v1/predict goes through the framework route
    direct = {} if settings.cors_origins else {"/v1/predict": work.asgi}
    app.add_middleware(ServiceMiddleware, metrics=metrics, routes=ROUTES,
                       timeout_s=settings.request_timeout_s, api_key=settings.api_key,
                       access_log=access_log, direct_posts=direct)
    app.state.metrics = metrics
    app.state.sink = sink
    app.state.holder = holder
    return app


def _report_reloads(reloader: Reloader, metrics: Metrics) -> None:
    previous = reloader.report

    def report(res: ReloadResult) -> None:
        if res.status in ("swapped", "failed"):
            metrics.reloaded(res.status)
        previous(res)

    reloader.report = report


async def _poll_every(reloader: Reloader, seconds: float) -> None:
    """Check the registry pointer every `seconds`; a failure is logged and counted, never raised."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(reloader.reload)
        except Exception as exc:  # the poll must outlive any surprise; the log says what happened
            log.error("model reload poll failed: %r", exc, exc_info=exc)


async def _flush_every(access_log: AccessLog, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        access_log.flush()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed limit bytes."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


async def receive_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The body from the ASGI receive channel: 413 when the declared length exceeds limit, or
    (no length declared) as soon as the bytes read do; a client that disconnects raises
    Starlette's ClientDisconnect, as request.body() does."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        if content_length is None:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _unsupported(content_type: str | None) -> RequestRejected:
    got = f"got {content_type[:100]!r}" if content_type else "none given"
    return RequestRejected(415, "unsupported_media_type", [Issue(
        None, None, f"Content-Type must be {JSON_TYPE} or {BINARY_TYPE} ({got})")])


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(413, "body_too_large",
                           [Issue(None, None, f"body exceeds the limit of {limit} bytes")])


class _View:
    """What the routes say about one served model (response ref, /v1/model body, validator)."""

    def __init__(self, model: ServedModel, settings: ServeSettings) -> None:
        self.model = model
        self.ref = {"id": model.model_id, "version": model.version,
                    "target": model.manifest.get("target"),
                    "precision": model.manifest.get("precision")}
        self.validator = Validator(model.schema, settings.out_of_range, settings.max_batch)
        self.info = {**model.summary(), "limits": {
            "max_batch": settings.max_batch, "max_body_bytes": settings.max_body_bytes,
            "out_of_range": settings.out_of_range, "request_timeout_s": settings.request_timeout_s}}


def _views(settings: ServeSettings) -> Any:
    """view(model): the model's _View, rebuilt only when the served model changed."""
    cache: list[_View] = []

    def view(model: ServedModel) -> _View:
        if cache and cache[0].model is model:
            return cache[0]
        v = _View(model, settings)
        cache[:] = [v]
        return v

    return view


class _Predict:
    """The work of POST /v1/predict, shared by the FastAPI route (which documents it, and serves
    it when CORS is on) and the direct ASGI handler that answers it otherwise."""

    def __init__(self, holder: ModelHolder, settings: ServeSettings, sink: PredictionSink,
                 metrics: Metrics) -> None:
        self.holder = holder
        self.limit = settings.max_body_bytes
        self.sink = None if isinstance(sink, NullSink) else sink
        self.metrics = metrics
        self.classes = holder.current.classes
        self.view = _views(settings)

    @staticmethod
    def kind(content_type: str | None) -> str:
        """'json' or 'binary', or a 415 RequestRejected (before the body is read)."""
        kind = body_kind(content_type)
        if kind is None:
            raise _unsupported(content_type)
        return kind

    def answer(self, kind: str, body: bytes, accept: str | None,
               state: dict[str, Any]) -> tuple[str, dict[str, str] | None, bytes]:
        """(media type, extra headers, body) of the 200 response; RequestRejected for a 4xx."""
        holder = self.holder
        model = holder.acquire()
        try:
            served = self.view(model)
            v = (served.validator.binary(body) if kind == "binary"
                 else served.validator.validate_body(body))
            probs, idx = model.predict(v.x)
        finally:
            holder.release(model)
        rid = state["request_id"]
        n = state["rows"] = len(idx)
        self.metrics.predicted(idx, len(v.warnings))
        if self.sink is not None:
            self.sink.submit(PredictionBatch(v.x, probs, idx, model.model_id, time.time(), rid))
        if wants_binary(accept):
            return BINARY_TYPE, {ROWS_HEADER: str(n), CLASSES_HEADER: str(len(self.classes)),
                                 MODEL_HEADER: model.model_id,
                                 WARNINGS_HEADER: str(len(v.warnings))}, encode_predictions(
                                     probs, idx)
        classes = self.classes
        preds = [{"class_index": k, "class_name": classes[k], "probabilities": p}
                 for k, p in zip(idx.tolist(), probs.tolist(), strict=True)]
        return JSON_TYPE, None, dumps({"request_id": rid, "model": served.ref, "classes": classes,
                                       "predictions": preds,
                                       "warnings": [w.to_dict() for w in v.warnings]})

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /v1/predict as a plain ASGI app: the route's checks, answers and errors (a
        RequestRejected is counted and answered as the app's handler does; anything else
        propagates to the app's 500 handler), without the framework's routing and dependency
        machinery, which cost more than validating and scoring one record."""
        content_type = accept = length = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == b"content-type":
                if content_type is None:
                    content_type = value.decode("latin-1")
            elif name == b"accept":
                if accept is None:
                    accept = value.decode("latin-1")
            elif name == b"content-length" and length is None:
                length = value.decode("latin-1")
        status = 200
        try:
            kind = self.kind(content_type)
            body = await receive_body(receive, length, self.limit)
            media, extra, out = self.answer(kind, body, accept, scope["state"])
        except RequestRejected as exc:
            self.metrics.error(exc.code)
            status, media, extra, out = exc.status, JSON_TYPE, None, dumps(exc.to_dict())
        headers = [(b"content-length", str(len(out)).encode()), (b"content-type", media.encode())]
        if extra:
            headers += [(k.encode(), v.encode("latin-1")) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})


def _add_routes(app: FastAPI, holder: ModelHolder, settings: ServeSettings, sink: PredictionSink,
                metrics: Metrics, state: dict[str, Any]) -> _Predict:
    body_doc = schemas.request_body_schema(holder.current.schema, settings)
    work = _Predict(holder, settings, sink, metrics)
    view = work.view

    @app.post("/v1/predict", tags=["predict"], openapi_extra={"requestBody": body_doc},
              responses={200: schemas.PREDICT_200, **schemas.ERRORS})
    async def predict(request: Request) -> Response:
        """Predict one record or a batch: records (objects), columns + data (fast for batches), or
        binary float32 rows (application/octet-stream, fastest); Accept: application/octet-stream
        asks for a binary response."""
        headers = request.headers
        kind = work.kind(headers.get("content-type"))
        body = await read_body(request, work.limit)
        media, extra, out = work.answer(kind, body, headers.get("accept"),
                                        request.scope.setdefault("state", {}))
        return Response(out, media_type=media, headers=extra)

    @app.get("/v1/model", tags=["model"], response_model=schemas.ModelInfo,
             responses={401: schemas.ERRORS[401]})
    async def model_info() -> Response:
        """Manifest summary, limits and the feature schema (names, kinds, ranges, classes)."""
        return json_response(view(holder.current).info)

    @app.get("/healthz", tags=["health"], response_model=schemas.Status)
    async def healthz() -> Response:
        """The process is alive."""
        return json_response({"status": "ok"})

    @app.get("/readyz", tags=["health"], response_model=schemas.Status,
             responses={503: {"model": schemas.Status, "description": "not ready"}})
    async def readyz() -> Response:
        """The model is loaded and warmed up (503 before warm-up and during shutdown)."""
        if state["ready"]:
            return json_response({"status": "ready"})
        return json_response({"status": "starting"}, 503)

    @app.get("/metrics", tags=["health"], responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}},
              "description": "Prometheus text format"}, 401: schemas.ERRORS[401]})
    async def prometheus() -> Response:
        """Prometheus metrics: requests, errors, latency, batch sizes, predictions per class."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return work


def _add_reload_route(app: FastAPI, reloader: Reloader | None, settings: ServeSettings) -> None:
    @app.post(RELOAD, tags=["admin"], responses={
        200: {"description": "swapped, or unchanged when the registry champion is the served one"},
        401: schemas.ERRORS[401],
        403: {"model": schemas.ErrorResponse,
              "description": "no API key configured (start with --allow-unauthenticated-reload)"},
        409: {"model": schemas.ErrorResponse,
              "description": "no registry to reload from, or the new artifact failed to load "
                             "(the old model keeps serving)"}})
    async def reload(force: bool = False) -> Response:
        """Load the registry's current champion off the request path and swap it in (force: even
        when unchanged). In-flight requests finish on the old model."""
        if settings.api_key is None and not settings.allow_unauthenticated_reload:
            return Response(error_body("forbidden", "reload needs an API key (PE_API_KEY) or "
                                       "--allow-unauthenticated-reload"), 403,
                            media_type="application/json")
        if reloader is None:
            return Response(error_body("reload_unavailable", "this server serves a fixed "
                                       "--artifact; start it with --registry to reload"), 409,
                            media_type="application/json")
        res = await asyncio.to_thread(reloader.reload, force)
        if res.status == "failed":
            return Response(error_body("reload_failed", f"{res.error} (still serving "
                                       f"{res.model_id})"), 409, media_type="application/json")
        return json_response(res.to_dict())


def _add_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRejected)
        metrics.error(exc.code)
        return json_response(exc.to_dict(), exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return Response(error_body(code, str(exc.detail)), status_code=exc.status_code,
                        media_type="application/json", headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return Response(error_body("invalid_request", str(exc.errors())[:500]), 422,
                        media_type="application/json")

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s: %r", request.url.path, exc, exc_info=exc)
        metrics.error("internal")
        return Response(error_body("internal", "internal server error"), 500,
                        media_type="application/json")

    app.add_exception_handler(RequestRejected, rejected)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def _document_security(app: FastAPI) -> None:
    """Describe the API key in the OpenAPI document (every route but /healthz and /readyz)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = base()
        doc.setdefault("components", {})["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"}}
        for path, ops in doc.get("paths", {}).items():
            if path not in ("/healthz", "/readyz"):
                for op in ops.values():
                    op["security"] = [{"ApiKey": []}, {"Bearer": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
