"""The FastAPI app: /v1/predict, /v1/model, /healthz, /readyz, /metrics over one ServedModel."""

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

from phoneprice_edge import __version__
from phoneprice_edge.serve import schemas
from phoneprice_edge.serve.hooks import NullSink, PredictionBatch, PredictionSink
from phoneprice_edge.serve.metrics import CONTENT_TYPE, Metrics
from phoneprice_edge.serve.middleware import AccessLog, ServiceMiddleware, _dumps, error_body
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.settings import ServeSettings
from phoneprice_edge.serve.validation import Issue, RequestRejected, Validator

log = logging.getLogger("phoneprice_edge.serve")
ROUTES = {"/v1/predict", "/v1/model", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(_dumps(obj), status_code=status, media_type="application/json")


def create_app(model: ServedModel, settings: ServeSettings | None = None,
               sink: PredictionSink | None = None, access_log: AccessLog | None = None) -> FastAPI:
    """Build the app; the model is warmed up in the lifespan, the sink closed at shutdown."""
    settings = settings or ServeSettings()
    sink = sink or NullSink()
    metrics = Metrics(model.classes, dropped=lambda: float(sink.dropped))
    validator = Validator(model.schema, settings.out_of_range, settings.max_batch)
    state: dict[str, Any] = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(model.warm_up, settings.warmup_runs)
        state["ready"] = True
        metrics.ready.set(1)
        flusher = asyncio.create_task(_flush_every(access_log, 1.0)) if access_log else None
        try:
            yield
        finally:
            state["ready"] = False
            metrics.ready.set(0)
            if flusher is not None:
                flusher.cancel()
            await asyncio.to_thread(sink.close, 5.0)
            if access_log is not None:
                access_log.flush()

    app = FastAPI(title="phoneprice_edge inference API", version=__version__, lifespan=lifespan,
                  description=f"Serves model {model.model_id} ({model.manifest.get('target')}, "
                              f"{model.manifest.get('precision')}). Errors are JSON: "
                              "{error: {code, message, issues: [{index, field, message}]}}.")
    _add_error_handlers(app, metrics)
    _add_routes(app, model, settings, sink, metrics, validator, state)
    if settings.api_key:
        _document_security(app)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(ServiceMiddleware, metrics=metrics, routes=ROUTES,
                       timeout_s=settings.request_timeout_s, api_key=settings.api_key,
                       access_log=access_log)
    app.state.metrics = metrics
    app.state.sink = sink
    return app


async def _flush_every(access_log: AccessLog, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        access_log.flush()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed limit bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    if declared is not None:
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(413, "body_too_large",
                           [Issue(None, None, f"body exceeds the limit of {limit} bytes")])


def _add_routes(app: FastAPI, model: ServedModel, settings: ServeSettings, sink: PredictionSink,
                metrics: Metrics, validator: Validator, state: dict[str, Any]) -> None:
    ref = {"id": model.model_id, "version": model.version,
           "target": model.manifest.get("target"), "precision": model.manifest.get("precision")}
    classes = model.classes
    body_doc = schemas.request_body_schema(model.schema, settings)

    @app.post("/v1/predict", tags=["predict"], openapi_extra={"requestBody": body_doc},
              responses={200: {"model": schemas.PredictResponse}, **schemas.ERRORS})
    async def predict(request: Request) -> Response:
        """Predict one record or a batch: records (objects) or columns + data (fast for batches)."""
        body = await read_body(request, settings.max_body_bytes)
        v = validator.validate_body(body)
        probs, idx = model.predict(v.x)
        rid = request.state.request_id
        request.state.rows = len(idx)
        metrics.predicted(idx, len(v.warnings))
        sink.submit(PredictionBatch(v.x, probs, idx, model.model_id, time.time(), rid))
        preds = [{"class_index": k, "class_name": classes[k], "probabilities": p}
                 for k, p in zip(idx.tolist(), probs.tolist(), strict=True)]
        return json_response({"request_id": rid, "model": ref, "classes": classes,
                              "predictions": preds,
                              "warnings": [w.to_dict() for w in v.warnings]})

    info = {**model.summary(), "limits": {"max_batch": settings.max_batch,
                                          "max_body_bytes": settings.max_body_bytes,
                                          "out_of_range": settings.out_of_range,
                                          "request_timeout_s": settings.request_timeout_s}}

    @app.get("/v1/model", tags=["model"], response_model=schemas.ModelInfo,
             responses={401: schemas.ERRORS[401]})
    async def model_info() -> Response:
        """Manifest summary, limits and the feature schema (names, kinds, ranges, classes)."""
        return json_response(info)

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
