"""Fixtures for governance tests: the access world and an in-process client of the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.config import Settings
from ecobridge.store import open_store

from .world import build_world


@pytest.fixture
def world(store):
    return build_world(store)


@pytest.fixture
def client(settings, store):
    with TestClient(create_app(settings, store=store)) as c:
        yield c


@pytest.fixture(scope="module")
def module_env(tmp_path_factory):
    """One world and one app for a whole module (the matrix makes thousands of requests)."""
    settings = Settings(home=tmp_path_factory.mktemp("home"), memory_limit="1GB", threads=2)
    store = open_store(settings)
    world = build_world(store)
    with TestClient(create_app(settings, store=store)) as c:
        yield world, c
    store.close()
