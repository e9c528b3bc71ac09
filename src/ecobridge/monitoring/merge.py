"""Merge accepted rows into the store: dedupe, compare with stored rows, QC, append sorted.

Uniqueness of (datastream, phenomenon time) is kept here, as the observations table has no index.
New rows are sorted by (datastream, time) together with the stored rows around them (the
"context"), so that duplicates, inserts, updates and unchanged rows fall out of one pass and the
QC neighbour tests see the same series whether a file arrives whole or in parts.

The context of a datastream whose new rows span [mn, mx] runs from the last stored row before
A - H to the first stored row at or after B + H, where A is the last stored time before mn, B the
first stored time after mx and H the flat-line horizon of the property: every stored row whose
flags can change (A up to, not including, that last row) then has all the neighbours its tests
look at. Only stored rows in that range are re-flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecobridge.monitoring import qc
from ecobridge.monitoring.report import Counts

INSERT_CHUNK = 1 << 21
# An Arrow table of many record batches is scanned by all of DuckDB's threads and written out
# as row groups during the INSERT; one batch of 2 M rows is scanned by one thread and left for
# the COMMIT to compress and write (measured at 10 M rows: ~4 CPU s more, and a larger file).
INSERT_BATCH = 122_880
_UTC_US = pa.timestamp("us", tz="UTC")
_KEEP: dict[int, list[Series]] = {}  # run id -> what its merges left, while the run keeps them


@dataclass
class Rows:
    """Accepted rows of a file, in file order: datastream group, time (UTC us), value, row."""

    g: np.ndarray
    t: np.ndarray
    v: np.ndarray
    rn: np.ndarray
    pos: np.ndarray  # position in the parsed stream, which quarantine uses to find raw fields


@dataclass
class Series:
    """What a merge left stored, in memory, for the alert evaluator (alerts.evaluate): rows
    sorted by (datastream, time) with their stored values and flags. Per datastream `ids`, the
    rows are every stored row in [lo, hi] (int64 min/max: unbounded); `touched` is the time
    range of the rows the run inserted or changed (what its ingest_run_id marks)."""

    ds: np.ndarray
    t: np.ndarray
    v: np.ndarray
    f: np.ndarray
    ids: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    touched: dict[int, tuple[int, int]]


@contextmanager
def keep_series(run_id: int, kept: list | None = None) -> Iterator[list[Series]]:
    """Collect the Series of the merges of a run (the ingest hands them to the evaluator
    instead of it reading the rows back), in `kept` when given (alerts.overlap's starts the
    evaluation on the first while the rows are appended)."""
    _KEEP[run_id] = kept = [] if kept is None else kept
    try:
        yield kept
    finally:
        _KEEP.pop(run_id, None)


@dataclass
class Merged:
    counts: Counts
    duplicate_pos: np.ndarray  # rows rejected as duplicates ...
    duplicate_rn: np.ndarray
    duplicate_of: np.ndarray  # ... and the row each repeats
    received: np.ndarray  # per group: did any row land in it


def merge_and_write(cur, rows: Rows, *, ds_of_g: np.ndarray, configs: list[qc.QcConfig],
                    run_id: int) -> Merged:
    ctx = _context(cur, rows, ds_of_g, configs)
    kept = _KEEP.get(run_id)
    # the run's first merge: the evaluation reads while the rows are sorted and computes while
    # they are checked (alerts.overlap); it has the cursor until wait_cursor
    early = kept is not None and len(kept) == 0 and getattr(kept, "early", False)
    if early:
        kept.begin(ds_of_g)
    try:
        m = len(ctx["t"])
        if m:
            g, t, v = (np.concatenate((ctx[k], getattr(rows, k))) for k in ("g", "t", "v"))
            rn, pos = (np.concatenate((np.zeros(m, np.int64), getattr(rows, k)))
                       for k in ("rn", "pos"))
            src = np.concatenate((np.zeros(m, np.int8), np.ones(len(rows.t), np.int8)))
        else:
            g, t, v, rn, pos, src = rows.g, rows.t, rows.v, rows.rn, rows.pos, None
        rows.g = rows.t = rows.v = rows.rn = rows.pos = None  # let the sorted copies replace them
        order = _sort(g, t, src, rn, fast=(m == 0))
        g = g[order]
        t = t[order]
        v = v[order]
        n = len(t)
        # runs of equal (g, t): at most one stored row (first), then new rows in file order
        same = np.zeros(n, dtype=bool)
        same[1:] = (g[1:] == g[:-1]) & (t[1:] == t[:-1])
        run_start = (np.maximum.accumulate(np.where(same, 0, np.arange(n))) if same.any()
                     else None)
        if m == 0:  # nothing stored nearby: every row is new, a repeat of its run is a duplicate
            duplicate, first_new = same, run_start
            state = None
        else:
            state = _against_store(ctx, order, src[order], same, run_start, v)
            duplicate, first_new = state["duplicate"], state["first_new"]
        series = ~duplicate & ~state["superseded"] if state else ~duplicate
        accepted = ~duplicate if state is None else state["is_new"] & ~duplicate
        inserted = accepted if state is None else accepted & ~state["matched"]
        if early:
            flags, tests = _qc_early(cur, kept, ds_of_g, g, t, v, series, configs, inserted,
                                     state, ctx)
        elif series.all():
            flags, tests = qc.evaluate(g, t, v, configs)
        else:
            flags, tests = np.zeros(n, np.uint8), np.zeros(n, np.uint16)
            flags[series], tests[series] = qc.evaluate(g[series], t[series], v[series], configs)
    except BaseException:
        if early:
            kept.abandon()  # it would wait for rows that will not come
        raise
    finally:
        if early:
            kept.wait_cursor()

    counts = Counts(rows_inserted=int(inserted.sum()), rows_flagged=int(
        (accepted & (flags >= qc.SUSPECT) & (flags != qc.MISSING)).sum()))
    if state is not None:
        reflag = _reflag(ctx, state, flags, tests)
        counts.rows_updated = int(state["updated"].sum())
        counts.rows_unchanged = int(state["unchanged"].sum())
        counts.rows_reflagged = int(reflag.sum())
        state["reflag"] = reflag
        _update(cur, ds_of_g, g, v, flags, tests, ctx["id"], state["ctx_index"],
                state["updated"], reflag, run_id)
    if run_id in _KEEP and not early:  # before the append, which the evaluation may overlap
        _KEEP[run_id].append(_series(ds_of_g, g, t, v, flags, inserted, state, ctx))
    first_id = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM observations").fetchone()[0]
    _insert(cur, ds_of_g, g, t, v, flags, tests, inserted, first_id, run_id)
    if run_id in _KEEP and hasattr(_KEEP[run_id], "appended"):
        _KEEP[run_id].appended()  # the append is over: what waited for it may start
    _datastreams(cur, ds_of_g, g, t, v, flags, series, inserted, accepted, ctx["open_end"])
    received = np.bincount(g[accepted], minlength=len(ds_of_g)) > 0
    # row numbers and stream positions only for the duplicates (most files have none)
    at = order[duplicate]
    dup_of = (rn[order[first_new[duplicate]]] if first_new is not None
              else np.zeros(0, np.int64))
    return Merged(counts, pos[at], rn[at], dup_of, received)


# QC passes when the evaluation follows them: about PASSES of them, of EARLY_CHUNK rows at
# least (each pass costs a little more; the evaluation starts on the first once it is done)
PASSES, EARLY_CHUNK = 4, 1 << 16


def _qc_early(cur, kept, ds_of_g, g, t, v, series, configs, inserted, state, ctx):
    """QC in passes of whole datastreams, the evaluation told of the rows each pass settles:
    it goes on reading on the cursor while the first pass runs (nothing here uses the cursor)
    and computes a pass's rows while the next is checked. The flags are those of one pass (a
    datastream's depend on its own rows)."""
    n = len(t)
    held, keep = _shell(ds_of_g, g, t, v, inserted, state, ctx)
    # sorted row -> place among the held rows: where a pass's rows go
    if keep is None:
        place = np.arange(n + 1)
    else:
        place = np.zeros(n + 1, np.int64)
        np.cumsum(keep, out=place[1:])
    every_row = bool(series.all())
    at = None if every_row else np.flatnonzero(series)
    out = [np.zeros(n, np.uint8), np.zeros(n, np.uint16)]
    done = [0]

    def settle(hi: int, flags, tests) -> None:
        lo = done[0]
        if hi > lo:
            part = slice(lo, hi)
            f = flags[part] if state is None else _held_flags(
                flags, tests, part, inserted, state, ctx)
            held.f[place[lo]:place[hi]] = f if keep is None else f[keep[part]]
            done[0] = hi
        kept.settled(int(place[hi]))

    def passed(b, e, qf, qt) -> None:
        if every_row:
            out[0], out[1] = qf, qt
            settle(e, qf, qt)
            return
        out[0][at[b:e]], out[1][at[b:e]] = qf[b:e], qt[b:e]
        settle(int(at[e]) if e < len(at) else n, *out)

    kept.start(held)
    chunk = min(qc.CHUNK, max(EARLY_CHUNK, -(-n // PASSES)))
    if every_row:
        out[0], out[1] = qc.evaluate(g, t, v, configs, chunk=chunk, on_chunk=passed)
    else:
        qc.evaluate(g[at], t[at], v[at], configs, chunk=chunk, on_chunk=passed)
    settle(n, *out)
    return out[0], out[1]


def _held_flags(flags, tests, part, inserted, state, ctx) -> np.ndarray:
    """The flags the rows `part` keep: QC's where they are written, else the stored ones."""
    rewritten = inserted[part] | state["updated"][part] | _reflag(ctx, state, flags, tests,
                                                                   part)
    return np.where(rewritten, flags[part],
                    ctx["flag"][np.maximum(state["ctx_index"][part], 0)])


def _shell(ds_of_g, g, t, v, inserted, state, ctx) -> tuple[Series, np.ndarray | None]:
    """The Series before QC: its flags (`f`) left to fill; and which sorted rows it holds
    (None: all)."""
    keep = inserted if state is None else inserted | (state["ctx_index"] >= 0)
    series = _series(ds_of_g, g, t, v, None, inserted, state, ctx, keep=keep)
    series.f = np.zeros(len(series.t), np.uint8)
    return series, None if bool(keep.all()) else keep


def _series(ds_of_g, g, t, v, flags, inserted, state, ctx, keep=None) -> Series:
    """`flags` None: without them (f None), `keep` given (_shell)."""
    n_groups = len(ds_of_g)
    if keep is not None:
        f, changed = None, inserted if state is None else inserted | state["updated"]
    elif state is None:
        keep, f, changed = inserted, flags, inserted
    else:
        keep = inserted | (state["ctx_index"] >= 0)
        rewritten = inserted | state["updated"] | state["reflag"]
        f = np.where(rewritten, flags, ctx["flag"][np.maximum(state["ctx_index"], 0)])
        changed = inserted | state["updated"]
    every = bool(keep.all())
    lo = np.full(n_groups, np.iinfo(np.int64).min)
    hi = np.full(n_groups, np.iinfo(np.int64).max)
    if len(ctx["t"]):
        held_lo, held_hi = hi.copy(), lo.copy()
        np.minimum.at(held_lo, ctx["g"], ctx["t"])
        np.maximum.at(held_hi, ctx["g"], ctx["t"])
        lo = np.where(ctx["open_start"], lo, held_lo)
        hi = np.where(ctx["open_end"], hi, held_hi)
    # per group, the first and last time changed (rows sorted by group, then time)
    gc, tc = (g, t) if changed.all() else (g[changed], t[changed])
    first = np.empty(len(gc), bool)
    if len(gc):
        first[0] = True
        np.not_equal(gc[1:], gc[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(gc)) - 1 if len(gc) else starts  # nothing changed
    touched = dict(zip(ds_of_g[gc[starts]].tolist(),
                       zip(tc[starts].tolist(), tc[ends].tolist(), strict=True), strict=True))
    return Series(ds_of_g[g] if every else ds_of_g[g[keep]], t if every else t[keep],
                  v if every else v[keep], f if every or f is None else f[keep], ds_of_g, lo,
                  hi, touched)


def _against_store(ctx: dict, order, src, same, run_start, v) -> dict:
    """Classify sorted rows against the stored rows among them (src 0)."""
    n = len(src)
    # Arrow's sort indices are uint64, where the -1 below ("no stored row") would wrap and
    # pass `ctx_index >= 0`: a replaced value and a file's repeats would be held as stored
    order = order.astype(np.int64, copy=False)
    is_new = src == 1
    if run_start is None:
        run_start = np.arange(n)
    first_new = run_start + (src[run_start] == 0)
    duplicate = is_new & (np.arange(n) != first_new)
    superseded = np.zeros(n, dtype=bool)
    superseded[:-1] = (src[:-1] == 0) & same[1:]
    matched = is_new & ~duplicate & same  # the first new row of a run that began stored
    stored_at = np.where(matched, order[run_start], -1)  # ctx index of that stored row
    old_v = np.where(matched, ctx["v"][np.maximum(stored_at, 0)], np.nan)
    value_same = (old_v == v) | (np.isnan(old_v) & np.isnan(v))
    stored = (src == 0) & ~superseded
    return {"is_new": is_new, "first_new": first_new, "duplicate": duplicate,
            "superseded": superseded, "matched": matched, "stored": stored,
            "updated": matched & ~value_same, "unchanged": matched & value_same,
            "ctx_index": np.where(stored, order, np.where(matched, stored_at, -1))}


def _reflag(ctx: dict, state: dict, flags, tests, part: slice = slice(None)) -> np.ndarray:
    """Rows (of `part`) whose value stays but whose flags change: unchanged new rows, and
    stored rows in the range their neighbours can affect."""
    at = np.maximum(state["ctx_index"][part], 0)
    known = state["ctx_index"][part] >= 0
    old_flag = np.where(known, ctx["flag"][at], 0)
    old_tests = np.where(known, ctx["tests"][at], 0)
    updatable = state["stored"][part] & ctx["updatable"][at]
    return ((state["unchanged"][part] | updatable)
            & ((old_flag != flags[part]) | (old_tests != tests[part])))


def _sort(g, t, src, rn, *, fast: bool) -> np.ndarray:
    """Order by (g, t, src, rn). Files are mostly in time order per series: try a stable sort
    by group alone first and fall back to sorting on all keys if time goes backwards."""
    if fast:
        order = pc.sort_indices(pa.array(g)).to_numpy()
        gs, ts = g[order], t[order]
        back = (gs[1:] == gs[:-1]) & (ts[1:] < ts[:-1])
        if not back.any():
            return order
    keys = pa.table({"g": g, "t": t, "src": src if src is not None else np.ones(len(g), np.int8),
                     "rn": rn})
    return pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names]) \
        .to_numpy()


def _context(cur, rows: Rows, ds_of_g: np.ndarray, configs: list[qc.QcConfig]) -> dict:
    """Stored rows around the new ones, for the datastreams that already hold observations."""
    n_groups = len(ds_of_g)
    empty = {"g": np.zeros(0, np.int32), "t": np.zeros(0, np.int64), "v": np.zeros(0),
             "id": np.zeros(0, np.int64), "flag": np.zeros(0, np.uint8),
             "tests": np.zeros(0, np.uint16), "updatable": np.zeros(0, bool),
             "open_end": np.ones(n_groups, bool), "open_start": np.ones(n_groups, bool)}
    if n_groups == 0:
        return empty
    held = cur.execute("SELECT id FROM datastreams WHERE observation_count > 0"
                       " AND id BETWEEN ? AND ?", [int(ds_of_g.min()), int(ds_of_g.max())])
    if not np.isin(ds_of_g, [r[0] for r in held.fetchall()]).any():
        return empty
    mn = np.full(n_groups, np.iinfo(np.int64).max)
    mx = np.full(n_groups, np.iinfo(np.int64).min)
    np.minimum.at(mn, rows.g, rows.t)
    np.maximum.at(mx, rows.g, rows.t)
    horizon = np.array([int(c.horizon_s * 1e6) for c in configs], dtype=np.int64)
    bounds = pa.table({"ds": ds_of_g, "g": np.arange(n_groups, dtype=np.int32), "mn": mn,
                       "mx": mx, "h": horizon})
    cur.register("__eb_bounds", bounds)
    try:
        result = cur.execute(_CONTEXT_SQL, [int(ds_of_g.min()), int(ds_of_g.max())])
        table = result.fetch_arrow_table()
    finally:
        cur.unregister("__eb_bounds")
    out = {name: table.column(name).to_numpy() for name in
           ("g", "t", "id", "flag", "tests", "updatable")}
    out["v"] = table.column("v").to_numpy(zero_copy_only=False).astype(np.float64)
    ends = np.ones(n_groups, bool)
    ends[out["g"]] = table.column("open").to_numpy(zero_copy_only=False)
    out["open_end"] = ends
    starts = np.ones(n_groups, bool)
    starts[out["g"]] = table.column("open_start").to_numpy(zero_copy_only=False)
    out["open_start"] = starts
    return out


_STORED = """
    SELECT o.id, b.g, epoch_us(o.phenomenon_time) AS t, o.result AS v, o.quality_flag AS flag,
           o.qc_tests AS tests, b.mn, b.mx, b.h
    FROM observations o JOIN __eb_bounds b ON b.ds = o.datastream_id
    WHERE o.datastream_id BETWEEN ? AND ?
"""
_LIMITS = f"""
    o AS MATERIALIZED ({_STORED}),
    n AS (SELECT g, max(t) FILTER (WHERE t < mn) AS a, min(t) FILTER (WHERE t > mx) AS b
          FROM o GROUP BY g),
    lim AS (SELECT n.g, n.a, max(o.t) FILTER (WHERE o.t < n.a - o.h) AS lo,
                   min(o.t) FILTER (WHERE o.t >= n.b + o.h) AS hi
            FROM n JOIN o USING (g) GROUP BY n.g, n.a)
"""
_CONTEXT_SQL = f"""
    WITH {_LIMITS}
    SELECT o.g, o.t, o.v, o.id, o.flag, o.tests,
           (o.t >= coalesce(lim.a, o.t) AND (lim.hi IS NULL OR o.t < lim.hi)) AS updatable,
           lim.hi IS NULL AS open, lim.lo IS NULL AS open_start
    FROM o JOIN lim USING (g)
    WHERE (lim.lo IS NULL OR o.t >= lim.lo) AND (lim.hi IS NULL OR o.t <= lim.hi)
"""


def _insert(cur, ds_of_g, g, t, v, flags, tests, inserted, first_id, run_id) -> None:
    every = bool(inserted.all())
    idx = np.flatnonzero(inserted) if not every else None
    for start in range(0, len(g) if every else len(idx), INSERT_CHUNK):
        # slices (no copies) when every row is inserted
        part = (slice(start, start + INSERT_CHUNK) if every
                else idx[start:start + INSERT_CHUNK])
        count = min(INSERT_CHUNK, len(g) - start) if every else len(part)
        ts = pa.array(t[part], type=_UTC_US)
        chunk = pa.table({
            "id": np.arange(first_id + start, first_id + start + count, dtype=np.int64),
            "datastream_id": ds_of_g[g[part]], "phenomenon_time": ts, "result_time": ts,
            "result": pa.array(v[part], from_pandas=True), "quality_flag": flags[part],
            "qc_tests": tests[part]})
        chunk = pa.Table.from_batches(chunk.to_batches(max_chunksize=INSERT_BATCH))
        cur.register("__eb_chunk", chunk)
        try:
            cur.execute("INSERT INTO observations (id, datastream_id, phenomenon_time,"
                        " result_time, result, quality_flag, qc_tests, ingest_run_id)"
                        " SELECT id, datastream_id, phenomenon_time, result_time, result,"
                        " quality_flag, qc_tests, ? FROM __eb_chunk", [run_id])
        finally:
            cur.unregister("__eb_chunk")


def _update(cur, ds_of_g, g, v, flags, tests, ctx_id, ctx_index, updated, reflag,
            run_id) -> None:
    idx = np.flatnonzero(updated | reflag)
    if len(idx) == 0:
        return
    ds = ds_of_g[g[idx]]
    upd = pa.table({"id": ctx_id[ctx_index[idx]], "result": pa.array(v[idx], from_pandas=True),
                    "flag": flags[idx], "tests": tests[idx], "changed": updated[idx]})
    cur.register("__eb_upd", upd)
    try:
        cur.execute(
            "UPDATE observations SET result = u.result, quality_flag = u.flag,"
            " qc_tests = u.tests, ingest_run_id = CASE WHEN u.changed THEN ?"
            " ELSE observations.ingest_run_id END"
            " FROM __eb_upd u WHERE observations.id = u.id"
            " AND observations.datastream_id BETWEEN ? AND ?",
            [run_id, int(ds.min()), int(ds.max())])
    finally:
        cur.unregister("__eb_upd")


def _datastreams(cur, ds_of_g, g, t, v, flags, series, inserted, new, open_end) -> None:
    """Keep counts, time extents and the latest value on each datastream."""
    n_groups = len(ds_of_g)
    if n_groups == 0:
        return
    count = np.bincount(g[inserted], minlength=n_groups)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    mn, mx = np.full(n_groups, big), np.full(n_groups, small)
    # rows are sorted by (group, time): a group's first and last new rows hold its extent
    every = bool(new.all())
    at = None if every else np.flatnonzero(new)
    gs = g if every else g[at]
    if len(gs):
        starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
        ends = np.r_[starts[1:], len(gs)] - 1
        mn[gs[starts]] = t[starts if every else at[starts]]
        mx[gs[starts]] = t[ends if every else at[ends]]
    del gs
    # the last row of each group in the sorted series is the datastream's latest row when the
    # context reached the end of the stored series
    s = np.flatnonzero(series)
    last = np.full(n_groups, -1)
    last[g[s]] = s  # later indices overwrite earlier ones: the last of each group wins
    has_last = (last >= 0) & open_end
    li = np.maximum(last, 0)
    touched = (mn != big) | has_last
    upd = pa.table({
        "id": ds_of_g[touched], "n": count[touched],
        "mn": pa.array(np.where(mn == big, 0, mn)[touched], type=_UTC_US),
        "mx": pa.array(np.where(mx == small, 0, mx)[touched], type=_UTC_US),
        "has_new": (mn != big)[touched], "has_last": has_last[touched],
        "last_t": pa.array(t[li][touched], type=_UTC_US),
        "last_v": pa.array(v[li][touched], from_pandas=True),
        "last_flag": flags[li][touched]})
    cur.register("__eb_ds", upd)
    try:
        cur.execute("""
            UPDATE datastreams SET
              observation_count = observation_count + u.n,
              phenomenon_time_start = CASE WHEN u.has_new THEN
                  least(coalesce(phenomenon_time_start, u.mn), u.mn)
                  ELSE phenomenon_time_start END,
              phenomenon_time_end = CASE WHEN u.has_new THEN
                  greatest(coalesce(phenomenon_time_end, u.mx), u.mx)
                  ELSE phenomenon_time_end END,
              result_time_start = CASE WHEN u.has_new THEN
                  least(coalesce(result_time_start, u.mn), u.mn) ELSE result_time_start END,
              result_time_end = CASE WHEN u.has_new THEN
                  greatest(coalesce(result_time_end, u.mx), u.mx) ELSE result_time_end END,
              last_phenomenon_time = CASE WHEN u.has_last THEN u.last_t
                  ELSE last_phenomenon_time END,
              last_result = CASE WHEN u.has_last THEN u.last_v ELSE last_result END,
              last_quality_flag = CASE WHEN u.has_last THEN u.last_flag
                  ELSE last_quality_flag END
            FROM __eb_ds u WHERE datastreams.id = u.id""")
    finally:
        cur.unregister("__eb_ds")
