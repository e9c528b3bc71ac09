"""Fixtures for the read API: the test world in a real store, an in-process client, and a real
uvicorn server on 127.0.0.1 at a free port."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serving import serve

from ecobridge.api.app import create_app

from .data import World, build


@pytest.fixture
def world(store) -> World:
    return build(store)


@pytest.fixture
def client(settings, store, world):
    with TestClient(create_app(settings, store=store)) as c:
        yield c


@pytest.fixture
def live_server(settings, store, world):
    """The app served by uvicorn in a thread; yields its base URL and stops it afterwards."""
    with serve(settings, store) as base:
        yield base
