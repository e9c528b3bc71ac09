"""The evaluation computed on a thread while the ingest appends its rows, or while it commits
them (alerts.overlap), gives the alerts, events and incidents of the sequential evaluation. A
failure on the thread beside the append fails the ingest with nothing written; beside the
commit, the rows stay and the run stays marked until its alerts are written, as after a
process killed between the two transactions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from ecobridge.alerts import evaluate, incidents, overlap, scheduler, service
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.monitoring import merge, qc
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


def _run(tmp_path, name: str, mode: str, monkeypatch=None) -> tuple[list, list, list, int]:
    passes = []
    if monkeypatch is not None:  # QC passes of one datastream: the running sums go on
        monkeypatch.setattr(merge, "EARLY_CHUNK", 1)
        monkeypatch.setattr(merge, "PASSES", 10_000)
        settled = overlap.Overlap.settled
        monkeypatch.setattr(overlap.Overlap, "settled",
                            lambda self, rows: (passes.append(rows), settled(self, rows)))
    home = tmp_path / name
    store = open_store(Settings(home=home / "home"))
    before = overlap.Overlap.computed
    overlap.MODE = mode
    try:
        series = ingest_chunks(store, home, CHUNKS)
        revised = {k: [None if x is None else round(x * (0.5 if i < 200 else 1.3), 2)
                       for i, x in enumerate(v)] for k, v in series.items()}
        ingest(store, series_csv(home / "revised.csv", {k: v[90:340] for k, v in
                                                        revised.items()},
                                 start=T0 + timedelta(hours=90)))
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE alerts_pending") == 0
        assert mode != "qc" or len(set(passes)) >= 2 * (len(CHUNKS) + 1)  # passes per ingest
        return (snapshot(store), _events(store), _incidents(store),
                overlap.Overlap.computed - before)
    finally:
        overlap.MODE = None
        store.close()


@pytest.mark.parametrize("mode", ["append", "commit", "qc"])
def test_threaded_evaluation_equals_sequential(tmp_path, mode, monkeypatch):
    alerts, events, incidents, runs = _run(tmp_path, mode, mode, monkeypatch)
    want_alerts, want_events, want_incidents, none = _run(tmp_path, "sequential", "sequential")
    assert runs == len(CHUNKS) + 1 and none == 0  # each ingest took the path it was meant to
    kinds = {e[3] for e in want_events}
    assert {"opened", "resolved", "retracted"} <= kinds and len(want_alerts) > 10
    assert alerts == want_alerts
    assert events == want_events
    assert incidents == want_incidents


def _broken_rule(store, tmp_path) -> None:
    """The WHO guideline and a rule that breaks while its points are computed (stored
    unchecked, as a bug would make it)."""
    world(store, tmp_path)
    service.create_rule(store, SYSTEM, name="who", kind="threshold",
                        params={"averaging": "24h", "limit": "who"}, severity="info",
                        observed_property="pm25")
    with store.transaction() as cur:
        cur.execute("INSERT INTO alert_rules (name, kind, params, severity) VALUES (?, ?, ?, ?)",
                    ["broken", "threshold", json.dumps({
                        "averaging": "24h", "limit": 10.0, "min_valid": "eighteen",
                        "escalate": [], "clear_hours": 6}), "minor"])


SERIES = {("BJ1", "pm25"): [10.0] * 30 + [90.0] * 40}


def test_a_failure_beside_the_append_fails_the_ingest_and_writes_nothing(store, tmp_path):
    """No rows, no alerts, no events, the run recorded as failed."""
    _broken_rule(store, tmp_path)
    before = overlap.Overlap.computed
    path = series_csv(tmp_path / "a.csv", SERIES)
    overlap.MODE = "append"
    try:
        with pytest.raises(TypeError):
            ingest(store, path)
    finally:
        overlap.MODE = None
    assert overlap.Overlap.computed == before + 1  # it failed on the thread
    assert store.scalar("SELECT count(*) FROM observations") == 0
    assert store.scalar("SELECT count(*) FROM alerts") == 0
    assert store.scalar("SELECT count(*) FROM alert_events") == 0
    assert store.scalar("SELECT count(*) FROM incidents") == 0
    assert store.scalar("SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1") == "failed"


def _reference(tmp_path) -> list:
    """The alerts of SERIES with the WHO rule alone, evaluated in the ingest's transaction."""
    store = open_store(Settings(home=tmp_path / "reference"))
    overlap.MODE = "sequential"
    try:
        world(store, tmp_path / "reference")
        service.create_rule(store, SYSTEM, name="who", kind="threshold",
                            params={"averaging": "24h", "limit": "who"}, severity="info",
                            observed_property="pm25")
        ingest(store, series_csv(tmp_path / "reference.csv", SERIES))
        return snapshot(store)
    finally:
        overlap.MODE = None
        store.close()


