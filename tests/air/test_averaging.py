"""Completeness-aware averages, in numpy and in DuckDB SQL on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ecobridge.air import completeness
from ecobridge.air.averaging import (
    DAILY_MEAN_SQL,
    block_mean,
    daily_max_8h,
    daily_max_8h_for,
    daily_mean_for,
    forward_mean,
    moving_mean_for,
    rolling_mean,
    rolling_mean_sql,
)
from ecobridge.errors import InvalidInput


def _day(valid_hours: int, value: float = 10.0) -> np.ndarray:
    d = np.full(24, np.nan)
    d[:valid_hours] = value
    return d


@pytest.mark.parametrize(("jur", "hours", "valid"), [
    ("CHN", 23, True), ("CHN", 20, True), ("CHN", 19, False), ("CHN", 17, False),
    ("IND", 17, True), ("IND", 16, True), ("IND", 15, False),
    ("USA", 18, True), ("USA", 17, False)])
def test_daily_mean_completeness(jur, hours, valid):
    mean = daily_mean_for(jur, _day(hours))
    assert mean.shape == (1,)
    assert (mean[0] == 10.0) if valid else np.isnan(mean[0])


def test_completeness_rules_are_sourced():
    assert completeness("CHN")["24h"]["min_hours"] == 20
    assert completeness("IND")["24h"]["min_hours"] == 16
    assert completeness("USA")["24h"]["min_hours"] == 18
    assert completeness("CHN")["8h"]["min_hours"] == 6
    for jur in ("CHN", "USA", "IND"):
        assert completeness(jur)["source"] and completeness(jur)["status"]
    with pytest.raises(InvalidInput):
        completeness("XYZ")


def test_rolling_mean_values_and_gaps():
    v = np.arange(1.0, 11.0)                      # 1..10
    out = rolling_mean(v, 3, 3)
    assert np.isnan(out[:2]).all() and out[2] == 2.0 and out[-1] == 9.0
    v[5] = np.nan                                 # the 6th hour is missing
    out = rolling_mean(v, 3, 2)
    assert out[5] == pytest.approx((4 + 5) / 2) and out[6] == pytest.approx((5 + 7) / 2)
    assert np.isnan(rolling_mean(v, 3, 3)[5:8]).all()


def test_eight_hour_window_needs_six_hours():
    v = np.full(8, 3.0)
    v[[0, 1]] = np.nan
    assert moving_mean_for("CHN", v, "8h")[-1] == 3.0           # 6 of 8
    v[2] = np.nan
    assert np.isnan(moving_mean_for("CHN", v, "8h")[-1])        # 5 of 8


def test_moving_24h_mean_matches_block_mean_at_day_end():
    rng = np.random.default_rng(7)
    v = rng.uniform(0, 100, 24 * 5)
    v[rng.random(v.size) < 0.1] = np.nan
    moving = moving_mean_for("IND", v, "24h")
    daily = daily_mean_for("IND", v)
    np.testing.assert_allclose(moving[23::24], daily)


def test_block_mean_partial_tail_counts_missing_hours():
    v = np.concatenate([np.full(24, 5.0), np.full(10, 7.0)])
    out = block_mean(v, 24, 20)
    assert out[0] == 5.0 and np.isnan(out[1])


def test_forward_mean_runs_past_the_end():
    v = np.arange(10.0)
    out = forward_mean(v, 8, 2)
    assert out[0] == pytest.approx(3.5) and out[2] == pytest.approx(5.5)
    assert out[8] == pytest.approx(8.5) and np.isnan(out[9])     # one value left: < 2


def test_china_daily_max_8h_windows_and_completeness():
    v = np.full(24, 50.0)
    v[16:24] = 200.0                      # window 16:00-24:00 is the last one China counts
    assert daily_max_8h_for("CHN", v)[0] == pytest.approx(200.0)
    v2 = np.full(48, 50.0)
    v2[17:25] = 400.0                     # starts 17:00: not a China window for day 0
    assert daily_max_8h_for("CHN", v2)[0] < 400.0
    gappy = np.full(24, np.nan)
    gappy[:13] = 10.0                     # windows starting 0..7 have >= 6 hours: 8 < 14
    assert np.isnan(daily_max_8h_for("CHN", gappy)[0])
    gappy[:20] = 10.0                     # starting 0..14 valid: 15 >= 14
    assert daily_max_8h_for("CHN", gappy)[0] == 10.0


def test_us_daily_max_8h_runs_into_next_day():
    v = np.full(48, 10.0)
    v[23:31] = 100.0                      # the window starting 23:00 on day 0
    out = daily_max_8h_for("USA", v)
    assert out[0] == pytest.approx(100.0)
    assert daily_max_8h(v, first_start_hour=0, last_start_hour=16)[0] < 100.0


def test_invalid_arguments():
    with pytest.raises(InvalidInput):
        rolling_mean(np.ones(5), 3, 4)
    with pytest.raises(InvalidInput):
        daily_max_8h(np.ones(24), first_start_hour=10, last_start_hour=5)
    with pytest.raises(InvalidInput):
        rolling_mean_sql(0)


def _insert_hours(store, datastream_id: int, start: datetime, values) -> None:
    rows = [(i, datastream_id, start + timedelta(hours=i), None if np.isnan(x) else float(x))
            for i, x in enumerate(values)]
    with store.transaction() as cur:
        cur.executemany("INSERT INTO observations (id, datastream_id, phenomenon_time, result) "
                        "VALUES (?, ?, ?, ?)", rows)


def test_sql_rolling_mean_matches_numpy(store):
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 80, 24 * 3)
    values[rng.random(values.size) < 0.25] = np.nan
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _insert_hours(store, 42, start, values)
    _insert_hours(store, 43, start, np.full(values.size, 999.0))   # another stream: ignored
    got = store.rows(rolling_mean_sql(24), [
        20, 42, start + timedelta(hours=24), start + timedelta(hours=72)])
    expected = rolling_mean(values, 24, 20)[24:]
    present = ~np.isnan(values[24:])      # SQL has a row only where the hour has a value
    assert len(got) == int(present.sum())
    for (_, _n, mean), exp in zip(got, expected[present], strict=True):
        if np.isnan(exp):
            assert mean is None
        else:
            assert mean == pytest.approx(exp)


def test_sql_daily_mean_local_days_and_completeness(store):
    start = datetime(2026, 1, 1, 16, tzinfo=UTC)          # 00:00 on 2 Jan in Asia/Shanghai
    values = np.concatenate([np.full(24, 30.0), _day(17, 60.0)])
    _insert_hours(store, 7, start, values)
    got = store.rows(DAILY_MEAN_SQL, [
        "Asia/Shanghai", 20, 7, start, start + timedelta(hours=48)])
    assert [(str(d), n) for d, n, _ in got] == [("2026-01-02", 24), ("2026-01-03", 17)]
    assert got[0][2] == pytest.approx(30.0) and got[1][2] is None
