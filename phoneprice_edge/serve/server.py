"""Running the app under uvicorn: the listening sockets bound up front (a taken port or a host that
does not resolve is a one-line error, exit 1), graceful shutdown on SIGTERM (drain, lifespan,
exit status 0)."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from phoneprice_edge.errors import PEError


class ServeError(PEError):
    """The server cannot start: the address cannot be bound, or the app's start-up failed."""


class GracefulServer(uvicorn.Server):
    """uvicorn.Server that treats SIGTERM as a normal stop: in-flight requests finish, the lifespan
    shutdown runs (prediction log drained), and the process exits 0 instead of re-raising SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]


def bind_sockets(host: str, port: int, backlog: int = 2048) -> list[socket.socket]:
    """Listening TCP sockets for host:port (every address the host resolves to), or ServeError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"--host {host}: cannot resolve the address ({exc})") from None
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, kind, proto, _, addr in infos:
            if (family, addr) in seen:
                continue
            seen.add((family, addr))
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(backlog)
            port = port or sock.getsockname()[1]  # --port 0: every address on the same port
    except OSError as exc:
        for s in socks:
            s.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return socks


def run_server(app: Any, host: str, port: int, graceful_timeout: float = 10.0,
               sockets: list[socket.socket] | None = None) -> None:
    """Serve app until SIGTERM/SIGINT on sockets (default: bind_sockets(host, port)); uvicorn's
    own access log is off (the app writes JSON). A failed start-up is a ServeError (exit 1)."""
    socks = sockets if sockets is not None else bind_sockets(host, port)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info",
                            timeout_graceful_shutdown=graceful_timeout, server_header=False,
                            lifespan="on")
    try:
        GracefulServer(config).run(sockets=socks)
    except SystemExit as exc:
        if exc.code == STARTUP_FAILURE:
            raise ServeError("the server failed to start (see the log above)") from None
        raise
    finally:
        for s in socks:
            s.close()
