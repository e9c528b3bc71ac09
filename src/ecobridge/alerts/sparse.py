"""Sparse evaluation of the windowed rule kinds (threshold, aqi, qc_burst).

A trailing mean can only exceed C if a value in its window exceeds C, and most rows of a large
ingest are nowhere near a limit. So these kinds evaluate only the rows within a window of a
value that could make them fire (candidates, found in one pass), then walk to the points that
episodes also read (evaluate.episodes): the next point after each firing point (where an
episode ends) and the last point in range of each datastream (whether the clear time has
passed). The episodes are those of the dense evaluation (rules.points): every value computed is
the one it computes at that row, from the same cumulative sums over the same rows.
"""

from __future__ import annotations

import math

import numpy as np

from ecobridge.air.aqi import iaqi_array, standards
from ecobridge.alerts.models import HOUR_US, RANK, Points, Rule, window_hours
from ecobridge.alerts.rules import (
    INVALID_FLAGS,
    Rows,
    Stream,
    _empty,
    _escalated,
    _groups,
    _limit,
    _per_day,
    _standard,
    _std_code,
    _window_start,
)
from ecobridge.alerts.rules import points as dense_points


def points(rule: Rule, rows: Rows, streams: dict[int, Stream],
           ranges: dict[int, tuple[int, int]]) -> Points:
    """The points of `rule` over `rows` in `ranges` (per datastream) that decide its episodes:
    all of them for the kinds without a sparse form."""
    if len(rows) == 0:
        return _empty()
    if rule.kind in _SPARSE:
        return _SPARSE[rule.kind](rule, rows, streams, ranges)
    return dense_points(rule, rows, streams)


_SPARSE_ROUNDS = 32


def _memo(rows: Rows, key, fn):
    if key not in rows.memo:
        rows.memo[key] = fn()
    return rows.memo[key]


