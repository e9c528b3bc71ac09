"""The incidents' bounded read (`incidents._nearby`: stored alerts near the new ones in time and
space, their incidents' first starts from the whole table) gives the same incidents as the read
of every stored alert with an incident (`incidents._all_stored`, the read before it was bounded).

The store holds two years of alerts from five stations, raised through the real ingest in
quarterly files (so incidents chain across files), with a retracted alert and incidents whose
first alert lies far outside the window of the alerts that reach it. New alerts are then
placed against it: at the 48-hour gap to the microsecond, at 400 km on either side in several
directions, near a pole and across the antimeridian, and a random batch.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ecobridge.alerts import incidents, service
from ecobridge.alerts.models import HOUR_US
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.store import open_store

from .helpers import ingest, series_csv

START = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 730
GAP = incidents.HOURS * HOUR_US
# code, lat, lon: A and B 70 km apart; C alone; P near the pole; E by the antimeridian
STATIONS = {"A": (40.0, 100.0), "B": (40.5, 100.5), "C": (48.0, 60.0), "P": (85.0, 20.0),
            "E": (60.0, 179.8)}
QUIET_AB = (198, 218)  # days without random spikes at A and B, around the chain below
CHAIN_DAY = 200  # A: 2 h on day 200; B: from day 201 for 12 days (one incident, first = A's)
C_LONG_DAY = 400  # C: a spike (later retracted) 30 h before a 13-day episode


def _us(day: float) -> int:
    return int((START + timedelta(days=day)).timestamp() * 1_000_000)


def _series() -> dict:
    """Hourly pm25 at every station: base 30, spikes above 100 (the rule's limit)."""
    rng = np.random.default_rng(7)
    hours = DAYS * 24
    out = {}
    for code in STATIONS:
        v = 30.0 + 0.5 * (np.arange(hours) % 5)
        if code in "ABPE":
            for h in np.sort(rng.choice(hours - 4, hours // 40, replace=False)):
                if code in "AB" and QUIET_AB[0] * 24 <= h < QUIET_AB[1] * 24:
                    continue
                v[h:h + 1 + h % 3] = 150.0 + h % 7
        if code == "C":
            for day in range(5, DAYS - 5, 10):
                if abs(day - C_LONG_DAY) > 20:
                    v[day * 24 + 6:day * 24 + 8] = (150.0, 151.5)
        out[(code, "pm25")] = v
    a, b, c = out[("A", "pm25")], out[("B", "pm25")], out[("C", "pm25")]
    a[CHAIN_DAY * 24:CHAIN_DAY * 24 + 2] = (150.0, 151.0)
    b[(CHAIN_DAY + 1) * 24:(CHAIN_DAY + 13) * 24] = 150.0 + np.arange(12 * 24) % 7
    c[C_LONG_DAY * 24] = 160.0
    c[C_LONG_DAY * 24 + 30:C_LONG_DAY * 24 + 30 + 13 * 24] = 150.0 + np.arange(13 * 24) % 5
    return {k: [round(float(x), 2) for x in v] for k, v in out.items()}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """The store after two years of quarterly ingests, and C's spike before its long episode
    retracted by a corrected value. One per module: the tests only read it, but for the last,
    which adds incidents without alerts."""
    tmp_path = tmp_path_factory.mktemp("incidents")
    store = open_store(Settings(home=tmp_path / "home", memory_limit="1GB", threads=2))
    create_organisation(store, slug="agency", name="Agency", country="CHN")
    create_dataset(store, slug="air", owner="agency", domain="air", title="Air",
                   licence="CC-BY-4.0", visibility="public")
    lines = ["code,name,lat,lon"] + [f"{c},Station {c},{lat},{lon}"
                                     for c, (lat, lon) in STATIONS.items()]
    path = tmp_path / "stations.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_file(store, path, dataset="air", kind="stations")
    service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        observed_property="pm25", dataset="air")
    series = _series()
    quarter = DAYS * 24 // 8
    for n in range(8):
        part = {k: v[n * quarter:(n + 1) * quarter] for k, v in series.items()}
        ingest(store, series_csv(tmp_path / f"q{n}.csv", part,
                                 start=START + timedelta(hours=n * quarter)))
    ingest(store, series_csv(tmp_path / "fix.csv", {("C", "pm25"): [31.0]},
                             start=START + timedelta(days=C_LONG_DAY)))
    yield store
    store.close()


def _alerts(store, code: str) -> list[tuple]:
    """(incident, start us, last us, resolution) of a station's alerts in time order."""
    return store.rows(
        "SELECT a.incident_id, epoch_us(a.started_at), epoch_us(a.last_seen_at), a.resolution"
        " FROM alerts a JOIN things t ON t.id = a.thing_id WHERE t.code = ?"
        " ORDER BY a.started_at", [code])


def _both(store, new: list) -> tuple[list, list, int, int]:
    """Incidents planned from the bounded read and from the full read, and the rows each read."""
    cur = store.cursor()
    bounded, full = incidents._nearby(cur, new), incidents._all_stored(cur, new)
    a, b = incidents._plan(bounded, new), incidents._plan(full, new)
    return [a[0].tolist(), a[1]], [b[0].tolist(), b[1]], len(bounded), len(full)


def _same(store, new: list) -> list[int]:
    got, want, n_bounded, n_full = _both(store, new)
    assert got == want
    assert n_bounded <= n_full
    return want[0]


def _toward(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """(lon, lat) `km` away on the sphere of incidents._km, along `bearing` degrees."""
    d = km / incidents.EARTH_KM
    p1, l1, th = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(th))
    l2 = l1 + math.atan2(math.sin(th) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540) % 360 - 180
    return lon2, math.degrees(p2)


def test_store_holds_many_alerts_chained_across_files(filled):
    store = filled
    n, n_inc = store.one("SELECT count(*), count(DISTINCT incident_id) FROM alerts")
    assert n > 1000 and n_inc < n
    # incidents made in one quarterly file and joined from the next
    quarter = DAYS * 24 // 8 * HOUR_US
    spans = store.rows(
        "SELECT incident_id, min(epoch_us(started_at)), max(epoch_us(started_at)) FROM alerts"
        " GROUP BY 1")
    assert any((lo - _us(0)) // quarter != (hi - _us(0)) // quarter for _i, lo, hi in spans)
    c = _alerts(store, "C")
    assert [r[3] for r in c if r[1] == _us(C_LONG_DAY)] == ["retracted"]


def test_the_48_hour_gap_to_the_microsecond(filled):
    store = filled
    inc, s, e, _res = _alerts(store, "C")[30]  # C's spikes are 10 days apart, alone
    lon, lat = STATIONS["C"][1], STATIONS["C"][0]
    assert _same(store, [(lon, lat, e + GAP, e + GAP + HOUR_US)]) == [inc]
    assert _same(store, [(lon, lat, e + GAP + 1, e + GAP + HOUR_US)]) == [-1]
    assert _same(store, [(lon, lat, s - GAP - HOUR_US, s - GAP)]) == [inc]
    assert _same(store, [(lon, lat, s - GAP - HOUR_US, s - GAP - 1)]) == [-1]


@pytest.mark.parametrize("code", ["C", "P", "E"])
@pytest.mark.parametrize("bearing", [0, 45, 90, 135, 180, 270])
def test_400_km_on_either_side(filled, code, bearing):
    store = filled
    lat, lon = STATIONS[code]
    # an alert of the station that no other alert of it comes within the gap of
    rows = _alerts(store, code)
    k = next(k for k in range(10, len(rows) - 1)
             if rows[k][3] != "retracted" and rows[k][1] - rows[k - 1][2] > GAP + HOUR_US
             and rows[k + 1][1] - rows[k][2] > GAP + HOUR_US)
    inc, s, e, _res = rows[k]
    inside = _toward(lat, lon, incidents.KM - 0.05, bearing)
    outside = _toward(lat, lon, incidents.KM + 0.05, bearing)
    assert _same(store, [(*inside, s, e)]) == [inc]
    joined = _same(store, [(*outside, s, e)])
    # beyond 400 km of this station, the only other station within 400 km would be B for A
    assert joined == [-1]
    # both at once: the outer one joins through the inner one
    assert _same(store, [(*inside, s, e), (*outside, s + 1, e + 1)]) == [inc, inc]


def test_across_the_antimeridian_and_near_a_pole(filled):
    store = filled
    for code, (lon, lat) in (("E", (-179.9, 60.5)), ("P", (20.0, 88.0))):
        inc, s, e, _res = _alerts(store, code)[40]
        assert incidents._km(lon, lat, STATIONS[code][1], STATIONS[code][0]) < incidents.KM
        got = _same(store, [(lon, lat, s, e)])
        assert got[0] > 0  # joins a stored incident (that alert's, or one near it in time)
    # a batch spread over most longitudes: no longitude bound, same answer
    _same(store, [(-179.9, 60.5, s, e), (179.0, 10.0, s, e), (0.0, 0.0, s, e)])


def test_an_incident_that_began_outside_the_window_stays_closed(filled):
    store = filled
    a, b = _alerts(store, "A"), _alerts(store, "B")
    first = next(r for r in a if r[1] == _us(CHAIN_DAY))
    long_ = next(r for r in b if r[1] == _us(CHAIN_DAY + 1))
    assert first[0] == long_[0] and long_[2] - long_[1] > 10 * 24 * HOUR_US
    lon, lat = STATIONS["A"][1], STATIONS["A"][0]
    # 14.5 days after the incident's first start: B's long alert is in the window, A's first
    # one is not; the incident is closed, so the new alert opens its own
    late = _us(CHAIN_DAY + 14.5)
    assert incidents._nearby(store.cursor(), [(lon, lat, late, late + HOUR_US)])
    assert first[2] < late - GAP
    assert _same(store, [(lon, lat, late, late + HOUR_US)]) == [-1]
    # half a day earlier it is still open
    early = _us(CHAIN_DAY + 13.5)
    assert _same(store, [(lon, lat, early, early + HOUR_US)]) == [first[0]]


def test_a_retracted_first_alert_still_dates_its_incident(filled):
    store = filled
    c = _alerts(store, "C")
    retracted = next(r for r in c if r[3] == "retracted")
    long_ = next(r for r in c if r[1] > retracted[1])
    assert long_[0] == retracted[0]
    lon, lat = STATIONS["C"][1], STATIONS["C"][0]
    # 10 h past 14 days after the retracted start: closed (the incident began with it),
    # though 14 days after the long alert's start it would still be open
    s = retracted[1] + 14 * 24 * HOUR_US + 10 * HOUR_US
    assert s - 14 * 24 * HOUR_US <= long_[1]
    assert _same(store, [(lon, lat, s, s + HOUR_US)]) == [-1]


def test_random_batches_and_the_real_assign(filled):
    store = filled
    rng = np.random.default_rng(3)
    codes = list(STATIONS)
    for _round in range(4):
        day0 = float(rng.uniform(0, DAYS - 60))
        near = rng.choice(codes, 2, replace=False)
        new = []
        for _i in range(150):
            lat, lon = STATIONS[near[rng.integers(2)]]
            s = _us(day0 + float(rng.uniform(0, 60)))
            new.append((float(np.clip(lon + rng.normal(0, 2), -180, 180)),
                        float(np.clip(lat + rng.normal(0, 2), -90, 90)),
                        s, s + int(rng.integers(0, 200)) * HOUR_US))
        got, want, n_bounded, n_full = _both(store, new)
        assert got == want and n_bounded < n_full
        assert want[1] < 0 and any(x > 0 for x in want[0])  # joins and new incidents
    # the last month, as an ingest of recent data would bring
    pts = [(lon, lat) for lat, lon in STATIONS.values()]
    recent = [(*pts[k % 4], _us(DAYS - 20 + k / 3), _us(DAYS - 20 + k / 3) + 5 * HOUR_US)
              for k in range(40)]
    got, want, _n, _m = _both(store, recent)
    assert got == want and any(x > 0 for x in want[0])
    # assign itself: stored ids as planned, new incidents made in the planned order
    before = store.scalar("SELECT max(id) FROM incidents")
    with store.transaction() as cur:
        made = incidents.assign(cur, recent)
    ids = [r[0] for r in store.rows("SELECT id FROM incidents WHERE id > ? ORDER BY id",
                                    [before])]
    assert len(ids) == -want[1] > 0
    assert made == [x if x > 0 else ids[-x - 1] for x in want[0]]
