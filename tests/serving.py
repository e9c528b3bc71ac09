"""A real uvicorn server on 127.0.0.1 at a free port, for clients and the browser.

The server binds only to loopback, stops by itself after `max_seconds` or `max_requests` even if a
test forgets it, and is stopped when the `with` block ends.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn

from ecobridge.api.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings, store, *, max_seconds: float = 900, max_requests: int = 200_000):
    """Yield the base URL of the app over `store`, served in a thread."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, store=store), host="127.0.0.1", port=port,
                            log_level="warning", limit_max_requests=max_requests)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = threading.Timer(max_seconds, lambda: setattr(server, "should_exit", True))
    deadline.daemon = True
    deadline.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
        yield base
    finally:
        deadline.cancel()
        server.should_exit = True
        thread.join(timeout=10)
