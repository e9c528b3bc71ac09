"""Rule kinds as vectorised evaluations: observations in, evaluation points out.

Each kind turns the rows of its datastreams (sorted by datastream and time) into points: a
value, the limit it was compared with and a severity rank (-1 where it did not fire). numpy does
the windows; no Python loop runs per observation. `reach` says how far around the new data a
kind must look, so that an ingest evaluates only the windows its rows touch:

    kind            points re-evaluated              data read before the first point
    threshold, aqi  [t0, t1 + W)                     W (the averaging window)
    rate_of_change  [t0, t1 + gap]                   gap (max_gap_hours)
    anomaly         [t0, t1 + days]                  days (the baseline)
    qc_burst        [t0 - H, t1 + H + W]             W (H: how far QC re-flags stored rows)
    silence         per station, the gaps around [t0, t1]

Values in windows are rounded to 1e-6 so that sums over a series ingested in one file or in
several chunks compare equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ecobridge.air.aqi import get_standard, iaqi_array, standards
from ecobridge.air.standards import all_limits, limit_for, who_guideline
from ecobridge.alerts.models import HOUR_US, RANK, Points, Rule, window_hours

if TYPE_CHECKING:
    from ecobridge.monitoring.merge import Series

DAY_US = 24 * HOUR_US
EPOCH = date(1970, 1, 1)
INVALID_FLAGS = (4, 9)  # QARTOD fail and missing never count as valid values
_ANOMALY_CELLS = 1 << 20  # window values sorted at once


@dataclass
class Rows:
    """Observations of some datastreams, sorted by (ds, t)."""

    ds: np.ndarray
    t: np.ndarray
    v: np.ndarray
    f: np.ndarray
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # windows, sums

    def take(self, mask: np.ndarray) -> Rows:
        return Rows(self.ds[mask], self.t[mask], self.v[mask], self.f[mask])

    def __len__(self) -> int:
        return len(self.t)

    def streams(self) -> np.ndarray:
        """The distinct datastream ids, in order (rows are sorted by ds: no sort needed)."""
        if len(self.ds) == 0:
            return self.ds
        first = np.empty(len(self.ds), bool)  # np.r_[True, ds[1:] != ds[:-1]], cheaper
        first[0] = True
        np.not_equal(self.ds[1:], self.ds[:-1], out=first[1:])
        return self.ds[first]


@dataclass(frozen=True)
class Stream:
    """What a rule needs to know about a datastream."""

    id: int
    thing_id: int
    dataset_id: int
    prop: str
    unit: str
    country: str | None
    qc_horizon_us: int
    lon: float = math.nan
    lat: float = math.nan


def reach(rule: Rule, stream: Stream) -> tuple[int, int, int]:
    """(points before t0, points after t1, data read before the first point), in us. Of the
    stream only its property and QC horizon count (evaluate._plan looks it up once per pair)."""
    p = rule.params
    if rule.kind == "threshold":
        w = window_hours(p["averaging"]) * HOUR_US
        return 0, w, w
    if rule.kind == "aqi":
        w = _aqi_window_us(stream.prop)
        return 0, w, w
    if rule.kind == "rate_of_change":
        gap = int(p["max_gap_hours"] * HOUR_US)
        return 0, gap, gap
    if rule.kind == "anomaly":
        days = p["days"] * DAY_US
        return 0, days, days
    if rule.kind == "qc_burst":
        w = int(p["hours"] * HOUR_US)
        return stream.qc_horizon_us, stream.qc_horizon_us + w, w
    raise ValueError(rule.kind)


def points(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    """Evaluation points of a datastream rule over `rows` (silence has its own function).
    alerts.sparse.points gives the same episodes from far fewer points."""
    if len(rows) == 0:
        return _empty()
    fn = {"threshold": _threshold, "aqi": _aqi, "rate_of_change": _rate_of_change,
          "anomaly": _anomaly, "qc_burst": _qc_burst}[rule.kind]
    return fn(rule, rows, streams)


def _empty() -> Points:
    z = np.zeros(0)
    return Points(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, np.zeros(0, np.int8))


def flag_in(f: np.ndarray, flags) -> np.ndarray:
    """np.isin(f, flags) for a few flag values (isin is far slower on small-int arrays)."""
    out = np.zeros(f.shape, bool)
    for x in flags:
        out |= f == x
    return out


# -- windows ---------------------------------------------------------------------------------
def _groups(ds: np.ndarray) -> np.ndarray:
    """Dense group index of sorted ids."""
    g = np.zeros(len(ds), np.int64)
    if len(ds) > 1:
        g[1:] = np.cumsum(ds[1:] != ds[:-1])
    return g


def _window_start(g: np.ndarray, t: np.ndarray, width_us: int, *,
                  closed_right: bool = True) -> np.ndarray:
    """Index of the first row of each row's trailing window (t - width, t] in its group
    (or [t - width, t) with closed_right=False, which then ends before the row itself)."""
    if len(t) == 0:
        return np.zeros(0, np.int64)
    t0 = int(t.min())
    span = int(t.max()) - t0 + width_us + 1
    if int(g.max()) + 1 > (1 << 62) // span:  # does not fit one int64 key: go group by group
        out = np.empty(len(t), np.int64)
        bounds = np.flatnonzero(np.diff(g)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(t)], strict=True):
            out[lo:hi] = lo + np.searchsorted(t[lo:hi], t[lo:hi] - width_us,
                                              side="right" if closed_right else "left")
        return out
    key = g * span + (t - t0)
    return np.searchsorted(key, key - width_us, side="right" if closed_right else "left")


def _rolling_mean(rows: Rows, g: np.ndarray, width_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing mean over (t - width, t] of valid values, and the count of valid values."""
    valid = np.isfinite(rows.v) & ~flag_in(rows.f, INVALID_FLAGS)
    start = _window_start(g, rows.t, width_us)
    end = np.arange(1, len(rows) + 1)
    cs = np.concatenate(([0.0], np.cumsum(np.where(valid, np.round(rows.v, 6), 0.0))))
    cc = np.concatenate(([0], np.cumsum(valid)))
    n = cc[end] - cc[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.round((cs[end] - cs[start]) / n, 6)
    return mean, n


def _per_day(rows: Rows, streams: dict[int, Stream], fn) -> np.ndarray:
    """fn(stream, utc date) for every row, computed once per distinct (country, property,
    day): the limits and AQI standards depend on nothing else."""
    ids = rows.streams()
    groups: dict[tuple, int] = {}
    first: list[Stream] = []
    code = np.empty(len(ids), np.int64)
    for i, ds in enumerate(ids.tolist()):
        s = streams[ds]
        k = groups.setdefault((s.country, s.prop), len(groups))
        if k == len(first):
            first.append(s)
        code[i] = k
    day = rows.t // DAY_US
    d0 = int(day.min())
    span = int(day.max()) - d0 + 1
    # rows are sorted by (ds, t): runs of one (ds, day) are contiguous, so only run starts
    # need the (small) unique
    starts = np.flatnonzero(np.r_[True, (rows.ds[1:] != rows.ds[:-1]) | (day[1:] != day[:-1])])
    key = code[np.searchsorted(ids, rows.ds[starts])] * span + (day[starts] - d0)
    pairs, inverse = np.unique(key, return_inverse=True)
    values = np.array([fn(first[p // span], EPOCH + timedelta(days=p % span + d0))
                       for p in pairs.tolist()], dtype=float)
    return np.repeat(values[inverse], np.diff(np.r_[starts, len(rows)]))


@lru_cache(maxsize=1)
def _validity_breaks() -> np.ndarray:
    """The days (since 1970) on which any limit or AQI standard comes into or out of force."""
    days = set()
    for doc in (*all_limits(), *standards().values()):
        if doc.valid_from is not None:
            days.add((doc.valid_from - EPOCH).days)
        if doc.valid_to is not None:
            days.add((doc.valid_to - EPOCH).days + 1)
    return np.array(sorted(days), np.int64)


def _escalated(base: str, measure: np.ndarray, steps: list) -> np.ndarray:
    sev = np.full(len(measure), RANK[base], np.int8)
    for at, severity in steps:
        sev = np.where(measure >= at, np.maximum(sev, RANK[severity]), sev).astype(np.int8)
    return sev


# -- kinds -----------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _limit(limit: str, country: str | None, prop: str, averaging: str, level: str | None,
           day: date) -> float:
    try:
        if limit == "who":
            found = who_guideline(prop, averaging, level or "AQG")
        elif country is None:
            return math.nan
        else:
            found = limit_for(country, prop, averaging, day, level=level)
    except Exception:  # a property or period without standards: nothing to compare with
        return math.nan
    return math.nan if found is None else found.value_canonical


def _threshold(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    p = rule.params
    g = _groups(rows.ds)
    mean, n = _rolling_mean(rows, g, window_hours(p["averaging"]) * HOUR_US)
    if isinstance(p["limit"], float):
        limit = np.full(len(rows), p["limit"])
    else:
        limit = _per_day(rows, streams, lambda s, d: _limit(
            p["limit"], s.country, s.prop, p["averaging"], p.get("level"), d))
    ok = (n >= p["min_valid"]) & np.isfinite(limit)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean / limit
    sev = np.where(mean > limit, _escalated(rule.severity, ratio, p["escalate"]), -1)
    detail = {}
    if not isinstance(p["limit"], float):
        for ds in rows.streams().tolist():
            s = streams[ds]
            detail[ds] = {"limit": p["limit"], "country": s.country, "level": p.get("level"),
                          "averaging": p["averaging"]}
    return Points(rows.ds[ok], rows.t[ok], mean[ok], limit[ok], sev[ok].astype(np.int8), detail)


@lru_cache(maxsize=256)
def _aqi_window_us(prop: str) -> int:
    """The longest averaging any AQI standard uses for a pollutant (so reach is enough)."""
    hours = [window_hours(avg) for std in standards().values()
             for (pol, avg) in std.tables if pol == prop and avg.endswith("h")]
    return max(hours, default=1) * HOUR_US


@lru_cache(maxsize=4096)
def _standard(spec: str, fallback: str, country: str | None, day: date) -> str | None:
    for ref in ((country, fallback) if spec == "national" else (spec,)):
        if ref is None:
            continue
        try:
            return get_standard(ref, day).id
        except Exception:
            continue
    return None


def _aqi(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    p = rule.params
    g = _groups(rows.ds)
    std_ids = sorted(standards())
    code = _per_day(rows, streams, lambda s, d: _std_code(
        _standard(p["standard"], p["fallback"], s.country, d), std_ids))
    index = np.full(len(rows), np.nan)
    level = np.zeros(len(rows), np.int64)
    floor = np.full(len(rows), np.nan)
    means: dict[int, tuple] = {}
    names = sorted({s.prop for s in streams.values()})
    firsts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    props = np.array([names.index(streams[int(ds)].prop) for ds in rows.ds[firsts]],
                     np.int64)[g]
    for c in np.unique(code[np.isfinite(code)]).astype(int).tolist():
        std = standards()[std_ids[c]]
        for pi in np.unique(props[code == c]).tolist():
            prop = names[pi]
            avg = std.defaults.get(prop)
            if avg is None or (prop, avg) not in std.tables or not avg.endswith("h"):
                continue
            hours = window_hours(avg)
            if hours not in means:
                means[hours] = _rolling_mean(rows, g, hours * HOUR_US)
            mean, n = means[hours]
            sel = (code == c) & (props == pi) & (n >= math.ceil(p["min_valid_fraction"] * hours))
            values = iaqi_array(std.id, prop, mean[sel], avg)
            maxima = np.array([math.inf if cat.max is None else cat.max
                               for cat in std.categories])
            index[sel] = values
            level[sel] = np.searchsorted(maxima, values, side="left") + 1
            floor[sel] = std.categories[p["min_level"] - 2].max + 1 if p["min_level"] > 1 else 0
    ok = np.isfinite(index)
    sev = np.where(level >= p["min_level"], _escalated(rule.severity, level, p["escalate"]), -1)
    detail = {ds: {"standard": p["standard"], "min_level": p["min_level"]}
              for ds in rows.streams().tolist()}
    return Points(rows.ds[ok], rows.t[ok], index[ok], floor[ok], sev[ok].astype(np.int8), detail)


def _std_code(std_id: str | None, ids: list[str]) -> float:
    return math.nan if std_id is None else float(ids.index(std_id))


def _rate_of_change(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    p = rule.params
    valid = np.isfinite(rows.v) & ~flag_in(rows.f, INVALID_FLAGS)
    r = rows.take(valid)
    if len(r) < 2:
        return _empty()
    same = r.ds[1:] == r.ds[:-1]
    dt = (r.t[1:] - r.t[:-1]) / HOUR_US
    ok = np.r_[False, same & (dt <= p["max_gap_hours"]) & (dt > 0)]
    rate = np.zeros(len(r))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate[1:] = np.round((r.v[1:] - r.v[:-1]) / dt, 6)
    measure = {"up": rate, "down": -rate, "both": np.abs(rate)}[p["direction"]]
    sev = np.where(measure > p["max_rise"], RANK[rule.severity], -1).astype(np.int8)
    return Points(r.ds[ok], r.t[ok], rate[ok], np.full(int(ok.sum()), p["max_rise"]), sev[ok])


def _anomaly(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    """Robust z-score against the same hour of day over the preceding `days` days."""
    p = rule.params
    valid = np.isfinite(rows.v) & ~flag_in(rows.f, INVALID_FLAGS)
    r = rows.take(valid)
    if len(r) == 0:
        return _empty()
    hour = (r.t // HOUR_US) % 24
    # by (datastream, hour of day, time): rows come sorted by (datastream, time), distinct,
    # so a stable sort on (datastream, hour) orders them as lexsort((t, hour, ds)) would
    order = np.argsort(_groups(r.ds) * 24 + hour, kind="stable")
    ds, t, v, hour = r.ds[order], r.t[order], np.round(r.v[order], 6), hour[order]
    sub = np.zeros(len(t), np.int64)
    sub[1:] = np.cumsum((ds[1:] != ds[:-1]) | (hour[1:] != hour[:-1]))
    start = _window_start(sub, t, p["days"] * DAY_US, closed_right=False)
    length = np.arange(len(t)) - start
    z = np.full(len(t), np.nan)
    median = np.full(len(t), np.nan)
    at = np.flatnonzero(length >= p["min_history"])
    med, mad = _median_mad(v, start[at], length[at])
    median[at] = med
    z[at] = np.round(0.6745 * (v[at] - med) / np.maximum(mad, p["min_mad"]), 6)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))  # to (ds, t) order again
    ds, t, z, median = r.ds, r.t, z[back], median[back]
    ok = np.isfinite(z)
    sev = np.where(np.abs(z) > p["z"], RANK[rule.severity], -1).astype(np.int8)
    return Points(ds[ok], t[ok], z[ok], median[ok], sev[ok])


def _median_mad(v: np.ndarray, start: np.ndarray, length: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Median and median absolute deviation of each window v[start:start + length], as
    np.nanmedian gives them (the mean of the two middle values of an even count): windows of
    one length are sorted together; the deviations of a sorted window are two sorted runs
    (left of the median, right of it), so their middle ones are found by bisection instead of
    a second sort."""
    med, mad = np.empty(len(start)), np.empty(len(start))
    for n in np.flatnonzero(np.bincount(length)).tolist():
        rows = np.flatnonzero(length == n)
        step = max(1, _ANOMALY_CELLS // n)
        windows = np.lib.stride_tricks.sliding_window_view(v, n)
        for lo in range(0, len(rows), step):
            at = rows[lo:lo + step]
            w = np.sort(windows[start[at]], axis=1)
            h = n // 2
            m = (w[:, h - 1 if n % 2 == 0 else h] + w[:, h]) / 2
            d_lo, d_hi = _kth_deviation(w, m, h + 1)  # the middle deviations, 1-based
            med[at] = m
            mad[at] = d_hi if n % 2 else (d_lo + d_hi) / 2
    return med, mad


def _kth_deviation(w: np.ndarray, m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise (k-1)-th and k-th smallest (1-based) of |w - m| for sorted rows w split at
    h = n // 2: the left run m - w[h - i] (i = 1..h) and the right run w[h + j - 1] - m
    (j = 1..n - h) are both ascending; bisect for the number i taken from the left."""
    n = w.shape[1]
    h = n // 2
    flat = w.reshape(-1)
    base = np.arange(len(w)) * n + h
    # the least i with right(k - i) <= left(i + 1): then the k smallest are i from the left
    # and k - i from the right, and the k-th is the larger of the last two taken. While
    # lo < hi, 1 <= k - mid <= n - h and mid + 1 <= h: no index leaves its run (rows already
    # settled may read a neighbour's value, which is then ignored).
    lo = np.full(len(w), max(0, k - (n - h)))
    hi = np.full(len(w), min(k, h))
    while (lo < hi).any():
        mid = (lo + hi) // 2
        fits = (flat[base + (k - mid) - 1] - m <= m - flat[base - (mid + 1)]) | (lo >= hi)
        hi = np.where(fits, mid, hi)
        lo = np.where(fits, lo, mid + 1)

    def left(i):
        return np.where(i > 0, m - flat[base - np.maximum(i, 1)], -np.inf)

    def right(j):
        return np.where(j > 0, flat[base + np.maximum(j, 1) - 1] - m, -np.inf)

    a, b = left(lo), right(k - lo)
    # the (k-1)-th: the k smallest less the largest of them
    below = np.where(a >= b, np.maximum(left(lo - 1), b), np.maximum(a, right(k - lo - 1)))
    return below, np.maximum(a, b)


def _qc_burst(rule: Rule, rows: Rows, streams: dict[int, Stream]) -> Points:
    p = rule.params
    g = _groups(rows.ds)
    flagged = flag_in(rows.f, p["flags"])
    start = _window_start(g, rows.t, int(p["hours"] * HOUR_US))
    cc = np.concatenate(([0], np.cumsum(flagged)))
    count = (cc[np.arange(1, len(rows) + 1)] - cc[start]).astype(float)
    sev = np.where(count >= p["count"], RANK[rule.severity], -1).astype(np.int8)
    return Points(rows.ds, rows.t, count, np.full(len(rows), float(p["count"])), sev)


def station_times(rows: Rows, streams: dict[int, Stream]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (station, time) pairs of rows, sorted: a station is silent only when none of
    its datastreams reports."""
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.array(sorted(streams), np.int64)
    things = np.array([streams[i].thing_id for i in ids.tolist()], np.int64)
    present = rows.streams()
    owner = things[np.searchsorted(ids, present)]
    if len(np.unique(owner)) == len(owner):
        # one datastream per station: its times are the station's, already distinct; only
        # the blocks need the stations' order
        first = np.searchsorted(rows.ds, present)
        size = np.diff(np.r_[first, len(rows)])
        order = np.argsort(owner, kind="stable")
        if (np.diff(owner) > 0).all():
            return np.repeat(owner, size), rows.t
        idx = np.concatenate([np.arange(first[k], first[k] + size[k]) for k in order.tolist()])
        return np.repeat(owner[order], size[order]), rows.t[idx]
    thing = things[np.searchsorted(ids, rows.ds)]
    t0 = int(rows.t.min())
    span = int(rows.t.max()) - t0 + 1
    dense_ids = np.unique(things)
    if len(dense_ids) > (1 << 62) // span:  # no single int64 key: the slower 2-d unique
        pair = np.unique(np.stack((thing, rows.t)), axis=1)
        return pair[0], pair[1]
    key = np.unique(np.searchsorted(dense_ids, thing) * span + (rows.t - t0))
    return dense_ids[key // span], key % span + t0


def silence_points(rule: Rule, thing: np.ndarray, t: np.ndarray) -> Points:
    """Silence per station: for each gap longer than `hours` between consecutive observation
    times (any of its datastreams), a firing point when the silence reached `hours` (value: the
    gap in hours) and a quiet point when data came back. `thing`, `t` sorted, times distinct."""
    if len(t) < 2:
        return _empty()
    h = int(rule.params["hours"] * HOUR_US)
    gap = np.r_[False, (thing[1:] == thing[:-1]) & (t[1:] - t[:-1] > h)]
    at = np.flatnonzero(gap)
    k = np.concatenate((thing[at], thing[at]))
    tt = np.concatenate((t[at - 1] + h, t[at]))
    val = np.concatenate(((t[at] - t[at - 1]) / HOUR_US, np.zeros(len(at))))
    sev = np.concatenate((np.full(len(at), RANK[rule.severity], np.int8),
                          np.full(len(at), -1, np.int8)))
    order = np.lexsort((tt, k))
    return Points(k[order], tt[order], np.round(val[order], 6),
                  np.full(len(order), rule.params["hours"]), sev[order])


# -- silence: each station's observations around new data (evaluate._silence_plan) ----------
_TS = pa.timestamp("us", tz="UTC")


def around_held(held: Series | None, ids: list[int], streams: dict[int, Stream],
                 span: dict[int, tuple[int, int]]) -> tuple[list[tuple], set[int]]:
    """Per station, its last observation before and first after its span, from the rows the
    merge holds where they settle it; the stations they do not settle are returned to ask."""
    if held is None:
        return [], set(span)
    lo_all, hi_all = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    found: dict[int, list] = {}
    ask: set[int] = set()
    held_ids = held.ids.tolist()
    at = dict(zip(held_ids, range(len(held_ids)), strict=True))
    starts = np.searchsorted(held.ds, held.ids, side="left").tolist()
    ends = np.searchsorted(held.ds, held.ids, side="right").tolist()
    for ds in ids:
        thing = streams[ds].thing_id
        if thing not in span or thing in ask:
            continue
        if ds not in at:
            ask.add(thing)
            continue
        i = at[ds]
        a, b = starts[i], ends[i]
        clo, chi = int(held.lo[i]), int(held.hi[i])
        lo, hi = span[thing]
        t = held.t[a:b]
        k = int(np.searchsorted(t, lo, side="left"))
        j = int(np.searchsorted(t, hi, side="right"))
        if (k == 0 and clo != lo_all) or (j == len(t) and chi != hi_all):
            ask.add(thing)  # stored rows beyond what the merge holds may be nearer
            continue
        prev = int(t[k - 1]) if k > 0 else None
        nxt = int(t[j]) if j < len(t) else None
        have = found.setdefault(thing, [len(t) > 0, prev, nxt])
        have[0] = have[0] or len(t) > 0
        if prev is not None:
            have[1] = prev if have[1] is None else max(have[1], prev)
        if nxt is not None:
            have[2] = nxt if have[2] is None else min(have[2], nxt)
    return [(thing, *span[thing], prev, nxt) for thing, (any_, prev, nxt) in found.items()
            if any_ and thing not in ask], ask


def around_stored(cur, ids: list[int], streams: dict[int, Stream],
                   span: dict[int, tuple[int, int]]) -> list[tuple]:
    if not ids:
        return []
    table = pa.table({"ds": np.array(ids, np.int64),
                      "thing": np.array([streams[d].thing_id for d in ids], np.int64)})
    bounds = pa.table({"thing": np.array(list(span), np.int64),
                       "lo": pa.array([v[0] for v in span.values()], _TS),
                       "hi": pa.array([v[1] for v in span.values()], _TS)})
    cur.register("__eb_sil_ds", table)
    cur.register("__eb_sil_b", bounds)
    try:
        return cur.execute("""
            SELECT b.thing, epoch_us(b.lo), epoch_us(b.hi),
                   epoch_us(max(o.phenomenon_time) FILTER (WHERE o.phenomenon_time < b.lo)),
                   epoch_us(min(o.phenomenon_time) FILTER (WHERE o.phenomenon_time > b.hi))
            FROM __eb_sil_b b JOIN __eb_sil_ds s ON s.thing = b.thing
            JOIN observations o ON o.datastream_id = s.ds
            WHERE o.datastream_id BETWEEN ? AND ?
            GROUP BY ALL""", [min(ids), max(ids)]).fetchall()
    finally:
        cur.unregister("__eb_sil_ds")
        cur.unregister("__eb_sil_b")
