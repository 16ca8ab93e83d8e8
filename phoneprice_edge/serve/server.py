"""Running the app under uvicorn: graceful shutdown on SIGTERM (drain, lifespan, exit status 0)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Generator
from typing import Any

import uvicorn


class GracefulServer(uvicorn.Server):
    """uvicorn.Server that treats SIGTERM as a normal stop: in-flight requests finish, the lifespan
    shutdown runs (prediction log drained), and the process exits 0 instead of re-raising SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]


def run_server(app: Any, host: str, port: int, graceful_timeout: float = 10.0) -> None:
    """Serve app until SIGTERM/SIGINT; uvicorn's own access log is off (the app writes JSON)."""
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info",
                            timeout_graceful_shutdown=graceful_timeout, server_header=False,
                            lifespan="on")
    GracefulServer(config).run()
