"""Shared fixtures: a real DuckDB file in a temporary folder, real settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecobridge.config import Settings
from ecobridge.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", memory_limit="1GB", threads=2)


@pytest.fixture
def store(settings: Settings):
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}")
    return SHARED_DATA
