"""Ingesting a series in chunks gives exactly the alerts of one ingest, whatever the chunks."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from ecobridge.alerts import service
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.store import open_store

from .helpers import T0, ingest, series_csv, snapshot, world

HOURS = 24 * 24
RULES = (
    ("national", "threshold", {"averaging": "24h", "limit": "national",
                               "escalate": [[1.5, "severe"]]}, "pm25"),
    ("who", "threshold", {"averaging": "24h", "limit": "who"}, "pm25"),
    ("aqi", "aqi", {"min_category": "unhealthy_sensitive"}, None),
    ("roc", "rate_of_change", {"max_rise": 40}, "pm25"),
    ("anomaly", "anomaly", {"z": 5}, "no2"),
    ("silence", "silence", {"hours": 6}, None),
    ("qc", "qc_burst", {"hours": 6, "count": 2}, "pm25"),
)


def _series() -> dict:
    """Three weeks of pm25 with two episodes, a spike, an outage and gross values; no2 with a
    daily cycle and one anomaly."""
    pm25, no2 = [], []
    for i in range(HOURS):
        base = 30 + 8 * math.sin(2 * math.pi * i / 24) + 0.2 * (i % 3)
        if 100 <= i < 160 or 300 <= i < 330:
            base *= 4
        pm25.append(round(base, 2))
        no2.append(round(25 + 6 * math.sin(2 * math.pi * (i - 5) / 24) + 0.3 * ((i * 7) % 5), 2))
    pm25[200] = 400.0
    for h in range(400, 412):
        pm25[h] = None
        no2[h] = None
    for h in (450, 452):
        pm25[h] = 1500.0
    no2[17 * 24 + 3] = 250.0
    return {("BJ1", "pm25"): pm25, ("MSK", "pm25"): pm25, ("BJ1", "no2"): no2}


def ingest_chunks(store, home, chunks: list[tuple[int, int]]) -> dict:
    """The world, the RULES and the series ingested in `chunks` (hour ranges, in that order);
    the whole series back."""
    world(store, home)
    for rname, kind, params, prop in RULES:
        service.create_rule(store, SYSTEM, name=rname, kind=kind, params=params,
                            severity="moderate", observed_property=prop)
    series = _series()
    for n, (a, b) in enumerate(chunks):
        part = {k: v[a:b] for k, v in series.items()}
        ingest(store, series_csv(home / f"c{n}.csv", part, start=T0 + timedelta(hours=a)))
    return series


def _run(tmp_path, name: str, chunks: list[tuple[int, int]]) -> list[tuple]:
    home = tmp_path / name
    store = open_store(Settings(home=home / "home"))
    try:
        ingest_chunks(store, home, chunks)
        return snapshot(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    rows = _run(tmp_path_factory.mktemp("whole"), "whole", [(0, HOURS)])
    kinds = {r[0] for r in rows}
    assert kinds == {name for name, *_ in RULES}, "every rule fires on the series"
    return rows


@pytest.mark.parametrize("chunks", [
    [(0, 130), (130, 301), (301, 405), (405, HOURS)],            # in order, cut inside episodes
    [(0, 24), (24, 48)] + [(h, h + 48) for h in range(48, HOURS, 48)],   # daily-ish feeds
    [(300, HOURS), (0, 150), (150, 300)],                         # late data arrives last
], ids=["in-order", "many", "out-of-order"])
def test_chunks_equal_one_ingest(tmp_path, whole, chunks):
    assert _run(tmp_path, "chunks", chunks) == whole
