"""Downsampled time series of one datastream, for charts: min/max per bucket (M4) or LTTB.

A chart is a few hundred pixels wide; two years of hourly values are 17,520 points. The
reduction runs in DuckDB: the time range is cut into at most `points` equal buckets and each
bucket returns its count, min, max, mean, first and last value with the times of the first, last,
min and max (M4: drawing those four points per bucket gives the same picture as all rows). LTTB
(Largest-Triangle-Three-Buckets, Steinarson 2013) is run in numpy over M4 candidates from four
times as many finer buckets, so no more than 16 x `points` rows leave the database whatever the
range, and the extremes LTTB must keep are among the candidates.

Values that failed quality control (QARTOD flag 4) are left out unless asked for: a chart set
against limit values should not draw a spike the data provider has marked as bad. The datastream
is checked against the access policy in the same way as `service.observations`: hidden or unknown
is NotFound, and a read of another organisation's data is written to the audit log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import Principal, record_read, visible_datasets_sql

METHODS = ("minmax", "lttb")
MIN_POINTS, MAX_POINTS, DEFAULT_POINTS = 3, 5000, 800
LTTB_OVERSAMPLE = 4  # candidate buckets per output point for LTTB
QC_FAIL = 4
MAX_INTERVAL = 366 * 86400

MINMAX_COLUMNS = ("time", "count", "min", "max", "mean", "first", "last", "time_first",
                  "time_last", "time_min", "time_max")


@dataclass(frozen=True)
class Series:
    """A reduced series: `items` is an Arrow table (MINMAX_COLUMNS, or time and value)."""

    datastream_id: int
    method: str
    start: datetime | None
    end: datetime | None
    bucket: timedelta | None   # width of one bucket; None when the range is empty
    observations: int          # rows summarised (in range, QC-filtered)
    items: pa.Table


_STREAM = """
SELECT d.id AS dataset_id, s.phenomenon_time_start, s.phenomenon_time_end
FROM datastreams s JOIN things t ON t.id = s.thing_id JOIN datasets d ON d.id = t.dataset_id
WHERE s.id = ? AND {pred}
"""

# One pass over the datastream's rows in [start, end): DuckDB prunes on datastream_id and the
# time bounds with its zone maps and aggregates in parallel; only one row per bucket comes back.
_BUCKETS = """
WITH o AS (
  SELECT epoch_us(phenomenon_time) AS us, (epoch_us(phenomenon_time) - ?) // ? AS b, result
  FROM observations
  WHERE datastream_id = ? AND phenomenon_time >= ? AND phenomenon_time < ?
    AND result IS NOT NULL AND isfinite(result) {qc}
)
SELECT make_timestamp(? + b * ?) AS time, count(*) AS count,
       min(result) AS min, max(result) AS max, avg(result) AS mean,
       arg_min(result, us) AS first, arg_max(result, us) AS last,
       make_timestamp(min(us)) AS time_first, make_timestamp(max(us)) AS time_last,
       make_timestamp(arg_min(us, result)) AS time_min,
       make_timestamp(arg_max(us, result)) AS time_max
