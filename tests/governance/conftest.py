"""Fixtures for governance tests: the access world and an in-process client of the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app

from .world import build_world, world_client


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
    with world_client(tmp_path_factory.mktemp("home")) as env:
        yield env
