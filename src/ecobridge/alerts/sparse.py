"""Sparse evaluation of the windowed rule kinds (threshold, aqi, qc_burst).

A trailing mean can only exceed C if a value in its window exceeds C, and most rows of a large
ingest are nowhere near a limit. So these kinds evaluate only the rows within a window of a
value that could make them fire (candidates: from the few rows over the limit, as index ranges,
never a pass per row), then walk to the points that episodes also read (evaluate.episodes): the
next point after each firing point (where an episode ends) and the last point in range of each
datastream (whether the clear time has passed). The episodes are those of the dense evaluation
(rules.points): every value computed is the one it computes at that row, from the same
cumulative sums over the same rows.

Limits and AQI standards depend on the date only through the validity dates of the documents
(air/data/*.yaml), so they are looked up once per (country, pollutant, validity period) and held
as segments of rows, not per row or per day.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from ecobridge.air.aqi import iaqi_array, standards
from ecobridge.alerts.models import HOUR_US, RANK, Points, Rule, window_hours
from ecobridge.alerts.rules import (
    DAY_US,
    EPOCH,
    INVALID_FLAGS,
    Rows,
    Stream,
    _empty,
    _escalated,
    _groups,
    _limit,
    _standard,
    _std_code,
    _validity_breaks,
    _window_start,
    flag_in,
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


_WALK_MAX = 1 << 16  # rows a walk step looks at, at most, per start


def _memo(rows: Rows, key, fn):
    if key not in rows.memo:
        rows.memo[key] = fn()
    return rows.memo[key]


def _valid_sums(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid mask, cumulative sums of the rounded valid values (what _rolling_mean computes)
    and the rows that are not valid (few: counts of valid values come from them). The sums
    start from memo "sums_from" (0): rows evaluated in parts (alerts.overlap) carry on the
    sums of the parts before, so each part's are those of the whole, to the bit."""
    def make():
        valid = np.isfinite(rows.v)
        valid &= ~flag_in(rows.f, INVALID_FLAGS)
        invalid = np.flatnonzero(~valid)
        # the rounded values, then their sums, in one array (np.where(valid, x, 0.0) and the
        # cumulative sums without another array of the rows' size)
        cs = np.empty(len(rows) + 1)
        cs[0] = rows.memo.get("sums_from", 0.0)
        x = cs[1:]
        np.round(rows.v, 6, out=x)
        x[invalid] = 0.0
        np.cumsum(cs, out=cs)  # one running sum from cs[0], as numpy adds in order
        return valid, cs, invalid
    return _memo(rows, "sums", make)


def _t01(rows: Rows) -> tuple[int, int]:
    """The first and last time of the rows (each block is sorted by time)."""
    def make():
        _ids, first, end = _blocks(rows)
        return int(rows.t[first].min()), int(rows.t[end - 1].max())
    return _memo(rows, "t01", make)


def _span(rows: Rows, width_us: int) -> int:
    t0, t1 = _t01(rows)
    # one composite key serves every window up to a month (the longest averaging)
    return t1 - t0 + max(width_us, 745 * HOUR_US) + 1


def _key(rows: Rows, span: int) -> np.ndarray | None:
    """(block, time) as one sorted int64 per row, or None when it does not fit."""
    ids, first, end = _blocks(rows)
    if len(ids) > (1 << 62) // span:
        return None
    t0 = _t01(rows)[0]
    return _memo(rows, ("key", span), lambda: rows.t + np.repeat(
        np.arange(len(ids), dtype=np.int64) * span - t0, end - first))


def _find(rows: Rows, blk: np.ndarray, t: np.ndarray, side: str, width_us: int) -> np.ndarray:
    """Per query, the row where time t would go in block blk (searchsorted within the block);
    `width_us` bounds how far t lies outside the rows' time range."""
    span = _span(rows, width_us)
    key = _key(rows, span)
    if key is not None:
        t0 = _t01(rows)[0]
        return np.searchsorted(key, blk * span + (t - t0), side=side)
    _ids, first, end = _blocks(rows)
    out = np.empty(len(blk), np.int64)
    order = np.argsort(blk, kind="stable")
    cut = np.flatnonzero(_starts(blk[order])) if len(blk) else blk
    for s, e in zip(cut.tolist(), _ends(cut, len(blk)).tolist(), strict=True):
        at = order[s:e]
        b = int(blk[at[0]])
        out[at] = first[b] + np.searchsorted(rows.t[first[b]:end[b]], t[at], side=side)
    return out


