"""A corrected value changes its alerts in the ingest that brings it, on both evaluation paths
of a file ingest (computed on a thread beside the append, and after it) and through
SensorThings: the alerts after a correction are those of the corrected data ingested at once,
and evaluating every rule over the store again finds nothing to change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from serving import serve
from sta_station import post_station

from ecobridge.alerts import overlap, service
from ecobridge.alerts.evaluate import evaluate_all
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM, accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.store import open_store

from .helpers import T0, ingest, series_csv, snapshot, world

HOURS = 48
LOW = [round(30 + 0.1 * (i % 7), 2) for i in range(HOURS)]  # never above the limit
KEY = ("BJ1", "pm25")


@pytest.fixture(params=overlap.MODES)
def threaded(request):
    overlap.MODE = request.param
    yield request.param
    overlap.MODE = None


def _setup(store, home: Path) -> None:
    world(store, home)
    service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        severity="moderate", observed_property="pm25")


def _ingest(store, path: Path, threaded: bool) -> None:
    before = overlap.Overlap.computed
    ingest(store, path)
    assert overlap.Overlap.computed - before == int(threaded != "sequential")  # the path taken


def _series(high: dict[int, float]) -> list[float]:
    return [high.get(i, x) for i, x in enumerate(LOW)]


def _fix(store, tmp_path: Path, threaded: bool, values: dict[int, float]) -> None:
    """One ingest of corrected values (hour -> value), in one file."""
    path = tmp_path / f"fix-{min(values)}.csv"
    lines = ["station,variable,time,value,unit"]
    for hour, value in sorted(values.items()):
        t = (T0 + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"BJ1,pm25,{t},{value},ug/m3")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _ingest(store, path, threaded)


def _fresh(tmp_path: Path, values: list[float]) -> list[tuple]:
    """The alerts of `values` ingested at once into an empty store."""
    home = tmp_path / "fresh"
    store = open_store(Settings(home=home / "home", memory_limit="1GB", threads=2))
    try:
        _setup(store, home)
        ingest(store, series_csv(home / "all.csv", {KEY: values}))
        return snapshot(store)
    finally:
        store.close()


def _alerts(store) -> list[tuple]:
    return store.rows("SELECT id, resolution, peak_value FROM alerts ORDER BY started_at, id")


def _events(store, alert_id: int) -> list[str]:
    return [r[0] for r in store.rows(
        "SELECT kind FROM alert_events WHERE alert_id = ? ORDER BY id", [alert_id])]


def _settled(store) -> None:
    """The incremental outcome is the full evaluation's: evaluating all again changes nothing."""
    before = (snapshot(store), store.scalar("SELECT count(*) FROM alert_events"))
    with store.transaction() as cur:
        evaluate_all(cur)
    assert (snapshot(store), store.scalar("SELECT count(*) FROM alert_events")) == before


def _start(store, tmp_path: Path, threaded: bool, high: dict[int, float]) -> list[tuple]:
    _setup(store, tmp_path)
    _ingest(store, series_csv(tmp_path / "first.csv", {KEY: _series(high)}), threaded)
    assert snapshot(store) == _fresh(tmp_path / "before", _series(high))
    return _alerts(store)


def test_a_corrected_value_withdraws_its_alert(store, tmp_path, threaded):
    [(alert, resolution, _)] = _start(store, tmp_path, threaded, {10: 150.0})
    assert resolution == "auto"  # later values are low
    _fix(store, tmp_path, threaded, {10: 31.0})
    assert _alerts(store) == [(alert, "retracted", 150.0)]
    assert _events(store, alert)[-1] == "retracted"
    assert snapshot(store) == _fresh(tmp_path, _series({10: 31.0})) == []
    _settled(store)


def test_a_corrected_value_that_still_fires_updates_the_peak(store, tmp_path, threaded):
    [(alert, _, peak)] = _start(store, tmp_path, threaded, {10: 150.0, 11: 140.0})
    assert peak == 150.0
    _fix(store, tmp_path, threaded, {10: 120.0})
    assert _alerts(store) == [(alert, "auto", 140.0)]  # the same alert, its peak lowered
    assert _events(store, alert)[-1] == "updated"
    assert snapshot(store) == _fresh(tmp_path, _series({10: 120.0, 11: 140.0}))
    _settled(store)


