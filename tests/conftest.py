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


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, but tests/browser is one unit: its session fixture builds and serves
    the demo (15-25 s) and starts Chromium on every worker that runs any browser file."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class BrowserTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/browser/"):
                return "tests/browser"
            return super()._split_scope(nodeid)

    return BrowserTogether(config, log)
