"""QARTOD tests on synthetic series where the flagged rows are known exactly."""

from __future__ import annotations

import numpy as np

from ecobridge.monitoring import qc
from ecobridge.monitoring.ingest import ingest_file

from .helpers import csv_rows

HOUR = 3_600_000_000
CFG = qc.QcConfig(fail_lo=0, fail_hi=100, suspect_lo=5, suspect_hi=80, spike_suspect=10,
                  spike_fail=30, roc_threshold=15 / 3600, flat_suspect_s=3 * 3600,
                  flat_fail_s=5 * 3600, flat_tolerance=0.0)


def run(values, cfg=CFG, group=None, hours=None):
    v = np.array(values, dtype=float)
    t = np.array(hours if hours is not None else range(len(v)), dtype=np.int64) * HOUR
    g = np.zeros(len(v), np.int32) if group is None else np.array(group, np.int32)
    return qc.evaluate(g, t, v, [cfg] * (int(g.max()) + 1))


def test_gross_range():
    gross = qc.QcConfig(fail_lo=0, fail_hi=100, suspect_lo=5, suspect_hi=80)
    flags, tests = run([50, 3, 90, 120, -1, 50], cfg=gross)
    assert flags.tolist()[1:5] == [3, 3, 4, 4]
    assert all(b & qc.GROSS_RANGE for b in tests[1:5])
    assert not tests[0] & qc.GROSS_RANGE


def test_spike_and_rate_of_change():
    no_roc = qc.QcConfig(spike_suspect=35, spike_fail=50)
    # a spike of d moves its neighbours' reference by d/2: these stay under the thresholds
    flags, tests = run([20, 20, 60, 20, 20, 90, 20, 20], cfg=no_roc)
    # first and last lack a neighbour: not evaluated
    assert flags.tolist() == [2, 1, 3, 1, 1, 4, 1, 2]
    assert tests.tolist() == [0, 0, qc.SPIKE, 0, 0, qc.SPIKE, 0, 0]
    roc_only = qc.QcConfig(roc_threshold=15 / 3600)
    flags, tests = run([20, 30, 50, 50, 34], cfg=roc_only)
    assert flags.tolist() == [2, 1, 3, 1, 3]
    assert tests.tolist() == [0, 0, qc.RATE_OF_CHANGE, 0, qc.RATE_OF_CHANGE]
    # the rate is per second of real time: the same step over 3 hours passes
    flags, _ = run([20, 50], cfg=roc_only, hours=[0, 3])
    assert flags.tolist() == [2, 1]


def test_flat_line_counts_time_not_rows():
    flat = qc.QcConfig(flat_suspect_s=3 * 3600, flat_fail_s=5 * 3600)
    flags, tests = run([1, 7, 7, 7, 7, 7, 7, 7, 2], cfg=flat)
    # 7 first seen at hour 1: suspect from hour 4 (3 h unchanged), fail from hour 6 (5 h)
    assert flags.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 1]
    assert tests[4] == qc.FLAT_LINE
    flags, _ = run([7, 7], cfg=flat, hours=[0, 6])  # a 6-hour gap is 6 hours unchanged
    assert flags.tolist() == [1, 4]


def test_groups_and_missing_values_are_separate():
    flags, _ = run([20, 20, 90, 20, 90, 20, np.nan],
                   cfg=qc.QcConfig(spike_suspect=35, spike_fail=50), group=[0, 0, 0, 0, 1, 1, 1])
    # 80 in group 1 starts its series: no spike test; NaN is missing (9)
    assert flags.tolist() == [2, 1, 4, 2, 2, 2, 9]