@pytest.mark.parametrize("mode", ["commit", "qc"])
def test_a_failure_beside_the_commit_keeps_the_rows_and_the_run_pending(store, tmp_path, mode):
    """Beside the commit, the rows are committed before the evaluation is done; beside the
    QC (the default), its failure leaves the rows to commit without alerts. Either way the
    rows stay, the run is marked with the error, and once the broken rule is gone the
    pending run gets its alerts."""
    _broken_rule(store, tmp_path)
    overlap.MODE = mode
    try:
        report = ingest(store, series_csv(tmp_path / "a.csv", SERIES))
    finally:
        overlap.MODE = None
    assert report.rows_inserted == 70
    assert store.scalar("SELECT count(*) FROM observations") == 70
    assert store.scalar("SELECT count(*) FROM alerts") == 0
    pending, error, status = store.one(
        "SELECT alerts_pending, alerts_error, status FROM ingest_runs ORDER BY id DESC LIMIT 1")
    assert pending and status == "done" and "greater_equal" in error  # the broken rule's
    assert evaluate.recover(store) == []  # still broken: the run stays marked
    assert store.scalar("SELECT count(*) FROM ingest_runs WHERE alerts_pending") == 1
    store.execute("DELETE FROM alert_rules WHERE name = 'broken'")
    assert evaluate.recover(store) == [report.run_id]
    assert store.one("SELECT alerts_pending, alerts_error FROM ingest_runs WHERE id = ?",
                     [report.run_id]) == (False, None)
    assert snapshot(store) == _reference(tmp_path) != []


KILLED = """
import os, sys
from ecobridge.alerts import overlap
from ecobridge.config import Settings
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.store import open_store

overlap.MODE = "commit"
overlap.Overlap.write = lambda self, cur, run_id: os._exit(9)  # killed between the commits
store = open_store(Settings(home=sys.argv[1]))
ingest_file(store, sys.argv[2], dataset="air", kind="observations")
"""


def test_a_process_killed_between_the_commits_leaves_the_run_to_evaluate(tmp_path):
    """A real process ends (os._exit) after the rows' commit, before the alerts' one; the
    store opened again holds the rows and the marked run, and a server starting on it (or
    `ecobridge alerts evaluate`) gives the run its alerts, those of an unbroken ingest."""
    home = tmp_path / "killed"
    store = open_store(Settings(home=home))
    world(store, tmp_path)
    service.create_rule(store, SYSTEM, name="who", kind="threshold",
                        params={"averaging": "24h", "limit": "who"}, severity="info",
                        observed_property="pm25")
    store.close()
    path = series_csv(tmp_path / "a.csv", SERIES)
    done = subprocess.run([sys.executable, "-c", KILLED, str(home), str(path)], timeout=120)
    assert done.returncode == 9
    store = open_store(Settings(home=home))
    try:
        assert store.scalar("SELECT count(*) FROM observations") == 70
        assert store.scalar("SELECT count(*) FROM alerts") == 0
        run = store.scalar("SELECT id FROM ingest_runs WHERE alerts_pending")
        assert run is not None
        start_workers = scheduler.start_workers(store)  # what the server does at start
        scheduler.stop_workers(start_workers)
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE alerts_pending") == 0
        assert snapshot(store) == _reference(tmp_path) != []
    finally:
        store.close()