def _starts_at(rows: Rows, width_us: int, idx: np.ndarray) -> np.ndarray:
    """_window_start (closed right) at the rows idx only."""
    span = _span(rows, width_us)
    key = _key(rows, span)
    if key is None:
        g = _memo(rows, "g", lambda: _groups(rows.ds))
        return _memo(rows, ("start", width_us), lambda: _window_start(g, rows.t, width_us))[idx]
    q = key[idx] - width_us
    per = _memo(rows, ("per", width_us), lambda: _rows_per_window(rows, width_us))
    if per < 2 or len(idx) < 64:
        return np.searchsorted(key, q, side="right")
    # series at a regular step (most are) start their window a fixed number of rows back:
    # check that guess (the first row after q, as keys increase) and search where it fails
    start = np.maximum(idx - (per - 1), 0)
    right = (key[start] > q) & ((start == 0) | (key[np.maximum(start - 1, 0)] <= q))
    if not right.all():
        wrong = np.flatnonzero(~right)
        start[wrong] = np.searchsorted(key, q[wrong], side="right")
    return start


def _rows_per_window(rows: Rows, width_us: int) -> int:
    """Rows in a window at the step of the longest series (0: no step to go by)."""
    _ids, first, end = _blocks(rows)
    k = int(np.argmax(end - first))
    if end[k] - first[k] < 3:
        return 0
    step = (int(rows.t[end[k] - 1]) - int(rows.t[first[k]])) / int(end[k] - first[k] - 1)
    return int(round(width_us / step)) if step > 0 else 0


