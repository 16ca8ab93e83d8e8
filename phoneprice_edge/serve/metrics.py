"""Prometheus metrics of one server (own registry): requests, errors, latency, batch sizes, classes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# The method label takes these values and "other": a client cannot create series (issue 18).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
disable_created_metrics()  # the *_created series double the output and nobody here reads them


class Metrics:
    """The server's counters and histograms; label children are cached so a request costs ~µs."""

    def __init__(self, classes: list[str], dropped: Callable[[], float] = lambda: 0.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter("pe_http_requests", "HTTP requests by route, method and status",
                                 ["route", "method", "status"], registry=r)
        self._latency = Histogram("pe_http_request_duration_seconds",
                                  "Time from request start to the end of the response, by route",
                                  ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self._errors = Counter("pe_predict_errors", "Rejected prediction requests by error code",
                               ["code"], registry=r)
        self.batch = Histogram("pe_predict_batch_size", "Records per prediction request",
                               buckets=BATCH_BUCKETS, registry=r)
        self.rows = Counter("pe_predict_rows", "Records predicted", registry=r)
        self.warnings = Counter("pe_predict_input_warnings",
                                "Out-of-range values accepted in --out-of-range warn mode",
                                registry=r)
        per_class = Counter("pe_predictions", "Predictions by class", ["class_name"], registry=r)
        self._class_children = [per_class.labels(c) for c in classes]
        Gauge("pe_prediction_log_dropped", "Prediction batches dropped because the sink was full",
              registry=r).set_function(dropped)
        self.ready = Gauge("pe_model_ready", "1 when the model is loaded and warmed up", registry=r)
        self._reloads = Counter("pe_model_reloads", "Model reload attempts by result "
                                "(swapped, failed)", ["result"], registry=r)
        self.reload_failed = Gauge("pe_model_reload_failed",
                                   "1 when the latest reload attempt failed (the previous model "
                                   "keeps serving)", registry=r)
        self._req_cache: dict[tuple[str, str, int], Counter] = {}
        self._lat_cache: dict[str, Histogram] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request; route must already be bounded (a known path or "other"), the
        method is (an unknown one counts as "other")."""
        key = (route, method, status)
        child = self._req_cache.get(key)
        if child is None:
            if method not in METHODS:
                method = "other"
                key = (route, method, status)
            child = self._req_cache[key] = self._requests.labels(route, method, str(status))
        child.inc()
        hist = self._lat_cache.get(route)
        if hist is None:
            hist = self._lat_cache[route] = self._latency.labels(route)
        hist.observe(seconds)

    def error(self, code: str) -> None:
        self._errors.labels(code).inc()

    def predicted(self, classes: np.ndarray, n_warnings: int = 0) -> None:
        n = int(classes.shape[0])
        self.batch.observe(n)
        self.rows.inc(n)
        if n == 1:
            self._class_children[int(classes[0])].inc()
        else:
            for k, count in enumerate(np.bincount(classes, minlength=len(self._class_children))):
                if count:
                    self._class_children[k].inc(int(count))
        if n_warnings:
            self.warnings.inc(n_warnings)

    def reloaded(self, result: str) -> None:
        """Count one reload attempt that loaded something ('swapped') or failed ('failed')."""
        self._reloads.labels(result).inc()
        self.reload_failed.set(1 if result == "failed" else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
