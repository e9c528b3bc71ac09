"""Fixtures for ingest tests: a dataset with three stations."""

from __future__ import annotations

import pytest

from ecobridge.catalog.service import create_dataset
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file

from .helpers import STATIONS, write


@pytest.fixture
def air(store, tmp_path) -> str:
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    report = ingest_file(store, write(tmp_path / "stations.csv", STATIONS), dataset="kz-air")
    assert report.rows_inserted == 3
    return "kz-air"