def test_a_correction_that_splits_an_episode(store, tmp_path, threaded):
    high = dict.fromkeys(range(10, 17), 150.0)
    [(alert, _, _)] = _start(store, tmp_path, threaded, high)
    lowered = dict.fromkeys(range(12, 15), 30.0)  # 4 h between firing points > clear_hours
    _fix(store, tmp_path, threaded, lowered)
    after = _alerts(store)
    assert len(after) == 2 and after[0][0] == alert  # the first part keeps the alert
    assert {r[1] for r in after} == {"auto"}
    want = _fresh(tmp_path, _series(high | lowered))
    assert len(want) == 2 and snapshot(store) == want
    _settled(store)


def test_a_correction_that_merges_two_episodes(store, tmp_path, threaded):
    high = {10: 150.0, 11: 150.0, 16: 150.0, 17: 150.0}
    (first, _, _), (second, _, _) = _start(store, tmp_path, threaded, high)
    raised = dict.fromkeys(range(12, 16), 150.0)
    _fix(store, tmp_path, threaded, raised)
    assert [r[:2] for r in _alerts(store)] == [(first, "auto"), (second, "retracted")]
    assert _events(store, second)[-1] == "retracted"
    want = _fresh(tmp_path, _series(high | raised))
    assert len(want) == 1 and snapshot(store) == want
    _settled(store)


def test_a_duplicate_row_of_a_correction_raises_no_alert(store, tmp_path, threaded):
    """A file repeating a stored time keeps its first row: the repeat is rejected, and is
    not evaluated either."""
    assert _start(store, tmp_path, threaded, {}) == []
    path = tmp_path / "repeat.csv"
    times = [(T0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (10, 11)]
    path.write_text("station,variable,time,value,unit\n"
                    f"BJ1,pm25,{times[0]},{LOW[10]},ug/m3\n"
                    f"BJ1,pm25,{times[0]},1000.0,ug/m3\n"    # a repeat of hour 10
                    f"BJ1,pm25,{times[1]},{LOW[11] + 1},ug/m3\n", encoding="utf-8")
    _ingest(store, path, threaded)
    assert store.scalar("SELECT result FROM observations WHERE phenomenon_time = ?",
                        [T0 + timedelta(hours=10)]) == LOW[10]
    assert _alerts(store) == []
    _settled(store)


def test_a_value_corrected_through_sensorthings_withdraws_its_alert(settings, store):
    """The SensorThings write path reads the merged rows back from the store (no hand-over)."""
    create_organisation(store, slug="agency", name="Agency", country="CHN")
    create_dataset(store, slug="air", owner="agency", domain="air", title="Air",
                   licence="CC-BY-4.0", visibility="public")
    accounts.create_user(store, username="pub")
    accounts.set_membership(store, user="pub", org="agency", role="publisher")
    auth = {"Authorization": f"Bearer {tokens.create_token(store, user='pub')['token']}"}
    service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        severity="moderate", observed_property="pm25", dataset="air")

    def post(stream: int, values: dict[int, float]) -> None:
        rows = [[(T0 + timedelta(hours=h)).isoformat(), v] for h, v in sorted(values.items())]
        sent = httpx.post(f"{base}/sta/v1.1/CreateObservations", headers=auth, json=[{
            "Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"],
            "dataArray": rows}])
        assert sent.status_code == 201, sent.text

    with serve(settings, store) as base:
        _, stream = post_station(base, auth, name="Beijing", dataset="air",
                                 coordinates=[116.4, 39.9])
        post(stream, dict(enumerate(_series({10: 150.0}))))
        [(alert, resolution, _)] = _alerts(store)
        assert resolution == "auto"
        post(stream, {10: 31.0})
    assert _alerts(store) == [(alert, "retracted", 150.0)]
    assert _events(store, alert)[-1] == "retracted"
    _settled(store)
