"""Rules on synthetic series fire exactly where they should."""

from __future__ import annotations

import math

import pytest

from ecobridge.alerts import service
from ecobridge.errors import InvalidInput
from ecobridge.governance import SYSTEM

from .helpers import T0, ingest, series_csv, snapshot, world

# 72 h at 50, 48 h at 120, 72 h at 40 (a small wiggle so QC's flat-line test stays quiet)
EPISODE = [v + 0.2 * (i % 2) for i, v in enumerate([50] * 72 + [120] * 48 + [40] * 72)]


def _hour(h: int) -> str:
    return f"2025-01-{1 + h // 24:02d}T{h % 24:02d}:00"


@pytest.fixture
def air(store, tmp_path):
    return world(store, tmp_path)


def _rule(store, kind: str, params: dict, severity: str = "moderate", **scope) -> dict:
    name = f"{kind} {len(service.list_rules(store, SYSTEM))}"
    return service.create_rule(store, SYSTEM, name=name, kind=kind, params=params,
                               severity=severity, **scope)


def test_threshold_uses_each_station_own_national_limit(store, tmp_path, air):
    _rule(store, "threshold", {"averaging": "24h", "limit": "national",
                               "escalate": [[1.5, "severe"]]}, observed_property="pm25")
    ingest(store, series_csv(tmp_path / "o.csv", {("BJ1", "pm25"): EPISODE,
                                                  ("MSK", "pm25"): EPISODE}))
    rows = {r[1]: r for r in snapshot(store)}
    assert len(snapshot(store)) == 2
    # China (GB 3095-2012 grade II, 75): the 24-h mean first exceeds at hour 80 (9 hours of
    # 120 in the window), last at hour 132 (11 of them left); the alert ends at hour 133.
    bj = rows["BJ1"]
    assert bj[3:10] == ("resolved", "auto", "severe", _hour(80), _hour(132), _hour(133), 53)
    assert bj[10] == pytest.approx(120.1) and bj[12] == 75.0
    # Russia (35): 50 is already above it once 18 hours are valid (hour 17), and never clears.
    msk = rows["MSK"]
    assert msk[3:10] == ("open", None, "severe", _hour(17), _hour(191), None, 175)
    assert msk[12] == 35.0


def test_who_guideline_and_min_valid_hours(store, tmp_path, air):
    _rule(store, "threshold", {"averaging": "24h", "limit": "who", "min_valid": 24},
          severity="info", observed_property="pm25")
    values = [10.0 + 0.2 * (i % 2) for i in range(48)] + [20.0 + 0.2 * (i % 2)
                                                         for i in range(48)]
    values[60] = None  # one hour lost: windows holding it have 23 valid hours only
    ingest(store, series_csv(tmp_path / "o.csv", {("BJ1", "pm25"): values}))
    rows = snapshot(store)
    # the mean passes 15 at hour 59 (12 hours at 20.x); windows 60..83 hold the lost hour and
    # are not evaluated, a gap longer than clear_hours: the first alert ends when evaluation
    # resumes at hour 84 and a second one begins there
    assert sorted(r[6:10] for r in rows) == [(_hour(59), _hour(59), _hour(84), 1),
                                               (_hour(84), _hour(95), None, 12)]
    assert {r[12] for r in rows} == {15.0}


def test_aqi_category_rule(store, tmp_path, air):
    _rule(store, "aqi", {"standard": "USA", "min_category": "unhealthy"},
          observed_property="pm25")
    ingest(store, series_csv(tmp_path / "o.csv", {("MSK", "pm25"): EPISODE}))
    [row] = snapshot(store)
    # US AQI 151 (unhealthy) begins at a 24-h mean of 55.5: (k*120 + (24-k)*50)/24 >= 55.5
    k = math.ceil((55.5 - 50) * 24 / 70)
    assert row[6] == _hour(72 + k - 1)
    assert row[12] == 151


