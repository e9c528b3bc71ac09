"""The evaluation computed on a thread while the ingest appends its rows (alerts.overlap) gives
the alerts, events and incidents of the sequential evaluation, and a failure on the thread
fails the ingest with nothing written."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from ecobridge.alerts import overlap, service
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.store import open_store

from .helpers import T0, ingest, series_csv, snapshot, world
from .test_incremental import HOURS, ingest_chunks

# whole, out of order, and a revision of values already stored (an episode lowered and one
# raised), so updates, retractions and reopenings happen on the thread too
CHUNKS = [(300, HOURS), (0, 150), (150, 300)]


def _events(store) -> list[tuple]:
    return store.rows(
        "SELECT r.name, t.code, strftime(a.started_at, '%Y-%m-%dT%H:%M'), e.kind, e.severity,"
        " e.status FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
        " JOIN alert_rules r ON r.id = a.rule_id JOIN things t ON t.id = a.thing_id"
        " ORDER BY ALL")


def _incidents(store) -> list[tuple]:
    """Which alerts share an incident (as sets of alert descriptions, ids left out)."""
    groups: dict[int, set] = {}
    for inc, name, code, start in store.rows(
            "SELECT a.incident_id, r.name, t.code, strftime(a.started_at, '%Y-%m-%dT%H:%M')"
            " FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
            " JOIN things t ON t.id = a.thing_id"):
        groups.setdefault(inc, set()).add((name, code, start))
    return sorted(tuple(sorted(g)) for g in groups.values())


def _run(tmp_path, name: str, threaded: bool) -> tuple[list, list, list, int]:
    home = tmp_path / name
    store = open_store(Settings(home=home / "home"))
    before = overlap.Overlap.computed
    overlap.ENABLED = threaded
    try:
        series = ingest_chunks(store, home, CHUNKS)
        revised = {k: [None if x is None else round(x * (0.5 if i < 200 else 1.3), 2)
                       for i, x in enumerate(v)] for k, v in series.items()}
        ingest(store, series_csv(home / "revised.csv", {k: v[90:340] for k, v in
                                                        revised.items()},
                                 start=T0 + timedelta(hours=90)))
        return (snapshot(store), _events(store), _incidents(store),
                overlap.Overlap.computed - before)
    finally:
        overlap.ENABLED = None
        store.close()


def test_threaded_evaluation_equals_sequential(tmp_path):
    alerts, events, incidents, runs = _run(tmp_path, "threaded", True)
    want_alerts, want_events, want_incidents, none = _run(tmp_path, "sequential", False)
    assert runs == len(CHUNKS) + 1 and none == 0  # each ingest took the path it was meant to
    kinds = {e[3] for e in want_events}
    assert {"opened", "resolved", "retracted"} <= kinds and len(want_alerts) > 10
    assert alerts == want_alerts
    assert events == want_events
    assert incidents == want_incidents


def test_a_failure_on_the_thread_fails_the_ingest_and_writes_nothing(store, tmp_path):
    """A rule that breaks while its points are computed (stored unchecked, as a bug would
    make it) fails the ingest: no rows, no alerts, no events, the run recorded as failed."""
    world(store, tmp_path)
    service.create_rule(store, SYSTEM, name="who", kind="threshold",
                        params={"averaging": "24h", "limit": "who"}, severity="info",
                        observed_property="pm25")
    with store.transaction() as cur:
        cur.execute("INSERT INTO alert_rules (name, kind, params, severity) VALUES (?, ?, ?, ?)",
                    ["broken", "threshold", json.dumps({
                        "averaging": "24h", "limit": 10.0, "min_valid": "eighteen",
                        "escalate": [], "clear_hours": 6}), "minor"])
    before = overlap.Overlap.computed
    path = series_csv(tmp_path / "a.csv", {("BJ1", "pm25"): [10.0] * 30 + [90.0] * 40})
    overlap.ENABLED = True
    try:
        with pytest.raises(TypeError):
            ingest(store, path)
    finally:
        overlap.ENABLED = None
    assert overlap.Overlap.computed == before + 1  # it failed on the thread
    assert store.scalar("SELECT count(*) FROM observations") == 0
    assert store.scalar("SELECT count(*) FROM alerts") == 0
    assert store.scalar("SELECT count(*) FROM alert_events") == 0
    assert store.scalar("SELECT count(*) FROM incidents") == 0
    assert store.scalar("SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1") == "failed"


@pytest.mark.parametrize("spare", [True, False], ids=["core-to-spare", "no-core-to-spare"])
def test_the_thread_only_where_a_core_is_left_beside_duckdb(tmp_path, spare):
    """By default the evaluation overlaps the append only if the machine has a core that
    DuckDB's own threads leave free; otherwise it would only compete with the append."""
    cores = os.cpu_count() or 1
    if spare and cores < 2:
        pytest.skip("one core: never a core to spare")
    store = open_store(Settings(home=tmp_path / "home", threads=cores - 1 if spare else cores))
    try:
        assert overlap.ENABLED is None
        with store.transaction() as cur:
            assert overlap.Overlap(cur).enabled is spare
    finally:
        store.close()