FROM o GROUP BY b ORDER BY b
"""


def _micros(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=value.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _check(method: str, points: int, start: datetime | None, end: datetime | None) -> None:
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}", field="method")
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise InvalidInput(f"points must be between {MIN_POINTS} and {MAX_POINTS}",
                           field="points")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end must be after start (end is exclusive)", field="end")


def _stream(store, principal: Principal, datastream_id: int) -> dict:
    pred, params = visible_datasets_sql(principal, "d")
    rows = store.dicts(_STREAM.format(pred=pred), [datastream_id, *params])
    if not rows:
        raise NotFound(f"no datastream {datastream_id}")
    return rows[0]


# Bucket widths a reader recognises (seconds): buckets then start on whole minutes, hours or
# UTC days, and a zoomed chart's buckets line up with the overview's.
_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
         86400, 172800, 604800)


def bucket_width(start: datetime, end: datetime, count: int) -> int:
    """The smallest nice width in microseconds for which [start, end), cut at multiples of the
    width since the epoch, falls into at most `count` buckets."""
    lo, hi = _micros(start), _micros(end)
    raw = math.ceil((hi - lo) / max(1, count - 1))
    if raw < 1_000_000:
        width = max(1, raw)
    else:
        width = next((s * 1_000_000 for s in _NICE if s * 1_000_000 >= raw),
                     math.ceil(raw / 86_400_000_000) * 86_400_000_000)
    while (hi - 1) // width - lo // width + 1 > count:
        width += max(1, width // 10)
    return width


def buckets(store, datastream_id: int, start: datetime, end: datetime, count: int, *,
            include_failed: bool = False, interval: int | None = None) -> tuple[pa.Table, int]:
    """At most `count` buckets over [start, end) with their M4 summary, and their width in
    microseconds (`interval` seconds if given). The caller has checked that the principal may
    read the datastream."""
    if interval is None:
        width = bucket_width(start, end, count)
    else:
        width = interval * 1_000_000
        lo, hi = _micros(start), _micros(end)
        if (hi - 1) // width - lo // width + 1 > count:
            raise InvalidInput(f"an interval of {interval} s cuts this range into more than "
                               f"{count} buckets; choose a longer interval or a shorter range",
                               field="interval")
    qc = "" if include_failed else f"AND quality_flag <> {QC_FAIL}"
    table = store.arrow(_BUCKETS.format(qc=qc),
                        [0, width, datastream_id, start, end, 0, width])
    return table, width


def lttb(times: np.ndarray, values: np.ndarray, threshold: int) -> np.ndarray:
    """Indices of the points LTTB keeps: the first, the last, and in each of `threshold - 2`
    buckets the point forming the largest triangle with the point kept before it and the mean
    of the next bucket. `times` must be increasing."""
    n = len(times)
    if threshold >= n or n <= 2:
        return np.arange(n)
    x = times.astype(np.float64)
    y = values.astype(np.float64)
    every = (n - 2) / (threshold - 2)
    keep = np.empty(threshold, dtype=np.int64)
    keep[0], keep[-1] = 0, n - 1
    a = 0
    for i in range(threshold - 2):
        lo, hi = int(i * every) + 1, int((i + 1) * every) + 1
        nxt_lo, nxt_hi = hi, min(int((i + 2) * every) + 1, n)
        cx, cy = x[nxt_lo:nxt_hi].mean(), y[nxt_lo:nxt_hi].mean()
        area = np.abs((x[a] - cx) * (y[lo:hi] - y[a]) - (x[a] - x[lo:hi]) * (cy - y[a]))
        a = lo + int(np.argmax(area))
        keep[i + 1] = a
    return keep


def _lttb_table(table: pa.Table, points: int) -> pa.Table:
    """LTTB over the first, min, max and last point of each candidate bucket."""
    if table.num_rows == 0:
        return pa.table({"time": pa.array([], pa.timestamp("us")),
                         "value": pa.array([], pa.float64())})
    cols = {c: table.column(c).to_numpy() for c in
            ("time_first", "first", "time_min", "min", "time_max", "max", "time_last", "last")}
    t = np.concatenate([cols[k] for k in ("time_first", "time_min", "time_max", "time_last")])
    v = np.concatenate([cols[k] for k in ("first", "min", "max", "last")])
    t = t.astype("datetime64[us]").astype(np.int64)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    distinct = np.concatenate(([True], t[1:] != t[:-1]))
    t, v = t[distinct], v[distinct]
    keep = lttb(t, v, points)
    return pa.table({"time": pa.array(t[keep].astype("datetime64[us]"), pa.timestamp("us")),
                     "value": pa.array(v[keep], pa.float64())})


def series(store, principal: Principal, *, datastream_id: int, start: datetime | None = None,
           end: datetime | None = None, points: int = DEFAULT_POINTS, method: str = "minmax",
           include_failed: bool = False, interval: int | None = None) -> Series:
    """The datastream's values in [start, end) reduced to at most `points` buckets (minmax) or
    points (lttb). The range is narrowed to the datastream's own time extent. `interval` fixes
    the bucket width in seconds (minmax only), e.g. 86400 for means per UTC day."""
    _check(method, points, start, end)
    if interval is not None and (method != "minmax" or not 1 <= interval <= MAX_INTERVAL):
        raise InvalidInput(f"interval must be 1 to {MAX_INTERVAL} seconds, with method minmax",
                           field="interval")
    stream = _stream(store, principal, datastream_id)
    first, last = stream["phenomenon_time_start"], stream["phenomenon_time_end"]
    # Buckets span only the part of the range that holds data, so a wide request (e.g. from
    # year 1) keeps its resolution; the reply states the range it covered.
    after_last = last + timedelta(microseconds=1) if last is not None else None
    lo = max(start, first) if start and first else start or first
    hi = min(end, after_last) if end and after_last else end or after_last
    empty = Series(datastream_id, method, lo, hi, None, 0,
                   _lttb_table(pa.table({}), points) if method == "lttb"
                   else pa.table({c: pa.array([], pa.float64()) for c in MINMAX_COLUMNS}))
    if lo is None or hi is None or hi <= lo:
        return empty
    count = points * LTTB_OVERSAMPLE if method == "lttb" else points
    table, width = buckets(store, datastream_id, lo, hi, count, include_failed=include_failed,
                           interval=interval)
    observations = int(pc.sum(table.column("count")).as_py() or 0) \
        if table.num_rows else 0
    items = _lttb_table(table, points) if method == "lttb" else table
    if method == "lttb":
        width *= LTTB_OVERSAMPLE
    if items.num_rows:
        record_read(store, principal, dataset_ids=[stream["dataset_id"]], kind="observations",
                    count=items.num_rows)
    return Series(datastream_id, method, lo, hi, timedelta(microseconds=width), observations,
                  items)


def recent_means(store, principal: Principal, windows: dict[int, timedelta],
                 end: datetime) -> dict[int, tuple[float, int]]:
    """Mean and number of valid values (QC not failed) of each datastream over its window
    (end - window, end], in one query; datastreams the principal may not see are left out.
    For an index from the latest hours of several variables of a station."""
    if not windows:
        return {}
    pred, pred_params = visible_datasets_sql(principal, "d")
    ids = list(windows)
    marks = ", ".join("?" for _ in ids)
    ranges = " OR ".join("(o.datastream_id = ? AND o.phenomenon_time > ?"
                         " AND o.phenomenon_time <= ?)" for _ in ids)
    params: list = [*ids, *pred_params]
    for i in ids:
        params += [i, end - windows[i], end]
    rows = store.rows(
        "SELECT o.datastream_id, avg(o.result), count(*), any_value(v.dataset_id)"
        f" FROM observations o JOIN (SELECT s.id, d.id AS dataset_id FROM datastreams s"
        " JOIN things t ON t.id = s.thing_id JOIN datasets d ON d.id = t.dataset_id"
        f" WHERE s.id IN ({marks}) AND {pred}) v ON v.id = o.datastream_id"
        f" WHERE ({ranges}) AND o.result IS NOT NULL AND isfinite(o.result)"
        f" AND o.quality_flag <> {QC_FAIL} GROUP BY o.datastream_id", params)
    if rows:
        record_read(store, principal, dataset_ids=[r[3] for r in rows], kind="observations",
                    count=sum(r[2] for r in rows))
    return {r[0]: (float(r[1]), int(r[2])) for r in rows}
