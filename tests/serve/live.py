"""A real uvicorn server on a loopback port, in a thread of the test process, for client tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from phoneprice_edge.serve.server import bind_sockets


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve app on 127.0.0.1 (a free port) until the block ends; yields the base URL."""
    (sock,) = bind_sockets("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("test server did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_ok(url: str) -> None:
    assert httpx.get(url + "/readyz", timeout=5).status_code == 200