def _mean_at(rows: Rows, width_us: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trailing means over `width_us` and their valid counts at the rows idx. Where a rule
    evaluated most rows (the 24-h WHO guideline on PM2.5 fires on most), they are kept for
    the rules reading the same rows and window after it: the same numbers, not computed
    twice. Nothing is kept otherwise: arrays of the rows' size would cost more to allocate
    than the few rows evaluated."""
    kept = rows.memo.get(("means", width_us))
    if kept is None:
        mean, count = _means(rows, width_us, idx)
        if 2 * len(idx) >= len(rows) > 0:
            kept = rows.memo[("means", width_us)] = (
                np.empty(len(rows)), np.empty(len(rows), np.int64), np.zeros(len(rows), bool))
            kept[0][idx], kept[1][idx], kept[2][idx] = mean, count, True
        return mean, count
    every, counts, have = kept
    miss = idx[~have[idx]]
    if len(miss):
        every[miss], counts[miss] = _means(rows, width_us, miss)
        have[miss] = True
    return every[idx], counts[idx]


def _means(rows: Rows, width_us: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _valid, cs, invalid = _valid_sums(rows)
    start = _starts_at(rows, width_us, idx)
    # valid rows in [start, idx]: all of them less the invalid ones there
    n = idx + 1 - start
    if len(invalid):
        n -= np.searchsorted(invalid, idx, side="right") - np.searchsorted(invalid, start,
                                                                             side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.round((cs[idx + 1] - cs[start]) / n, 6)
    return mean, n


def _blocks(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct datastreams and their row blocks [first, end)."""
    def make():
        ids = rows.streams()
        first = np.searchsorted(rows.ds, ids, side="left")
        return ids, first, _ends(first, len(rows))
    return _memo(rows, "blocks", make)


def _block_of(rows: Rows, idx: np.ndarray) -> np.ndarray:
    return np.searchsorted(_blocks(rows)[1], idx, side="right") - 1


def _sizes(rows: Rows) -> np.ndarray:
    _ids, first, end = _blocks(rows)
    return end - first


def _union(s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The rows of the ranges [s, e) (s sorted), once each, sorted."""
    keep = e > s
    s, e = s[keep], e[keep]
    if len(s) == 0:
        return s
    reach = np.maximum.accumulate(e)
    at = np.flatnonzero(_starts(s, reach))
    s, e = s[at], np.maximum.reduceat(e, at)
    size = e - s
    return np.repeat(s - _before(size), size) + np.arange(int(size.sum()))


def _sparse(rows: Rows, ranges: dict[int, tuple[int, int]], hits: np.ndarray, width, at
            ) -> Points:
    """The deciding points (see above): `at(idx)` evaluates rows idx (distinct) as (is a point,
    value, limit, severity); a point may fire only if a row of `hits` (sorted) lies in its
    trailing window (t - width, t] (width: one, or per hit)."""
    n = len(rows)
    ids, first, end = _blocks(rows)
    lo, hi = _per_stream(ranges, ids)
    a, b = _bounds(rows, lo, hi)
    b = np.maximum(a, b)  # in range: [a, b) of each block
    if 4 * len(hits) > n:
        cand = _union(a, b)  # a superset (every row in range) costs less than finding it
    else:
        hb = _block_of(rows, hits)
        width = np.broadcast_to(np.asarray(width, np.int64), hits.shape)
        reach = _find(rows, hb, rows.t[hits] + width, "left", int(width.max(initial=0)))
        cand = _union(np.maximum(hits, a[hb]), np.minimum(reach, b[hb]))
    done = np.zeros(n, bool)
    ok = np.zeros(n, bool)
    # what the evaluated rows gave, in the order evaluated (slot: a row's place there): not
    # arrays of the rows' size, which cost more to allocate than the few rows evaluated
    slot = np.empty(n, np.int32 if n < (1 << 31) else np.int64)
    got: list[tuple] = []
    evaluated = [0]

    def evaluate(idx: np.ndarray) -> None:
        idx = idx[~done[idx]]
        if len(idx):
            is_point, value, limit, sev = at(idx)
            ok[idx] = is_point
            got.append((value, limit, sev))
            slot[idx] = np.arange(evaluated[0], evaluated[0] + len(idx))
            evaluated[0] += len(idx)
            done[idx] = True

    evaluate(cand)
    fired = cand[ok[cand] & (got[0][2] >= 0)] if got else cand
    if len(fired) == 0:
        return _empty()
    fb = _block_of(rows, fired)
    blocks = fb[_starts(fb)]
    if 4 * len(hits) > n:  # every row in range is evaluated: the points are known, no walk
        pts = cand[ok[cand]]
        j = np.searchsorted(pts, fired, side="right")
        nxt = pts[np.minimum(j, len(pts) - 1)]
        nxt = nxt[(j < len(pts)) & (nxt < b[fb])]
        j = np.searchsorted(pts, b[blocks], side="left") - 1
        last = pts[np.maximum(j, 0)]
        last = last[(j >= 0) & (last >= a[blocks])]
    else:
        # the next point after each firing point, within range
        nxt = _walk(fired + 1, b[fb], 1, evaluate, ok)
        # the last point in range of each datastream with firing points
        last = _walk(b[blocks] - 1, a[blocks] - 1, -1, evaluate, ok)
    if 8 * (len(fired) + len(nxt)) > n:  # many: a mask costs less than a sort
        keep = np.zeros(n, bool)
        keep[fired] = keep[nxt] = keep[last] = True
        idx = np.flatnonzero(keep)
    else:
        idx = _sorted_distinct(np.concatenate((fired, nxt, last)))
    at_slot = slot[idx]
    value, limit, sev = (np.concatenate(c) for c in zip(*got, strict=True))
    return Points(rows.ds[idx], rows.t[idx], value[at_slot], limit[at_slot], sev[at_slot])


def _per_stream(ranges: dict[int, tuple[int, int]], ids: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The ranges of the datastreams ids as arrays, (1, 0) (empty) for those without one."""
    lo, hi = np.ones(len(ids), np.int64), np.zeros(len(ids), np.int64)
    if ranges and len(ids):
        keys = np.fromiter(ranges, np.int64, len(ranges))
        bounds = np.array(list(ranges.values()), np.int64).reshape(-1, 2)
        order = np.argsort(keys)
        keys, bounds = keys[order], bounds[order]
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        found = keys[at] == ids
        lo[found], hi[found] = bounds[at[found], 0], bounds[at[found], 1]
    return lo, hi


def _walk(p: np.ndarray, stop: np.ndarray, step: int, evaluate, ok: np.ndarray) -> np.ndarray:
    """From each start p, walking by `step` up to `stop` (excluded), the first row that is a
    point. A few rows at a time, then more: most walks end at once, some cross long runs of
    rows that are not points."""
    found = []
    width = 1
    while len(p):
        room = (stop - p) * step
        live = room > 0
        p, stop, room = p[live], stop[live], room[live]
        if len(p) == 0:
            break
        if width == 1:  # the first step: most walks end here
            evaluate(p)
            hit = ok[p]
            found.append(p[hit])
            p, stop = p[~hit] + step, stop[~hit]
            width = 2
            continue
        k = np.minimum(room, width)
        seg = np.repeat(np.arange(len(p)), k)
        idx = p[seg] + step * (np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k))
        evaluate(_sorted_distinct(idx))
        hit = np.flatnonzero(ok[idx])
        ended = np.zeros(len(p), bool)
        if len(hit):
            first = hit[_starts(seg[hit])]
            found.append(idx[first])
            ended[seg[first]] = True
        p, stop, k = p[~ended], stop[~ended], k[~ended]
        p = p + step * k
        width = min(width * 2, _WALK_MAX)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _bounds(rows: Rows, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block, the first row at or after lo and the first row after hi."""
    ids, first, end = _blocks(rows)
    t0, t1 = _t01(rows)
    blk = np.arange(len(ids), dtype=np.int64)
    return (_find(rows, blk, np.clip(lo, t0, t1 + 1), "left", 0),
            _find(rows, blk, np.clip(hi, t0 - 1, t1), "right", 0))


# np.r_ costs ~0.07 ms a call, more than the arrays here: these build the same arrays
def _starts(x: np.ndarray, reach: np.ndarray | None = None) -> np.ndarray:
    """np.r_[True, x[1:] != x[:-1]] (with `reach`: np.r_[True, x[1:] >= reach[:-1]])."""
    out = np.empty(len(x), bool)
    if len(x):
        out[0] = True
        if reach is None:
            np.not_equal(x[1:], x[:-1], out=out[1:])
        else:
            np.greater_equal(x[1:], reach[:-1], out=out[1:])
    return out


def _ends(first: np.ndarray, n: int) -> np.ndarray:
    """np.r_[first[1:], n]."""
    out = np.empty(len(first), np.int64)
    if len(first):
        out[:-1] = first[1:]
        out[-1] = n
    return out


def _before(size: np.ndarray) -> np.ndarray:
    """np.r_[0, np.cumsum(size)[:-1]]: where each of the sizes starts."""
    out = np.zeros(len(size), np.int64)
    if len(size) > 1:
        np.cumsum(size[:-1], out=out[1:])
    return out


def _sorted_distinct(x: np.ndarray) -> np.ndarray:
    """np.unique of ints by sorting (numpy's hash-based unique is slower on these)."""
    x = np.sort(x)
    return x[_starts(x)] if len(x) else x


def _distinct(sorted_ids: np.ndarray) -> list[int]:
    if len(sorted_ids) == 0:
        return []
    return sorted_ids[_starts(sorted_ids)].tolist()


def _margin(rows: Rows) -> float:
    """Slack for comparing raw values with a limit: rounding to 1e-6 and the float error of
    window sums taken as differences of cumulative sums."""
    def make():
        _valid, cs, _invalid = _valid_sums(rows)
        return 1e-3 + 1e-10 * max(float(cs.max()), -float(cs.min()))  # = abs(cs).max()
    return _memo(rows, "margin", make)


def _over(rows: Rows, low: np.ndarray) -> np.ndarray:
    """Valid rows above their block's `low` (less the margin): the rows that may fire."""
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero(rows.v > np.repeat(low - _margin(rows), _sizes(rows)))
    valid, _cs, _invalid = _valid_sums(rows)
    return hits[valid[hits]]


def _segments(rows: Rows, streams: dict[int, Stream], fn) -> tuple[np.ndarray, np.ndarray]:
    """fn(stream, utc date) as runs of rows where it cannot change: (first row of each run,
    value). fn depends on the stream's (country, property) and on the date only through the
    validity dates of limits and standards, so it is called once per (country, property,
    validity period), at the date of the run's first row (rules._per_day calls it per day)."""
    ids, first, end = _blocks(rows)
    breaks = _validity_breaks()
    t = rows.t
    k0 = np.searchsorted(breaks, t[first] // DAY_US, side="right")
    k1 = np.searchsorted(breaks, t[end - 1] // DAY_US, side="right")
    starts = [first]
    for i in np.flatnonzero(k1 > k0).tolist():  # blocks that cross a validity date
        f, e = int(first[i]), int(end[i])
        starts.append(f + np.searchsorted(t[f:e], breaks[k0[i]:k1[i]] * DAY_US, side="left"))
    run = _sorted_distinct(np.concatenate(starts)) if len(starts) > 1 else first
    blk = np.searchsorted(first, run, side="right") - 1
    day = t[run] // DAY_US
    era = np.searchsorted(breaks, day, side="right")
    cache: dict[tuple, float] = {}
    values = np.empty(len(run))
    for k, (b, d, e) in enumerate(zip(blk.tolist(), day.tolist(), era.tolist(), strict=True)):
        s = streams[int(ids[b])]
        key = (s.country, s.prop, e)
        if key not in cache:
            cache[key] = fn(s, EPOCH + timedelta(days=d))
        values[k] = cache[key]
    return run, values


def _at(run: np.ndarray, values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return values[np.searchsorted(run, idx, side="right") - 1]


def _per_block(rows: Rows, run: np.ndarray, values: np.ndarray, reduce) -> np.ndarray:
    first = _blocks(rows)[1]
    at = np.searchsorted(run, first, side="left")  # every block starts a run
    return reduce.reduceat(values, at) if len(at) else values[:0]


def _threshold_sparse(rule: Rule, rows: Rows, streams: dict[int, Stream], ranges) -> Points:
    p = rule.params
    width = window_hours(p["averaging"]) * HOUR_US
    if isinstance(p["limit"], float):
        run, values = _blocks(rows)[1], np.full(len(_blocks(rows)[1]), p["limit"])
    else:
        run, values = _segments(rows, streams, lambda s, d: _limit(
            p["limit"], s.country, s.prop, p["averaging"], p.get("level"), d))
    hits = _over(rows, _per_block(rows, run, values, np.fmin))

    def at(idx: np.ndarray):
        mean, n = _mean_at(rows, width, idx)
        lim = _at(run, values, idx)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = mean / lim
        sev = np.where(mean > lim, _escalated(rule.severity, ratio, p["escalate"]), -1)
        return (n >= p["min_valid"]) & np.isfinite(lim), mean, lim, sev.astype(np.int8)

    pts = _sparse(rows, ranges, hits, width, at)
    if not isinstance(p["limit"], float):
        pts.detail = {ds: {"limit": p["limit"], "country": streams[ds].country,
                           "level": p.get("level"), "averaging": p["averaging"]}
                      for ds in _distinct(pts.key)}
    return pts


_FLOORS: dict[tuple, float] = {}  # the standards are read once a process: so are these


def _aqi_floor(std, prop: str, avg: str, min_level: int) -> float:
    """The lowest concentration (canonical unit) whose sub-index can reach category
    `min_level` in this table, less the input rounding: below it the rule cannot fire."""
    key = (std.id, prop, avg, min_level)
    if key not in _FLOORS:
        _FLOORS[key] = _floor(std, prop, avg, min_level)
    return _FLOORS[key]


def _floor(std, prop: str, avg: str, min_level: int) -> float:
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
    std_ids = sorted(standards())
    run, code = _segments(rows, streams, lambda s, d: _std_code(
        _standard(p["standard"], p["fallback"], s.country, d), std_ids))
    names = sorted({s.prop for s in streams.values()})
    ids, first, _end = _blocks(rows)
    prop_of = np.array([names.index(streams[d].prop) for d in ids.tolist()], np.int64)
    run_prop = prop_of[np.searchsorted(first, run, side="right") - 1]
    # per (standard, pollutant): averaging window and the concentration below which no
    # sub-index reaches the rule's category
    plan: dict[tuple[int, int], tuple] = {}
    pair = (np.nan_to_num(code, nan=-1).astype(np.int64) + 1) * len(names) + run_prop
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
    by_group = {(c + 1) * len(names) + pi: (*entry, np.array(
        [math.inf if cat.max is None else cat.max for cat in entry[0].categories]))
        for (c, pi), entry in plan.items()}
    # per datastream: the lowest such concentration and the longest window of its standards
    hits = _over(rows, _per_block(rows, run, low_of[pair], np.fmin))
    widest = _per_block(rows, run, width_of[pair], np.maximum)

    def at(idx: np.ndarray):
        index = np.full(len(idx), np.nan)
        level = np.zeros(len(idx), np.int64)
        floor = np.full(len(idx), np.nan)
        ci, pi = _at(run, code, idx), prop_of[_block_of(rows, idx)]
        # the rows of each (standard, pollutant) present, in their order: one pass to group
        # them rather than one per pair the rule knows (a walk asks for a few rows at a time)
        group = (np.nan_to_num(ci, nan=-1).astype(np.int64) + 1) * len(names) + pi
        order = np.argsort(group, kind="stable")
        cuts = np.flatnonzero(_starts(group[order]))
        for a, b in zip(cuts.tolist(), _ends(cuts, len(idx)).tolist(), strict=True):
            g = int(group[order[a]])
            entry = by_group.get(g)
            if entry is None:
                continue
            std, prop, avg, hours, fl, _conc, maxima = entry
            sel = order[a:b]
            mean, n = _mean_at(rows, hours * HOUR_US, idx[sel])
            enough = n >= math.ceil(p["min_valid_fraction"] * hours)
            sel = sel[enough]
            values = iaqi_array(std.id, prop, mean[enough], avg)
            index[sel] = values
            level[sel] = np.searchsorted(maxima, values, side="left") + 1
            floor[sel] = fl
        sev = np.where(level >= p["min_level"], _escalated(rule.severity, level, p["escalate"]),
                       -1)
        return np.isfinite(index), index, floor, sev.astype(np.int8)

    pts = _sparse(rows, ranges, hits, widest[_block_of(rows, hits)], at)
    pts.detail = {ds: {"standard": p["standard"], "min_level": p["min_level"]}
                  for ds in _distinct(pts.key)}
    return pts


def _qc_burst_sparse(rule: Rule, rows: Rows, streams: dict[int, Stream], ranges) -> Points:
    p = rule.params
    width = int(p["hours"] * HOUR_US)
    flagged = np.flatnonzero(flag_in(rows.f, p["flags"]))

    def at(idx: np.ndarray):
        inside = (np.searchsorted(flagged, idx, side="right")
                  - np.searchsorted(flagged, _starts_at(rows, width, idx), side="left"))
        count = inside.astype(float)
        sev = np.where(count >= p["count"], RANK[rule.severity], -1).astype(np.int8)
        return np.ones(len(idx), bool), count, np.full(len(idx), float(p["count"])), sev

    return _sparse(rows, ranges, flagged, width, at)


_SPARSE = {"threshold": _threshold_sparse, "aqi": _aqi_sparse, "qc_burst": _qc_burst_sparse}
SPARSE_KINDS = frozenset(_SPARSE)  # their points are all within the ranges asked for
