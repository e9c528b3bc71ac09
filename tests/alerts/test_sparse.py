"""The fast paths against their references: sparse rule points against the dense evaluation
(across the dates a national standard changes), the sorted-window median and MAD against
np.nanmedian, incident grouping against the one-alert-at-a-time placement, and re-ingesting an
unchanged file with rules installed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ecobridge.alerts import incidents, service, sparse
from ecobridge.alerts.evaluate import episodes
from ecobridge.alerts.models import HOUR_US, Rule, check_params
from ecobridge.alerts.overlap import _joined
from ecobridge.alerts.rules import Rows, Stream, _median_mad
from ecobridge.alerts.rules import points as dense_points
from ecobridge.alerts.sparse import points as sparse_points
from ecobridge.governance import SYSTEM

from .helpers import ingest, series_csv, snapshot, world

# China's 2026 air quality standard (limits and AQI) comes into force on 2026-03-01; the US
# AQI breakpoints changed on 2024-05-06
STARTS = (datetime(2026, 2, 12, tzinfo=UTC), datetime(2024, 4, 20, 7, tzinfo=UTC))
COUNTRIES = ("CHN", "RUS", "IND", "USA", "KAZ", None)
PROPS = ("pm25", "pm10", "no2", "so2", "o3", "co")


def _rows(seed: int, start: datetime, hours: int = 24 * 30) -> tuple[Rows, dict]:
    """Hourly series of every property at stations in several countries: episodes, gaps,
    missing and flagged values, a few series that start late or stop early."""
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1e6)
    ds, t, v, f, streams = [], [], [], [], {}
    for k, (country, prop) in enumerate((c, p) for c in COUNTRIES for p in PROPS):
        sid = 10 + k
        streams[sid] = Stream(sid, 100 + k // len(PROPS), 1, prop,
                              "mg/m3" if prop == "co" else "ug/m3", country, 6 * HOUR_US)
        hour = np.sort(rng.choice(hours, size=int(hours * rng.uniform(0.6, 1.0)),
                                  replace=False))
        level = rng.uniform(5, 60) / (1000 if prop == "co" else 1)
        x = level * np.exp(rng.normal(0, 0.5, len(hour)))
        burst = rng.integers(0, hours, 4)
        for b in burst:  # episodes well above any limit
            x[(hour >= b) & (hour < b + rng.integers(3, 60))] *= rng.uniform(3, 12)
        x[rng.random(len(hour)) < 0.02] = np.nan
        flags = np.where(rng.random(len(hour)) < 0.03, rng.choice([3, 4, 9], len(hour)), 1)
        ds.append(np.full(len(hour), sid))
        t.append(t0 + hour * HOUR_US)
        v.append(np.round(x, 3))
        f.append(flags.astype(np.uint8))
    rows = Rows(*(np.concatenate(c) for c in (ds, t, v, f)))
    return rows, streams


RULES = (
    ("threshold", {"averaging": "24h", "limit": "national", "escalate": [[2, "severe"]]}),
    ("threshold", {"averaging": "24h", "limit": "who", "level": "IT-1", "clear_hours": 2}),
    ("threshold", {"averaging": "8h", "limit": 40.0, "min_valid": 5}),
    ("aqi", {"standard": "national", "fallback": "USA", "min_category": "unhealthy",
             "escalate": [[5, "severe"]]}),
    ("aqi", {"standard": "national", "fallback": "USA", "min_level": 2, "clear_hours": 0}),
    ("qc_burst", {"hours": 6, "count": 2}),
)


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("kind, params", RULES)
def test_sparse_points_give_the_dense_episodes(kind, params, start):
    rows, streams = _rows(hash((kind, str(params), start.year)) % 1000, start)
    rule = Rule(1, "r", kind, check_params(kind, params), "moderate")
    day = 24 * HOUR_US
    t0 = int(rows.t.min())
    # ranges that cut into the series on both sides, and one stream left out
    ranges = {sid: (t0 + (sid % 3) * day, t0 + (25 - sid % 4) * day)
              for sid in streams if sid != 12}

    def within(pts):
        keep = np.array([k in ranges and ranges[k][0] <= x <= ranges[k][1]
                         for k, x in zip(pts.key.tolist(), pts.t.tolist(), strict=True)], bool)
        pts.key, pts.t, pts.value = pts.key[keep], pts.t[keep], pts.value[keep]
        pts.limit, pts.sev = pts.limit[keep], pts.sev[keep]
        return pts

    dense = episodes(rule, within(dense_points(rule, rows, streams)))
    sparse = episodes(rule, sparse_points(rule, Rows(rows.ds, rows.t, rows.v, rows.f),
                                          streams, ranges))
    assert dense, "the data should fire the rule"
    assert sparse == dense


def test_median_and_mad_are_those_of_nanmedian():
    rng = np.random.default_rng(5)
    v = np.round(rng.normal(20, 4, 3000), rng.integers(0, 3))  # ties, even and odd windows
    start = rng.integers(0, 2900, 4000)
    length = rng.integers(1, 60, 4000)
    length = np.minimum(length, len(v) - start)
    med, mad = _median_mad(v, start, length)
    width = int(length.max())
    cols = start[:, None] + np.arange(width)[None, :]
    window = np.where(np.arange(width)[None, :] < length[:, None],
                      v[np.minimum(cols, len(v) - 1)], np.nan)
    want = np.nanmedian(window, axis=1)
    assert np.array_equal(med, want)
    assert np.array_equal(mad, np.nanmedian(np.abs(window - want[:, None]), axis=1))


def test_incident_placement_matches_one_by_one():
    rng = np.random.default_rng(11)
    hour = HOUR_US
    stored = [(int(i), float(x), float(y), int(s), int(s + d), int(s - rng.integers(0, 200)
                                                                   * hour))
              for i, x, y, s, d in zip(rng.integers(1, 30, 60), rng.uniform(60, 90, 60),
                                       rng.uniform(30, 50, 60),
                                       rng.integers(0, 600, 60) * hour,
                                       rng.integers(0, 100, 60) * hour, strict=True)]
    first = {}
    for r in stored:
        first[r[0]] = min(first.get(r[0], r[5]), r[5])
    stored = [(*r[:5], first[r[0]]) for r in stored]
    new = [(float(x), float(y), int(s), int(s + d))
           for x, y, s, d in zip(rng.uniform(60, 90, 400), rng.uniform(30, 50, 400),
                                 rng.integers(0, 900, 400) * hour,
                                 rng.integers(0, 300, 400) * hour, strict=True)]
    place, dist = incidents._places(np.array([r[1] for r in stored]),
                                    np.array([r[2] for r in stored]), new)
    fast = incidents._place(stored, new, dict(first), place, dist)
    slow = incidents._place_each(stored, new, dict(first))
    assert fast[1] < 0 and len(set(fast[0].tolist())) > 5  # both joins and new incidents
    assert fast[0].tolist() == slow[0].tolist() and fast[1] == slow[1]


def test_reingesting_an_unchanged_file_changes_no_alert(store, tmp_path):
    world(store, tmp_path)
    service.create_rule(store, SYSTEM, name="who", kind="threshold",
                        params={"averaging": "24h", "limit": "who"}, severity="info",
                        observed_property="pm25")
    values = [10.0] * 30 + [90.0] * 40 + [10.0] * 60
    path = series_csv(tmp_path / "a.csv", {("BJ1", "pm25"): values})
    ingest(store, path)
    before = snapshot(store)
    events = store.scalar("SELECT count(*) FROM alert_events")
    assert before and events
    report = ingest(store, path)
    assert report.rows_inserted == 0
    assert snapshot(store) == before
    assert store.scalar("SELECT count(*) FROM alert_events") == events


def test_validity_dates_split_the_segments():
    """A station's 24-h PM2.5 limit changes on the day China's 2026 standard applies."""
    rows, streams = _rows(3, STARTS[0])
    rule = Rule(1, "r", "threshold", check_params("threshold", {"averaging": "24h",
                                                                "limit": "national"}),
                "moderate")
    pts = dense_points(rule, rows, streams)
    chn = [s for s, st in streams.items() if st.country == "CHN" and st.prop == "pm25"][0]
    change = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1e6)
    mine = pts.key == chn
    before = set(pts.limit[mine & (pts.t < change)].tolist())
    after = set(pts.limit[mine & (pts.t >= change)].tolist())
    assert len(before) == 1 and len(after) == 1 and before != after
    assert STARTS[0] + timedelta(days=30) > datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("cells", (5, 64, incidents._CELLS))
def test_new_alerts_near_each_other_are_every_such_pair(monkeypatch, cells):
    """The pairs near in time come as ranges, in chunks of about _CELLS: the same pairs as a
    test of every two alerts, whatever the chunks."""
    monkeypatch.setattr(incidents, "_CELLS", cells)
    rng = np.random.default_rng(cells)
    hour = 3600 * 10**6
    n = 300
    start = np.sort(rng.integers(0, 2000, n)) * hour
    last = start + rng.integers(0, 400, n) * hour
    at = rng.integers(0, 12, n)
    close = rng.random((12, 12)) < 0.4
    close |= close.T
    r, c = incidents._near_new(start, last, at, close, 48 * hour)
    want = [(k, j) for k in range(n) for j in range(k)
            if last[j] >= start[k] - 48 * hour and close[at[j], at[k]]]
    assert list(zip(r.tolist(), c.tolist(), strict=True)) == want
    assert len(want) > n  # alerts near several others


@pytest.mark.parametrize("kind, params", RULES)
def test_points_in_parts_with_their_sums_carried_are_those_of_the_whole(kind, params):
    """What alerts.overlap does per QC pass: the rows cut between datastreams, each part's
    running sums starting where the last part's ended, give the whole's points to the bit;
    started from zero instead, the values differ in their last bits."""
    rows, streams = _rows(7, STARTS[0])
    rows.v = rows.v * 7.3 + 1e9 + 0.1  # large sums: their float error shows after rounding
    rule = Rule(1, "r", kind, check_params(kind, params), "moderate")
    ranges = {sid: (int(rows.t.min()), int(rows.t.max())) for sid in streams}
    whole = sparse_points(rule, Rows(rows.ds, rows.t, rows.v, rows.f), streams, ranges)
    cuts = np.searchsorted(rows.ds, [0, 14, 23, 31, 10**9])

    def parts(carry: bool):
        found, total = [], 0.0
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            part = Rows(rows.ds[a:b], rows.t[a:b], rows.v[a:b], rows.f[a:b])
            part.memo["sums_from"] = total if carry else 0.0
            found.append(sparse_points(rule, part, streams, ranges))
            if len(part):
                total = float(sparse._valid_sums(part)[1][-1])
        return _joined(found)

    carried = parts(carry=True)
    for column in ("key", "t", "value", "limit", "sev"):
        assert np.array_equal(getattr(carried, column), getattr(whole, column),
                              equal_nan=column in ("value", "limit"))
    if kind != "qc_burst":  # the one kind without sums
        assert len(whole.t) > 0
        assert not np.array_equal(parts(carry=False).value, whole.value, equal_nan=True)
