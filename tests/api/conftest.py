"""Fixtures for the read API: the test world in a real store, an in-process client, and a real
uvicorn server on 127.0.0.1 at a free port."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app

from .data import World, build


@pytest.fixture
def world(store) -> World:
    return build(store)


@pytest.fixture
def client(settings, store, world):
    with TestClient(create_app(settings, store=store)) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(settings, store, world):
    """The app served by uvicorn in a thread; yields its base URL and stops it afterwards."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store=store), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    assert httpx.get(f"{base}/api/v1/health").status_code == 200
    yield base
    server.should_exit = True
    thread.join(timeout=10)
