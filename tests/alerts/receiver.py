"""A real webhook receiver on 127.0.0.1 for tests: records every delivery it answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ecobridge.alerts.delivery import verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Start with .start(); every POST is kept as (idempotency key, body dict, signature ok)."""

    def __init__(self, port: int, secret: str = "", delay: float = 0.0):
        self.port, self.secret, self.delay = port, secret, delay
        self.got: list[tuple[str, dict, bool]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.delay:
                    time.sleep(outer.delay)
                ok = verify(outer.secret, self.headers.get("X-Ecobridge-Signature", ""), body)
                with outer.lock:
                    outer.got.append((self.headers.get("Idempotency-Key"), json.loads(body), ok))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def keys(self) -> list[str]:
        with self.lock:
            return [k for k, _b, _ok in self.got]


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
