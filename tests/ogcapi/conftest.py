"""Fixtures for the OGC API tests: the extended access world (see world.py) and an in-process
client of the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app

from .world import open_world


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One world and one app for a module."""
    world, settings = open_world(tmp_path_factory.mktemp("home"))
    with TestClient(create_app(settings, store=world.store)) as client:
        yield world, client
    world.store.close()
