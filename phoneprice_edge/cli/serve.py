"""`pe-serve`: serve an export folder, or a registry's champion (hot-reloaded), over HTTP."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from phoneprice_edge.cli.common import CONTEXT, device_option

if TYPE_CHECKING:
    from phoneprice_edge.serve.reload import ModelHolder, Reloader


@click.command("serve", context_settings=CONTEXT)
@click.option("--artifact", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Export folder (manifest.json + artifact files); verified before serving.")
@click.option("--registry", type=click.Path(file_okay=False, exists=True, path_type=str),
              default=None, help="Serve this model registry's champion instead of --artifact "
                                 "and pick up promotions without a restart.")
@click.option("--profile", default=None, metavar="NAME",
              help="With --registry: the export profile to serve (e.g. onnx-fp32).")
@click.option("--reload-interval", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="With --registry: seconds between checks of the champion pointer (0 = off; "
                   "POST /v1/admin/reload still works).")
@click.option("--allow-unauthenticated-reload", is_flag=True,
              help="Accept POST /v1/admin/reload without an API key (refused with 403 when "
                   "PE_API_KEY is unset otherwise).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@device_option
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Intra-op threads of the runtime (default: the runtime's choice).")
@click.option("--out-of-range", type=click.Choice(["error", "warn"]), default="error",
              show_default=True, help="A value outside the schema's range: reject (422) or "
                                      "predict and list it under `warnings`.")
@click.option("--max-batch", type=click.IntRange(1), default=4096, show_default=True,
              help="Most records per request (413 above).")
@click.option("--max-body-bytes", type=click.IntRange(1024), default=4 << 20, show_default=True,
              help="Largest request body (413 above).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Request timeout in seconds (504).")
@click.option("--cors-origin", multiple=True,
              help="Allow browser calls from this origin (repeatable); CORS is off by default.")
@click.option("--log-predictions", metavar="URL_OR_FILE", default=None,
              help="Log every prediction off the request path: a JSONL file, or a "
                   "sqlite:/// or postgresql:// URL (the monitor's prediction store).")
@click.option("--log-queue", type=click.IntRange(1), default=100_000, show_default=True,
              help="Rows the prediction log may hold in memory before it drops (and counts) "
                   "further batches.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One JSON line per request on stderr.")
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to finish in-flight requests after SIGTERM/SIGINT.")
def cmd(artifact: str | None, registry: str | None, profile: str | None,
        reload_interval: float, allow_unauthenticated_reload: bool, host: str, port: int, device: str, threads: int | None, out_of_range: str,
        max_batch: int, max_body_bytes: int, timeout_s: float, cors_origin: tuple[str, ...],
        log_predictions: str | None, log_queue: int, access_log: bool,
        graceful_timeout: float) -> None:
    """Serve EXPORT_DIR: POST /v1/predict, GET /v1/model, /healthz, /readyz, /metrics, /docs.

    The API key comes from the environment variable PE_API_KEY (clients send X-API-Key or
    Authorization: Bearer); without it the API is open. /healthz and /readyz are always open.

    With --registry DIR --profile NAME the server loads the champion's export, and reloads when
    the champion changes (poll, or POST /v1/admin/reload): the new model is loaded, verified
    and warmed up off the request path, then swapped in; in-flight requests finish on the old
    one. A failed load keeps the old model (pe_model_reload_failed in /metrics, and the log).
    """
    from phoneprice_edge.serve.app import create_app
    from phoneprice_edge.serve.middleware import AccessLog
    from phoneprice_edge.serve.server import bind_sockets, run_server
    from phoneprice_edge.serve.settings import ServeSettings, api_key_from_env
    from phoneprice_edge.serve.sinks import make_sink

    settings = ServeSettings(out_of_range=out_of_range, max_batch=max_batch,  # type: ignore[arg-type]
                             max_body_bytes=max_body_bytes, request_timeout_s=timeout_s,
                             api_key=api_key_from_env(), cors_origins=cors_origin,
                             reload_interval_s=reload_interval if registry else 0.0,
                             allow_unauthenticated_reload=allow_unauthenticated_reload)
    sockets = bind_sockets(host, port)  # a taken port or an unknown host fails before the load
    try:
        holder, reloader = _load(artifact, registry, profile, device, threads)
    except BaseException:
        for s in sockets:
            s.close()
        raise
    if reloader is not None:
        _log_reloads()
    model = holder.current
    try:
        sink = make_sink(log_predictions, feature_names=model.schema.feature_names,
                         classes=model.classes, max_queue=log_queue)
        app = create_app(holder, settings, sink, AccessLog() if access_log else None, reloader)
        bound = sockets[0].getsockname()[1]
        click.echo(f"pe-serve: model {model.model_id} ({model.manifest.get('target')}/"
                   f"{model.manifest.get('precision')}, {model.backend.name} on {device}) at "
                   f"http://{host}:{bound}  (API key {'on' if settings.api_key else 'off'})",
                   err=True)
        if registry:
            click.echo(f"pe-serve: following {registry} ({profile}); reload poll "
                       f"{f'every {reload_interval:g} s' if reload_interval else 'off'}", err=True)
        run_server(app, host, bound, graceful_timeout, sockets)
    finally:
        for s in sockets:
            s.close()
        holder.close()
    sys.stderr.flush()


def _log_reloads() -> None:
    """Reload events (swaps at INFO, failures at ERROR) as lines on stderr."""
    import logging

    logger = logging.getLogger("phoneprice_edge.serve.reload")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pe-serve: %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _load(artifact: str | None, registry: str | None, profile: str | None, device: str,
          threads: int | None) -> tuple[ModelHolder, Reloader | None]:
    """The first model (from --artifact, or the registry champion) and, with a registry, its
    reloader."""
    from pathlib import Path

    from phoneprice_edge.errors import UsageError
    from phoneprice_edge.serve.model import load_served_model
    from phoneprice_edge.serve.reload import ModelHolder, Reloader, registry_locator  # noqa: F811

    if (artifact is None) == (registry is None):
        raise UsageError("give exactly one of --artifact EXPORT_DIR or --registry DIR")
    if registry is not None and not profile:
        raise UsageError("--registry needs --profile NAME (the export profile to serve)")
    opts = {"threads": threads} if threads else {}
    if registry is None:
        assert artifact is not None
        return ModelHolder(load_served_model(artifact, device=device, **opts), Path(artifact)), None
    assert profile is not None
    locate = registry_locator(registry, profile)
    path = locate()
    holder = ModelHolder(load_served_model(path, device=device, **opts), path)
    return holder, Reloader(holder, locate,
                            loader=lambda p: load_served_model(p, device=device, **opts))