def test_passes_cut_between_groups_give_the_flags_of_one_pass():
    """The merge checks rows in passes when the alert evaluation follows them: the flags are
    those of one pass, and each pass is told once, whole groups only, in order."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(40, dtype=np.int32), rng.integers(1, 200, 40))
    t = np.concatenate([np.sort(rng.choice(10_000, (g == k).sum(), replace=False))
                        for k in range(40)]).astype(np.int64) * HOUR
    v = np.round(rng.normal(40, 25, len(g)), 1)
    v[rng.random(len(g)) < 0.02] = np.nan
    whole = qc.evaluate(g, t, v, [CFG] * 40)
    told = []
    parts = qc.evaluate(g, t, v, [CFG] * 40, chunk=500,
                        on_chunk=lambda b, e, f, x: told.append((b, e, f[b:e].copy())))
    assert all(np.array_equal(a, b) for a, b in zip(whole, parts, strict=True))
    assert len(told) > 5 and told[0][0] == 0 and told[-1][1] == len(g)
    assert all(a[1] == b[0] for a, b in zip(told, told[1:], strict=False))  # in order, all
    assert all(g[b] != g[b - 1] for _, b, _ in told[:-1])  # cut between groups
    assert np.array_equal(np.concatenate([f for _, _, f in told]), whole[0])


def test_no_configuration_means_not_evaluated():
    flags, tests = run([1, 2, 3], cfg=qc.QcConfig())
    assert flags.tolist() == [2, 2, 2] and tests.tolist() == [0, 0, 0]


def test_worst_test_wins_and_all_failed_tests_are_listed():
    flags, tests = run([50, 50, 95, 50, 50])
    assert flags[2] == 4  # spike fail (45 > 30) beats gross-range suspect (95 > 80)
    assert qc.describe(int(tests[2])) == ["gross_range", "spike", "rate_of_change"]


def _series(hours: range) -> list[str]:
    """pm25 with a spike at hour 30, a flat run from hour 60 and a gap after hour 80."""
    rows = []
    for h in hours:
        value = 20 + (h % 5)
        if h == 30:
            value = 900
        if 60 <= h < 80:
            value = 33
        rows.append(f"ALM1,pm25,{_iso(h + (24 if h > 80 else 0))},{value},ug/m3")
    return rows


def test_a_file_split_in_two_gets_the_flags_of_the_whole(store, air, tmp_path, settings):
    whole = ingest_file(store, csv_rows(tmp_path / "whole.csv", _series(range(120))),
                        dataset=air)
    expected = store.rows("SELECT phenomenon_time, result, quality_flag, qc_tests"
                          " FROM observations ORDER BY phenomenon_time")
    assert whole.rows_flagged > 0
    assert {r[2] for r in expected} == {1, 3, 4}
    for cut in (31, 66, 82):  # next to the spike, inside the flat run, across the gap
        store.execute("DELETE FROM observations")
        store.execute("UPDATE datastreams SET observation_count = 0")
        first = ingest_file(store, csv_rows(tmp_path / "a.csv", _series(range(cut))),
                            dataset=air)
        second = ingest_file(store, csv_rows(tmp_path / "b.csv", _series(range(cut, 120))),
                             dataset=air)
        got = store.rows("SELECT phenomenon_time, result, quality_flag, qc_tests"
                         " FROM observations ORDER BY phenomenon_time")
        assert got == expected, cut
        assert first.rows_inserted + second.rows_inserted == 120
        if cut == 31:  # the spike ends part one: it fails only once its next neighbour comes
            assert second.rows_reflagged == 1


def test_a_backfill_in_the_middle_reflags_its_neighbours(store, air, tmp_path):
    rows = _series(range(40))
    ingest_file(store, csv_rows(tmp_path / "holes.csv", rows[:29] + rows[32:]), dataset=air)
    ingest_file(store, csv_rows(tmp_path / "fill.csv", rows[29:32]), dataset=air)
    got = store.rows("SELECT phenomenon_time, quality_flag, qc_tests FROM observations"
                     " ORDER BY phenomenon_time")
    store.execute("DELETE FROM observations")
    store.execute("UPDATE datastreams SET observation_count = 0")
    ingest_file(store, csv_rows(tmp_path / "all.csv", rows), dataset=air)
    assert got == store.rows("SELECT phenomenon_time, quality_flag, qc_tests FROM observations"
                             " ORDER BY phenomenon_time")


def _iso(h: int) -> str:
    import datetime as dt

    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=h)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