def test_rate_of_change_and_anomaly(store, tmp_path, air):
    _rule(store, "rate_of_change", {"max_rise": 50}, observed_property="pm25")
    _rule(store, "anomaly", {"z": 5}, observed_property="no2")
    ingest(store, series_csv(tmp_path / "o.csv", {("BJ1", "pm25"): EPISODE}))
    days = 20
    no2 = [30 + 10 * math.sin(2 * math.pi * i / 24) + 0.3 * ((3 * (i // 24) + 2 * i) % 5)
           for i in range(days * 24)]
    no2 = [round(v, 2) for v in no2]
    no2[18 * 24 + 10] += 200
    ingest(store, series_csv(tmp_path / "n.csv", {("BJ2", "no2"): no2}))
    rows = {r[0].split()[0]: r for r in snapshot(store)}
    assert len(snapshot(store)) == 2
    assert rows["rate_of_change"][6:10] == (_hour(72), _hour(72), _hour(73), 1)
    assert rows["rate_of_change"][10] == pytest.approx(69.8)
    assert rows["anomaly"][6:10] == (_hour(18 * 24 + 10), _hour(18 * 24 + 10),
                                     _hour(18 * 24 + 11), 1)
    assert rows["anomaly"][10] > 100  # the robust z-score of a +200 spike


def test_silence_per_station_and_qc_burst(store, tmp_path, air):
    _rule(store, "silence", {"hours": 6}, severity="minor")
    _rule(store, "qc_burst", {"hours": 6, "count": 3}, severity="minor",
          observed_property="pm25")
    pm25 = [30 + 0.2 * (i % 2) for i in range(48)]
    no2 = [20 + 0.2 * (i % 2) for i in range(48)]
    for h in range(10, 30):
        pm25[h] = None
    for h in range(12, 26):
        no2[h] = None
    for h in (36, 38, 40):
        pm25[h] = 1500.0  # above the suspect range: QC flags them
    ingest(store, series_csv(tmp_path / "o.csv", {("BJ2", "pm25"): pm25,
                                                  ("BJ2", "no2"): no2}))
    rows = snapshot(store)
    silence = [r for r in rows if r[0].startswith("silence")]
    # the station (any variable) was quiet from hour 12 to 25: silent 6 h at 11 + 6 = 17
    assert [r[6:10] for r in silence] == [(_hour(17), _hour(17), _hour(26), 1)]
    assert silence[0][10] == 15.0
    # qc_burst agrees with a SQL window count over the stored flags
    expected = store.rows("""
        SELECT strftime(phenomenon_time, '%Y-%m-%dT%H:%M') FROM (
          SELECT phenomenon_time, count(*) FILTER (WHERE quality_flag IN (3, 4)) OVER (
            ORDER BY phenomenon_time RANGE BETWEEN INTERVAL '5 hours 59 minutes' PRECEDING
            AND CURRENT ROW) AS n FROM observations o JOIN datastreams s
            ON s.id = o.datastream_id JOIN observed_properties p ON p.id = s.observed_property_id
          WHERE p.code = 'pm25') WHERE n >= 3 ORDER BY 1""")
    burst = [r for r in rows if r[0].startswith("qc_burst")]
    assert expected and len(burst) == 1
    assert (burst[0][6], burst[0][7], burst[0][9]) == (expected[0][0], expected[-1][0],
                                                       len(expected))


def test_rule_parameters_are_checked(store, air):
    with pytest.raises(InvalidInput, match="limit"):
        _rule(store, "threshold", {"averaging": "24h"})
    with pytest.raises(InvalidInput, match="averaging"):
        _rule(store, "threshold", {"averaging": "day", "limit": 5})
    with pytest.raises(InvalidInput, match="unknown parameter"):
        _rule(store, "silence", {"hours": 6, "minutes": 3})
    rule = _rule(store, "threshold", {"averaging": "8h", "limit": 100})
    assert rule["params"]["min_valid"] == 6 and rule["params"]["clear_hours"] == 6
    assert T0.year == 2025