def _valid_sums(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid mask, cumulative sums of the rounded valid values and cumulative valid counts:
    what _rolling_mean computes."""
    def make():
        valid = np.isfinite(rows.v) & ~np.isin(rows.f, INVALID_FLAGS)
        cs = np.concatenate(([0.0], np.cumsum(np.where(valid, np.round(rows.v, 6), 0.0))))
        cc = np.concatenate(([0], np.cumsum(valid)))
        return valid, cs, cc
    return _memo(rows, "sums", make)


def _starts_at(rows: Rows, width_us: int, idx: np.ndarray) -> np.ndarray:
    """_window_start (closed right) at the rows idx only."""
    g = _memo(rows, "g", lambda: _groups(rows.ds))
    t = rows.t
    t0 = int(t.min())
    # one composite key serves every window up to a month (the longest averaging)
    span = int(t.max()) - t0 + max(width_us, 745 * HOUR_US) + 1
    if int(g[-1]) + 1 > (1 << 62) // span:
        return _memo(rows, ("start", width_us), lambda: _window_start(g, t, width_us))[idx]
    key = _memo(rows, ("key", span), lambda: g * span + (t - t0))
    return np.searchsorted(key, key[idx] - width_us, side="right")


def _mean_at(rows: Rows, width_us: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _valid, cs, cc = _valid_sums(rows)
    start = _starts_at(rows, width_us, idx)
    n = cc[idx + 1] - cc[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.round((cs[idx + 1] - cs[start]) / n, 6)
    return mean, n


def _blocks(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct datastreams and their row blocks [first, end)."""
    def make():
        ids = rows.streams()
        first = np.searchsorted(rows.ds, ids, side="left")
        return ids, first, np.r_[first[1:], len(rows)]
    return _memo(rows, "blocks", make)


def _near(rows: Rows, hit: np.ndarray, width_us: np.ndarray) -> np.ndarray:
    """Rows with a `hit` row in their trailing window (t - width, t] of their datastream
    (width per row)."""
    n = len(rows)
    last = np.maximum.accumulate(np.where(hit, np.arange(n), -1))
    ids, first, _end = _blocks(rows)
    block_first = np.repeat(first, np.diff(np.r_[first, n]))
    ok = last >= block_first
    return ok & (rows.t[np.maximum(last, 0)] > rows.t - width_us)


def _sparse(rows: Rows, ranges: dict[int, tuple[int, int]], candidates: np.ndarray,
            at) -> Points:
    """The deciding points (see above): `at(idx)` evaluates rows idx (sorted, distinct) as
    (is a point, value, limit, severity); `candidates` holds every row that may fire."""
    n = len(rows)
    ids, first, end = _blocks(rows)
    lo = np.array([ranges.get(d, (1, 0))[0] for d in ids.tolist()], np.int64)
    hi = np.array([ranges.get(d, (1, 0))[1] for d in ids.tolist()], np.int64)
    a, b = _bounds(rows, lo, hi)
    b = np.maximum(a, b)  # in range: [a, b) of each block
    block = np.repeat(np.arange(len(ids)), np.diff(np.r_[first, n]))
    in_range = (np.arange(n) >= a[block]) & (np.arange(n) < b[block])
    done = np.zeros(n, bool)
    ok = np.zeros(n, bool)
    value, limit = np.zeros(n), np.zeros(n)
    sev = np.full(n, -1, np.int8)

    def evaluate(idx: np.ndarray) -> None:
        idx = idx[~done[idx]]
        if len(idx):
            ok[idx], value[idx], limit[idx], sev[idx] = at(idx)
            done[idx] = True

    cand = np.flatnonzero(candidates & in_range)
    evaluate(cand)
    fired = cand[ok[cand] & (sev[cand] >= 0)]
    if len(fired) == 0:
        return _empty()
    keep = np.zeros(n, bool)
    keep[fired] = True
    # the next point after each firing point, within range (index arrays stay sorted and
    # distinct: no sorts)
    p = fired + 1
    for rounds in range(n + 1):
        p = p[(p < n)]
        p = p[in_range[p] & (block[p] == block[p - 1])]
        if len(p) == 0:
            break
        if rounds == _SPARSE_ROUNDS:  # long runs without points: evaluate the rest densely
            evaluate(np.flatnonzero(in_range))
            nxt = np.minimum.accumulate(np.where(ok & in_range, np.arange(n), n)[::-1])[::-1]
            q = nxt[p]
            keep[q[(q < n) & (block[np.minimum(q, n - 1)] == block[p])]] = True
            break
        evaluate(p)
        keep[p[ok[p]]] = True
        p = p[~ok[p]] + 1
    # the last point in range of each datastream with firing points
    blocks = block[fired]
    blocks = blocks[np.r_[True, blocks[1:] != blocks[:-1]]]
    p, stop = b[blocks] - 1, a[blocks]
    for rounds in range(n + 1):
        live = p >= stop
        p, stop = p[live], stop[live]
        if len(p) == 0:
            break
        if rounds == _SPARSE_ROUNDS:
            evaluate(np.flatnonzero(in_range))
            prv = np.maximum.accumulate(np.where(ok & in_range, np.arange(n), -1))
            q = prv[p]
            keep[q[q >= stop]] = True
            break
        evaluate(p)
        keep[p[ok[p]]] = True
        p, stop = p[~ok[p]] - 1, stop[~ok[p]]
    idx = np.flatnonzero(keep)
    return Points(rows.ds[idx], rows.t[idx], value[idx], limit[idx], sev[idx])


def _bounds(rows: Rows, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block, the first row at or after lo and the first row after hi."""
    ids, first, end = _blocks(rows)
    t = rows.t
    t0, t1 = int(t.min()), int(t.max())
    span = t1 - t0 + 745 * HOUR_US + 1
    if len(ids) > (1 << 62) // span:
        a = [f + np.searchsorted(t[f:e], x, side="left")
             for f, e, x in zip(first.tolist(), end.tolist(), lo.tolist(), strict=True)]
        b = [f + np.searchsorted(t[f:e], x, side="right")
             for f, e, x in zip(first.tolist(), end.tolist(), hi.tolist(), strict=True)]
        return np.array(a, np.int64), np.array(b, np.int64)
    g = _memo(rows, "g", lambda: _groups(rows.ds))
    key = _memo(rows, ("key", span), lambda: g * span + (t - t0))
    base = np.arange(len(ids), dtype=np.int64) * span - t0
    a = np.searchsorted(key, base + np.clip(lo, t0, t1 + 1), side="left")
    b = np.searchsorted(key, base + np.clip(hi, t0 - 1, t1), side="right")
    return a, b


def _distinct(sorted_ids: np.ndarray) -> list[int]:
    if len(sorted_ids) == 0:
        return []
    return sorted_ids[np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]].tolist()


def _margin(rows: Rows) -> float:
    """Slack for comparing raw values with a limit: rounding to 1e-6 and the float error of
    window sums taken as differences of cumulative sums."""
    _valid, cs, _cc = _valid_sums(rows)
    return 1e-3 + 1e-10 * float(np.abs(cs).max())


def _per_stream_min(rows: Rows, values: np.ndarray) -> np.ndarray:
    """Each row gets the smallest of `values` over its datastream's rows (NaN ignored)."""
    ids, first, _end = _blocks(rows)
    with np.errstate(invalid="ignore"):
        low = np.fmin.reduceat(values, first) if len(first) else values[:0]
    return np.repeat(low, np.diff(np.r_[first, len(rows)]))


def _threshold_sparse(rule: Rule, rows: Rows, streams: dict[int, Stream], ranges) -> Points:
    p = rule.params
    width = window_hours(p["averaging"]) * HOUR_US
    if isinstance(p["limit"], float):
        limit = np.full(len(rows), p["limit"])
    else:
        limit = _per_day(rows, streams, lambda s, d: _limit(
            p["limit"], s.country, s.prop, p["averaging"], p.get("level"), d))
    valid, _cs, _cc = _valid_sums(rows)
    with np.errstate(invalid="ignore"):
        hit = valid & (rows.v > _per_stream_min(rows, limit) - _margin(rows))
    candidates = _near(rows, hit, np.full(len(rows), width))

    def at(idx: np.ndarray):
        mean, n = _mean_at(rows, width, idx)
        lim = limit[idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = mean / lim
        sev = np.where(mean > lim, _escalated(rule.severity, ratio, p["escalate"]), -1)
        return (n >= p["min_valid"]) & np.isfinite(lim), mean, lim, sev.astype(np.int8)

    pts = _sparse(rows, ranges, candidates, at)
    if not isinstance(p["limit"], float):
        pts.detail = {ds: {"limit": p["limit"], "country": streams[ds].country,
                           "level": p.get("level"), "averaging": p["averaging"]}
                      for ds in _distinct(pts.key)}
    return pts


def _aqi_floor(std, prop: str, avg: str, min_level: int) -> float:
    """The lowest concentration (canonical unit) whose sub-index can reach category
    `min_level` in this table, less the input rounding: below it the rule cannot fire."""
    from ecobridge.air import units

    if min_level <= 1:
        return -math.inf
    top = std.categories[min_level - 2].max
    t = std.tables[(prop, avg)]
    at = None
    for k in range(len(t.c_lo)):
        reach_k = t.i_hi[k] if math.isfinite(t.i_hi[k]) else t.i_lo[k]
        if math.ceil(round(float(reach_k), 6)) > top:
            at = float(t.c_lo[k])
            break
    if at is None:
        above = {"cap": t.i_hi[-1], "fixed": t.above_value or 0.0,
                 "extrapolate": math.inf}.get(t.above, -math.inf)
        if not (above > top) or not math.isfinite(t.c_hi[-1]):
            return math.inf
        at = float(t.c_hi[-1])
    at -= 10.0 ** -t.precision + 1e-6 * abs(at)
    return float(units.convert(prop, at, t.unit, units.canonical_unit(prop)))


def _aqi_sparse(rule: Rule, rows: Rows, streams: dict[int, Stream], ranges) -> Points:
    p = rule.params
    g = _memo(rows, "g", lambda: _groups(rows.ds))
    std_ids = sorted(standards())
    code = _per_day(rows, streams, lambda s, d: _std_code(
        _standard(p["standard"], p["fallback"], s.country, d), std_ids))
    names = sorted({s.prop for s in streams.values()})
    ids, first, _end = _blocks(rows)
    prop_of = np.array([names.index(streams[d].prop) for d in ids.tolist()], np.int64)
    props = prop_of[g]
    # per (standard, pollutant): averaging window and the concentration below which no
    # sub-index reaches the rule's category
    plan: dict[tuple[int, int], tuple] = {}
    pair = (np.nan_to_num(code, nan=-1).astype(np.int64) + 1) * len(names) + props
    for k in np.flatnonzero(np.bincount(pair)).tolist():
        c, pi = k // len(names) - 1, k % len(names)
        if c < 0:
            continue
        std = standards()[std_ids[c]]
        prop = names[pi]
        avg = std.defaults.get(prop)
        if avg is None or (prop, avg) not in std.tables or not avg.endswith("h"):
            continue
        hours = window_hours(avg)
        floor = std.categories[p["min_level"] - 2].max + 1 if p["min_level"] > 1 else 0
        plan[(c, pi)] = (std, prop, avg, hours, floor, _aqi_floor(std, prop, avg,
                                                                  p["min_level"]))
    low_of = np.full((len(std_ids) + 1) * len(names), np.inf)
    width_of = np.zeros(len(low_of), np.int64)
    for (c, pi), (_std, _prop, _avg, hours, _floor, conc) in plan.items():
        low_of[(c + 1) * len(names) + pi] = conc
        width_of[(c + 1) * len(names) + pi] = hours * HOUR_US
    low, width = low_of[pair], width_of[pair]
    # per datastream: the lowest such concentration and the longest window of its standards
    low = _per_stream_min(rows, low)
    widest = np.maximum.reduceat(width, first) if len(first) else width[:0]
    width = np.repeat(widest, np.diff(np.r_[first, len(rows)]))
    valid, _cs, _cc = _valid_sums(rows)
    with np.errstate(invalid="ignore"):
        hit = valid & (rows.v > low - _margin(rows))
    candidates = _near(rows, hit, width)

    def at(idx: np.ndarray):
        index = np.full(len(idx), np.nan)
        level = np.zeros(len(idx), np.int64)
        floor = np.full(len(idx), np.nan)
        ci, pi = code[idx], props[idx]
        for (c, q), (std, prop, avg, hours, fl, _conc) in plan.items():
            sel = np.flatnonzero((ci == c) & (pi == q))
            if len(sel) == 0:
                continue
            mean, n = _mean_at(rows, hours * HOUR_US, idx[sel])
            enough = n >= math.ceil(p["min_valid_fraction"] * hours)
            sel = sel[enough]
            values = iaqi_array(std.id, prop, mean[enough], avg)
            maxima = np.array([math.inf if cat.max is None else cat.max
                               for cat in std.categories])
            index[sel] = values
            level[sel] = np.searchsorted(maxima, values, side="left") + 1
            floor[sel] = fl
        sev = np.where(level >= p["min_level"], _escalated(rule.severity, level, p["escalate"]),
                       -1)
        return np.isfinite(index), index, floor, sev.astype(np.int8)

    pts = _sparse(rows, ranges, candidates, at)
    pts.detail = {ds: {"standard": p["standard"], "min_level": p["min_level"]}
                  for ds in _distinct(pts.key)}
    return pts


def _qc_burst_sparse(rule: Rule, rows: Rows, streams: dict[int, Stream], ranges) -> Points:
    p = rule.params
    width = int(p["hours"] * HOUR_US)
    flagged = np.isin(rows.f, p["flags"])
    cc = np.concatenate(([0], np.cumsum(flagged)))
    candidates = _near(rows, flagged, np.full(len(rows), width))

    def at(idx: np.ndarray):
        count = (cc[idx + 1] - cc[_starts_at(rows, width, idx)]).astype(float)
        sev = np.where(count >= p["count"], RANK[rule.severity], -1).astype(np.int8)
        return np.ones(len(idx), bool), count, np.full(len(idx), float(p["count"])), sev

    return _sparse(rows, ranges, candidates, at)


_SPARSE = {"threshold": _threshold_sparse, "aqi": _aqi_sparse, "qc_burst": _qc_burst_sparse}