def test_by_default_beside_the_qc(store):
    assert overlap.MODE is None
    with store.transaction() as cur:
        assert overlap.Overlap(cur).mode == "qc"


def test_a_merge_stopped_during_its_qc_stops_the_evaluation(store, tmp_path, monkeypatch):
    """The evaluation waits for QC passes that will not come: the merge's failure ends it,
    the ingest fails with the merge's own error and nothing is written."""
    world(store, tmp_path)
    service.create_rule(store, SYSTEM, name="who", kind="threshold",
                        params={"averaging": "24h", "limit": "who"}, severity="info",
                        observed_property="pm25")
    threads = []
    start = overlap.Overlap.start

    def started(self, series):
        start(self, series)
        threads.append(self._thread)

    def broken(*args, on_chunk=None, **kwargs):
        raise MemoryError("QC stopped")

    monkeypatch.setattr(overlap.Overlap, "start", started)
    monkeypatch.setattr(qc, "evaluate", broken)
    with pytest.raises(MemoryError):
        ingest(store, series_csv(tmp_path / "a.csv", SERIES))
    threads[0].join(timeout=30)
    assert not threads[0].is_alive()
    assert store.scalar("SELECT count(*) FROM observations") == 0
    assert store.scalar("SELECT count(*) FROM alerts") == 0


def test_incidents_placed_ahead_equal_placed_at_the_insert(tmp_path, monkeypatch):
    """The evaluation reads the stored alerts a new one could join before the new ones are
    known (incidents.around, a superset around the stations and times evaluated) and places
    them on the thread; placed at the insert, from exactly the stored neighbours (the read
    `incidents.assign` makes), every incident holds the same alerts."""
    ahead = _run(tmp_path, "ahead", "sequential")
    monkeypatch.setattr(incidents, "around", lambda cur, spans: None)
    at_insert = _run(tmp_path, "at-insert", "sequential")
    assert ahead[2] == at_insert[2] and len(ahead[2]) > 3
    assert ahead[:2] == at_insert[:2]


def test_the_cli_names_a_rule_it_cannot_evaluate_and_evaluates_the_others(tmp_path,
                                                                           monkeypatch):
    """`ecobridge alerts evaluate` with a broken rule: exit code 1 and a line naming it (no
    traceback); the other rules' alerts are those they would have alone."""
    from typer.testing import CliRunner

    from ecobridge.cli import _register, app
    from ecobridge.errors import EcobridgeError

    home = tmp_path / "home"
    store = open_store(Settings(home=home))
    try:
        _broken_rule(store, tmp_path)
        overlap.MODE = "sequential"  # the rows without their alerts: the ingest fails on it
        with pytest.raises(TypeError):
            ingest(store, series_csv(tmp_path / "a.csv", SERIES))
        overlap.MODE = "qc"  # the rows, their run left pending
        ingest(store, series_csv(tmp_path / "a.csv", SERIES))
    finally:
        overlap.MODE = None
        store.close()
    monkeypatch.setenv("ECOBRIDGE_HOME", str(home))
    _register()
    result = CliRunner().invoke(app, ["alerts", "evaluate", "--no-silence"])
    assert isinstance(result.exception, EcobridgeError), result.output
    assert "rule" in result.exception.detail and "'broken' cannot be evaluated" in \
        result.exception.detail and "TypeError" in result.exception.detail
    assert "evaluated: {" in result.output
    store = open_store(Settings(home=home))
    try:
        assert snapshot(store) == _reference(tmp_path) != []
        # the pending run stays so while the rule is broken
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE alerts_pending") == 1
    finally:
        store.close()
