"""Rules reading the same rows share their trailing means (alerts.sparse._mean_at): the 24-h
PM2.5 threshold against the national limit reads the means the WHO guideline computed for every
row. The sharing must not change a point or an episode: each rule gives what it gives alone, on
rows of its own, and what the dense evaluation gives."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ecobridge.alerts.evaluate import episodes
from ecobridge.alerts.models import HOUR_US, Rule, check_params
from ecobridge.alerts.rules import Rows
from ecobridge.alerts.rules import points as dense_points
from ecobridge.alerts.sparse import points as sparse_points

from .test_sparse import _rows

WHO = ("threshold", {"averaging": "24h", "limit": "who", "level": "AQG", "clear_hours": 24})
FOLLOWERS = (
    ("threshold", {"averaging": "24h", "limit": "national", "escalate": [[2, "severe"]]}),
    ("threshold", {"averaging": "24h", "limit": 45.0, "min_valid": 12}),
    ("aqi", {"standard": "national", "fallback": "USA", "min_category": "unhealthy"}),
)


def _pm25(rows: Rows, streams: dict) -> tuple[Rows, dict]:
    keep = np.isin(rows.ds, [k for k, s in streams.items() if s.prop == "pm25"])
    return rows.take(keep), {k: s for k, s in streams.items() if s.prop == "pm25"}


def _same(a, b) -> bool:
    return all(np.array_equal(getattr(a, c), getattr(b, c), equal_nan=c in ("value", "limit"))
               for c in ("key", "t", "value", "limit", "sev"))


@pytest.mark.parametrize("start", (datetime(2026, 2, 12, tzinfo=UTC),
                                   datetime(2024, 4, 20, 7, tzinfo=UTC)))
@pytest.mark.parametrize("kind, params", FOLLOWERS)
def test_a_rule_after_the_who_guideline_gives_what_it_gives_alone(kind, params, start):
    rows, streams = _pm25(*_rows(29, start))
    t0, t1 = int(rows.t.min()), int(rows.t.max())
    ranges = {k: (t0 + 2 * 24 * HOUR_US, t1) for k in streams}
    who = Rule(1, "who", WHO[0], check_params(*WHO), "info")
    rule = Rule(2, "r", kind, check_params(kind, params), "moderate")

    shared = Rows(rows.ds, rows.t, rows.v, rows.f)
    sparse_points(who, shared, streams, ranges)
    # the guideline fires on most rows, so it evaluated every row and kept the means
    assert ("means", 24 * HOUR_US) in shared.memo
    after = sparse_points(rule, shared, streams, ranges)
    alone = sparse_points(rule, Rows(rows.ds, rows.t, rows.v, rows.f), streams, ranges)
    assert len(after.t) and (after.sev >= 0).any(), "the data should fire the rule"
    assert _same(after, alone)
    assert episodes(rule, after) == episodes(rule, alone)

    dense = dense_points(rule, rows, streams)
    inside = np.array([ranges[k][0] <= t <= ranges[k][1]
                       for k, t in zip(dense.key.tolist(), dense.t.tolist(), strict=True)], bool)
    for c in ("key", "t", "value", "limit", "sev"):
        setattr(dense, c, getattr(dense, c)[inside])
    assert episodes(rule, after) == episodes(rule, dense)


def test_the_means_are_kept_only_where_every_row_was_evaluated():
    rows, streams = _pm25(*_rows(31, datetime(2025, 6, 1, tzinfo=UTC)))
    t0, t1 = int(rows.t.min()), int(rows.t.max())
    # a limit few windows reach: few rows are evaluated, and nothing is kept for others
    rule = Rule(1, "high", "threshold", check_params("threshold", {
        "averaging": "24h", "limit": 150.0, "min_valid": 6}), "moderate")
    shared = Rows(rows.ds, rows.t, rows.v, rows.f)
    sparse_points(rule, shared, streams, {k: (t0, t1) for k in streams})
    assert ("means", 24 * HOUR_US) not in shared.memo
