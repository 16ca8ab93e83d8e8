"""make_sink: the prediction sink for a --log-predictions value (a JSONL file, or a database URL
through phoneprice_edge.monitor.store, which builds on serve.hooks: hence a module of its own)."""

from __future__ import annotations

from phoneprice_edge.errors import UsageError
from phoneprice_edge.serve.hooks import JsonlSink, NullSink, PredictionSink

DB_SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")


def make_sink(spec: str | None, *, feature_names: list[str], classes: list[str],
              max_queue: int = 100_000) -> PredictionSink:
    """NullSink for None/""; a database URL -> phoneprice_edge.monitor.store.open_sink; else JSONL."""
    if not spec:
        return NullSink()
    if spec.startswith(DB_SCHEMES):
        try:
            from phoneprice_edge.monitor import store
        except ModuleNotFoundError as exc:
            raise UsageError(f"--log-predictions {spec.split('://')[0]}://...: the prediction store "
                             f"(phoneprice_edge.monitor.store) is not available ({exc})") from None
        sink = store.open_sink(spec, feature_names=feature_names, classes=classes,
                               max_queue=max_queue)
        if not isinstance(sink, PredictionSink):
            raise UsageError("phoneprice_edge.monitor.store.open_sink did not return a PredictionSink")
        return sink
    if "://" in spec and not spec.startswith("file://"):
        raise UsageError(f"--log-predictions: unsupported URL scheme in {spec!r} "
                         f"(use a file path, file://, sqlite:/// or postgresql://)")
    path = spec.removeprefix("file://")
    return JsonlSink(path, feature_names, classes, max_queue=max_queue)
