"""Fixtures for the SensorThings tests."""

from __future__ import annotations

import pytest

from ecobridge.config import Settings
from ecobridge.store import open_store

from .world import ROWS


@pytest.fixture(scope="module")
def sta(tmp_path_factory):
    """One store per module: these tests only read, and migrating a store per test is slow."""
    store = open_store(Settings(home=tmp_path_factory.mktemp("sta") / "home",
                                memory_limit="1GB", threads=2))
    for sql in ROWS:
        store.execute(sql)
    yield store
    store.close()
