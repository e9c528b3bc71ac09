"""Downsampled series for charts: bucket summaries equal what the raw rows say, LTTB keeps the
ends and the spike, sizes are bounded, ranges are respected, hidden datastreams are missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from api.data import add_datastream, add_thing, build  # tests/ on sys.path
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import ANONYMOUS
from ecobridge.monitoring import series as S

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOURS = 2 * 8760
SPIKE = 9_999  # hour index of the spike


def _insert(store, datastream_id: int, hours: np.ndarray, values: np.ndarray,
            flags: np.ndarray | None = None) -> None:
    """Columnar insert of a long synthetic series (executemany would take minutes)."""
    base = int(T0.timestamp() * 1_000_000)
    table = pa.table({
        "id": pa.array(np.arange(1, len(hours) + 1) + datastream_id * 10_000_000),
        "t": pa.array(base + hours.astype(np.int64) * 3_600_000_000, pa.int64()),
        "v": pa.array(values, pa.float64(), mask=np.isnan(values)),
        "f": pa.array(np.ones(len(hours), np.uint8) if flags is None else flags, pa.uint8()),
    })
    with store.transaction() as cur:
        cur.register("synthetic", table)
        cur.execute("INSERT INTO observations (id, datastream_id, phenomenon_time, result,"
                    " quality_flag) SELECT id, ?, make_timestamptz(t), v, f FROM synthetic"
                    " ORDER BY t", [datastream_id])
        cur.unregister("synthetic")
        cur.execute(
            "UPDATE datastreams SET observation_count = a.n, phenomenon_time_start = a.lo,"
            " phenomenon_time_end = a.hi, last_phenomenon_time = a.hi, last_result = a.last_r"
            " FROM (SELECT count(*) AS n, min(phenomenon_time) AS lo, max(phenomenon_time) AS hi,"
            "  arg_max(result, phenomenon_time) AS last_r FROM observations"
            "  WHERE datastream_id = ?) a WHERE datastreams.id = ?", [datastream_id, datastream_id])


@pytest.fixture
def synthetic(store):
    """The read-API world plus a two-year hourly series with gaps, a spike and a failed value."""
    world = build(store)
    thing = add_thing(store, world.datasets["kz-air"], "SYN-1", 76.9, 43.2, "Synthetic")
    stream = add_datastream(store, thing)
    rng = np.random.default_rng(7)
    hours = np.arange(HOURS)
    keep = rng.random(HOURS) > 0.01
    keep[3000:3100] = False                       # an outage of about four days
    hours = hours[keep]
    values = 40 + 20 * np.sin(hours / 700) + rng.normal(0, 5, len(hours))
    values[hours == SPIKE] = 900.0
    values[hours == 5000] = np.nan                # a missing result
    flags = np.ones(len(hours), np.uint8)
    flags[hours == 7000] = 4                      # failed QC
    values[hours == 7000] = -500.0
    _insert(store, stream, hours, values, flags)
    raw = {"t": T0 + hours * timedelta(hours=1), "hours": hours, "v": values, "flags": flags}
    return world, stream, raw


def _valid(raw, include_failed=False):
    ok = ~np.isnan(raw["v"]) & ((raw["flags"] != 4) | include_failed)
    return raw["hours"][ok], raw["v"][ok]


@pytest.mark.parametrize("points", [3, 57, 800])
def test_bucket_summaries_equal_the_raw_rows(store, synthetic, points):
    world, stream, raw = synthetic
    result = S.series(store, ANONYMOUS, datastream_id=stream, points=points)
    items = result.items.to_pylist()
    assert 0 < len(items) <= points
    hours, values = _valid(raw)
    assert result.observations == len(hours) == sum(b["count"] for b in items)
    width_h = result.bucket / timedelta(hours=1)
    for b in items:
        lo = (b["time"].replace(tzinfo=UTC) - T0) / timedelta(hours=1)
        inside = (hours >= lo) & (hours < lo + width_h)
        v = values[inside]
        assert b["count"] == len(v)
        assert (b["min"], b["max"]) == (v.min(), v.max())
        assert b["mean"] == pytest.approx(v.mean())
        assert (b["first"], b["last"]) == (v[0], v[-1])
        t = hours[inside]
        when = lambda h: (T0 + timedelta(hours=int(h))).replace(tzinfo=None)  # noqa: E731
        assert b["time_first"] == when(t[0]) and b["time_last"] == when(t[-1])
        assert values[hours == (b["time_max"].replace(tzinfo=UTC) - T0)
                      // timedelta(hours=1)][0] == b["max"]
    assert max(b["max"] for b in items) == values.max() == 900.0
    assert min(b["min"] for b in items) == values.min()
    # buckets never overlap and are in time order
    starts = [b["time"] for b in items]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_failed_values_are_left_out_unless_asked_for(store, synthetic):
    _, stream, raw = synthetic
    plain = S.series(store, ANONYMOUS, datastream_id=stream, points=100)
    assert min(plain.items.column("min").to_pylist()) > -500
    everything = S.series(store, ANONYMOUS, datastream_id=stream, points=100,
                          include_failed=True)
    assert min(everything.items.column("min").to_pylist()) == -500.0
    assert everything.observations == plain.observations + 1 == len(_valid(raw, True)[0])


@pytest.mark.parametrize("points", [3, 40, 500])
def test_lttb_keeps_the_ends_and_the_spike(store, synthetic, points):
    _, stream, raw = synthetic
    result = S.series(store, ANONYMOUS, datastream_id=stream, points=points, method="lttb")
    rows = result.items.to_pylist()
    assert len(rows) <= points
    hours, values = _valid(raw)
    first, last = T0 + timedelta(hours=int(hours[0])), T0 + timedelta(hours=int(hours[-1]))
    assert rows[0]["time"].replace(tzinfo=UTC) == first and rows[0]["value"] == values[0]
    assert rows[-1]["time"].replace(tzinfo=UTC) == last and rows[-1]["value"] == values[-1]
    if points > 3:
        assert {"time": (T0 + timedelta(hours=SPIKE)).replace(tzinfo=None), "value": 900.0} \
            in rows
    # every point kept is a real observation
    lookup = dict(zip(hours.tolist(), values.tolist(), strict=True))
    for r in rows:
        assert lookup[(r["time"].replace(tzinfo=UTC) - T0) // timedelta(hours=1)] == r["value"]


def test_lttb_on_its_own():
    x = np.arange(1000)
    y = np.zeros(1000)
    y[500] = 10.0
    keep = S.lttb(x, y, 10)
    assert len(keep) == 10 and keep[0] == 0 and keep[-1] == 999 and 500 in keep
    assert list(keep) == sorted(set(keep.tolist()))
    assert list(S.lttb(x[:5], y[:5], 10)) == [0, 1, 2, 3, 4]


def test_time_range_bounds(store, synthetic):
    _, stream, raw = synthetic
    start, end = T0 + timedelta(days=100, hours=5), T0 + timedelta(days=130)
    result = S.series(store, ANONYMOUS, datastream_id=stream, start=start, end=end, points=200)
    hours, values = _valid(raw)
    lo, hi = (start - T0) / timedelta(hours=1), (end - T0) / timedelta(hours=1)
    inside = (hours >= lo) & (hours < hi)
    assert result.observations == int(inside.sum())
    assert (result.start, result.end) == (start, end)
    for column in ("time_first", "time_last"):
        for t in result.items.column(column).to_pylist():
            assert start <= t.replace(tzinfo=UTC) < end
    assert min(result.items.column("min").to_pylist()) == values[inside].min()
    assert max(result.items.column("max").to_pylist()) == values[inside].max()
    # a narrow window comes back at full resolution: one hour per bucket
    narrow = S.series(store, ANONYMOUS, datastream_id=stream, start=T0 + timedelta(days=10),
                      end=T0 + timedelta(days=12), points=800)
    assert narrow.bucket <= timedelta(hours=1)
    assert all(b["count"] == 1 for b in narrow.items.to_pylist())
    # a range wider than the data is narrowed to it, keeping the resolution
    wide = S.series(store, ANONYMOUS, datastream_id=stream, start=T0 - timedelta(days=9000),
                    end=T0 + timedelta(days=9000), points=200)
    whole = S.series(store, ANONYMOUS, datastream_id=stream, points=200)
    assert wide.items.to_pylist() == whole.items.to_pylist() and wide.bucket == whole.bucket
    assert wide.start == T0 + timedelta(hours=int(raw["hours"][0]))
    # a range with no data is empty, not an error
    empty = S.series(store, ANONYMOUS, datastream_id=stream, start=T0 - timedelta(days=30),
                     end=T0 - timedelta(days=1))
    assert empty.items.num_rows == 0 and empty.observations == 0


def test_bad_parameters(store, synthetic):
    _, stream, _ = synthetic
    with pytest.raises(InvalidInput):
        S.series(store, ANONYMOUS, datastream_id=stream, points=2)
    with pytest.raises(InvalidInput):
        S.series(store, ANONYMOUS, datastream_id=stream, method="mean")
    with pytest.raises(InvalidInput):
        S.series(store, ANONYMOUS, datastream_id=stream, start=T0, end=T0)


def test_hidden_and_unknown_datastreams_are_not_found(store, synthetic):
    world, _, _ = synthetic
    for ref in (world.streams["secret"], world.streams["embargo"], 987_654):
        with pytest.raises(NotFound):
            S.series(store, ANONYMOUS, datastream_id=ref)


def test_http_route(settings, store, synthetic):
    world, stream, raw = synthetic
    before = store.scalar("SELECT count(*) FROM audit_events")
    with TestClient(create_app(settings, store=store)) as client:
        r = client.get(f"/api/v1/datastreams/{stream}/series",
                       params={"points": 100, "start": "2024-03-01T00:00:00+05:00"})
        assert r.status_code == 200
        body = r.json()
        assert body["method"] == "minmax" and 0 < body["count"] == len(body["items"]) <= 100
        assert body["start"] == "2024-02-29T19:00:00Z"
        assert max(b["max"] for b in body["items"]) == 900.0
        lttb = client.get(f"/api/v1/datastreams/{stream}/series",
                          params={"points": 50, "method": "lttb"}).json()
        assert len(lttb["items"]) == 50 and set(lttb["items"][0]) == {"time", "value"}
        for ref in (world.streams["secret"], 987_654):
            missing = client.get(f"/api/v1/datastreams/{ref}/series")
            assert missing.status_code == 404
            assert missing.json()["detail"] == f"no datastream {ref}"
        assert client.get(f"/api/v1/datastreams/{stream}/series",
                          params={"points": 1}).status_code == 422
        assert client.get(f"/api/v1/datastreams/{stream}/series",
                          params={"method": "avg"}).status_code == 422
    # anonymous reads of the Kazakh dataset were audited
    assert store.scalar("SELECT count(*) FROM audit_events") > before
    assert store.scalar("SELECT kind FROM audit_events ORDER BY id DESC LIMIT 1") == \
        "observations"


def test_recent_means_of_several_datastreams(store, synthetic):
    world, stream, raw = synthetic
    hours, values = _valid(raw)
    end = T0 + timedelta(hours=int(hours[-1]))
    means = S.recent_means(store, ANONYMOUS, {stream: timedelta(hours=24),
                                              world.streams["almaty"]: timedelta(hours=8),
                                              world.streams["secret"]: timedelta(days=9999)},
                           end)
    last_day = values[hours > hours[-1] - 24]
    assert means[stream] == (pytest.approx(last_day.mean()), len(last_day))
    assert world.streams["secret"] not in means  # hidden: left out, as if it held nothing
    assert world.streams["almaty"] not in means  # its values are from another time


def test_fixed_interval_gives_means_per_utc_day(store, synthetic):
    _, stream, raw = synthetic
    days = S.series(store, ANONYMOUS, datastream_id=stream, interval=86400,
                    points=S.MAX_POINTS)
    hours, values = _valid(raw)
    assert days.bucket == timedelta(days=1)
    day_of = hours // 24
    assert days.items.num_rows == len(np.unique(day_of))
    for b in days.items.to_pylist()[:40]:
        day = (b["time"].replace(tzinfo=UTC) - T0) // timedelta(days=1)
        v = values[day_of == day]
        assert b["count"] == len(v) and b["mean"] == pytest.approx(v.mean())
    with pytest.raises(InvalidInput):  # two years of hours do not fit in 1000 buckets
        S.series(store, ANONYMOUS, datastream_id=stream, interval=3600, points=1000)
    with pytest.raises(InvalidInput):
        S.series(store, ANONYMOUS, datastream_id=stream, interval=86400, method="lttb")
