"""Incremental rule evaluation: only the windows that new data touches.

    evaluate_ingest(cur, dataset_id=..., run_id=..., kind="observations")

runs inside the ingest's transaction, so alerts, their events and the webhook outbox commit
with the data or not at all. The rows of the run (inserted or changed) give, per datastream,
the time range [t0, t1] it touched. For each rule in scope:

1. the points to re-evaluate are [t0, t1] widened by the rule's reach (rules.reach);
2. that range is widened again to cover every stored alert of the rule on the datastream that it
   meets or comes within the rule's clear time of, and any earlier alert the data has not ended
   yet, until nothing changes: those alerts are then re-derived whole, never patched;
3. the rows all rules need come from the ingest's merge, which holds them in memory, plus one
   read of any it does not hold; numpy computes the points that decide episodes (alerts.sparse:
   only rows within a window of a value that could fire, and the points after them);
4. firing points closer than `clear_hours` form one episode; an episode keeps the id of the
   stored alert it overlaps (a condition that goes on updates its alert), new episodes open
   alerts, stored alerts left without an episode are retracted.

The alerts are thus a function of the data alone: ingesting a series in one file or in chunks
gives the same alerts (tests/alerts/test_incremental.py).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ecobridge.alerts import incidents
from ecobridge.alerts.episodes import Known, Writes, _reconcile, episodes
from ecobridge.alerts.models import HOUR_US, Points, Rule
from ecobridge.alerts.rules import (
    Rows,
    Stream,
    around_held,
    around_stored,
    reach,
    silence_points,
    station_times,
)
from ecobridge.alerts.sparse import SPARSE_KINDS, _before, points
from ecobridge.monitoring.merge import Series
from ecobridge.monitoring.qc import QcConfig
from ecobridge.store import int_array

if TYPE_CHECKING:
    from ecobridge.alerts.overlap import Overlap

log = logging.getLogger("ecobridge.alerts")

# whether any alert and any webhook subscription exist, asked with the rules: an evaluation in a
# store without them skips the statements that would read or match them
_STATE = ("(SELECT EXISTS (SELECT 1 FROM alerts)), (SELECT EXISTS (SELECT 1 FROM subscriptions"
          " WHERE deleted_at IS NULL AND url IS NOT NULL))")


def load_rules(cur, rule_ids: list[int] | None = None) -> list[Rule]:
    return _load_rules(cur, rule_ids)[0]


def _load_rules(cur, rule_ids: list[int] | None = None) -> tuple[list[Rule], Known]:
    sql = ("SELECT id, name, kind, params, severity, dataset_id, observed_property, area_id,"
           f" thing_id, description, {_STATE} FROM alert_rules WHERE deleted_at IS NULL")
    params: list = []
    if rule_ids is not None:
        sql += " AND id IN (SELECT unnest(?::BIGINT[]))"
        params.append(int_array(rule_ids))
    rows = cur.execute(sql + " ORDER BY id", params).fetchall()
    known = Known(*rows[0][-2:]) if rows else Known()
    return [Rule(r[0], r[1], r[2], json.loads(r[3]), *r[4:-2]) for r in rows], known


def has_rules(cur) -> bool:
    return cur.execute("SELECT 1 FROM alert_rules WHERE deleted_at IS NULL LIMIT 1").fetchone() \
        is not None


def evaluate_ingest(cur, *, dataset_id: int, run_id: int, kind: str | None,
                    held: Series | None = None, started: Overlap | None = None) -> dict | None:
    """Evaluate every rule on what an ingest run changed (the hook in monitoring.ingest).

    `held`: the rows the run's merge left stored, as it holds them in memory (monitoring.merge.
    keep_series); rows outside what it covers are read. `started`: the evaluation begun on
    them while the ingest appended its rows (alerts.overlap): only its writes remain."""
    if kind != "observations":
        return None
    if started is not None and started.defer(cur, run_id):
        return {"deferred": True}  # the ingest writes them after its commit (alerts.overlap)
    try:
        done = started.finish() if started is not None else None
    except Exception as exc:
        if started.mode != "qc":
            raise
        # the rows stay, their alerts wait for evaluate_pending (with the error to show)
        log.warning("alerts of ingest run %s not evaluated (%s: %s); evaluate_pending"
                    " retries", run_id, type(exc).__name__, exc)
        log.debug("the evaluation's error", exc_info=True)
        cur.execute("UPDATE ingest_runs SET alerts_pending = true, alerts_error = ?"
                    " WHERE id = ?", [f"{type(exc).__name__}: {exc}"[:2000], run_id])
        return {"pending": True}
    if done is not None:
        prepared, writes = done
        summary = writes.commit(cur, prepared.streams)
        summary["cpu_prepare_s"], summary["cpu_thread_s"] = started.cpu_before()
        summary["path"] = started.mode
    elif started is not None and started.no_rules:
        return None
    else:
        rules, known = _load_rules(cur)
        if not rules:
            return None
        if held is not None:
            touched = held.touched
        else:
            touched = {r[0]: (r[1], r[2]) for r in cur.execute(
                "SELECT datastream_id, min(epoch_us(phenomenon_time)),"
                " max(epoch_us(phenomenon_time)) FROM observations WHERE ingest_run_id = ?"
                " GROUP BY 1", [run_id]).fetchall()}
        summary = evaluate(cur, rules, touched, held, known)
    from ecobridge.alerts.delivery import notify

    notify()  # workers poll until the transaction has committed
    return summary


def evaluate_pending(cur) -> list[int]:
    """Evaluate the ingest runs whose alerts were to be written after their rows committed
    and were not (alerts.overlap: the process stopped in between, or the evaluation failed),
    from their stored rows, and clear their mark. Returns the runs. Alerts are a function of
    the data, so evaluating a run again, or after later runs, gives what it would have."""
    runs = [r[0] for r in cur.execute(
        "SELECT id FROM ingest_runs WHERE alerts_pending ORDER BY id").fetchall()]
    if not runs:
        return []
    rules, known = _load_rules(cur)
    if rules:
        touched = {r[0]: (r[1], r[2]) for r in cur.execute(
            "SELECT datastream_id, min(epoch_us(phenomenon_time)),"
            " max(epoch_us(phenomenon_time)) FROM observations"
            " WHERE ingest_run_id IN (SELECT unnest(?::BIGINT[])) GROUP BY 1",
            [int_array(runs)]).fetchall()}
        evaluate(cur, rules, touched, known=known)
    cur.execute("UPDATE ingest_runs SET alerts_pending = false, alerts_error = NULL"
                " WHERE id IN (SELECT unnest(?::BIGINT[]))", [int_array(runs)])
    return runs


def recover(store) -> list[int]:
    """evaluate_pending in a transaction of its own; a failure is logged and kept on the
    runs, which stay marked for the next try."""
    try:
        with store.transaction() as cur:
            runs = evaluate_pending(cur)
    except Exception as exc:
        log.warning("pending alert evaluation failed (%s: %s)", type(exc).__name__, exc)
        log.debug("the evaluation's error", exc_info=True)
        with store.transaction() as cur:
            cur.execute("UPDATE ingest_runs SET alerts_error = ? WHERE alerts_pending",
                        [f"{type(exc).__name__}: {exc}"[:2000]])
        return []
    if runs:
        from ecobridge.alerts.delivery import notify

        notify()
    return runs


def evaluate_all(cur, rule_ids: list[int] | None = None) -> dict:
    """Evaluate rules over every stored observation (after adding a rule, or to rebuild)."""
    touched = cur.execute(
        "SELECT id, epoch_us(phenomenon_time_start), epoch_us(phenomenon_time_end)"
        " FROM datastreams WHERE observation_count > 0").fetchall()
    rules, known = _load_rules(cur, rule_ids)
    return evaluate(cur, rules, {r[0]: (r[1], r[2]) for r in touched}, known=known)


@dataclass
class Plan:
    """One rule's work: keys with their padded point ranges and the alerts they absorb."""

    rule: Rule
    streams: list[int]
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)   # key -> padded range
    read: dict[int, tuple[int, int]] = field(default_factory=dict)     # ds -> rows to read
    absorbed: dict[int, list[tuple]] = field(default_factory=dict)     # key -> alert rows
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)    # key -> points to redo
    back: dict[int, int] = field(default_factory=dict)                 # ds -> data read before


def evaluate(cur, rules: list[Rule], touched: dict[int, tuple[int, int]],
             held: Series | None = None, known: Known | None = None) -> dict:
    prepared = prepare(cur, rules, touched, held, known)
    if prepared is None:
        return _summary([])
    return compute(prepared).commit(cur, prepared.streams)


@dataclass
class Prepared:
    """Everything an evaluation reads from the store, read: what remains (`compute`) is numpy
    and Python over it, which may run on a thread (alerts.overlap)."""

    streams: dict[int, Stream]
    plans: list[Plan]
    frame: Rows
    known: Known
    near: list  # stored alerts the new ones could join an incident of (incidents.around)
    gathered: tuple = ()  # what `frame` is made of (_gather), to make it in parts


def prepare(cur, rules: list[Rule], touched: dict[int, tuple[int, int]],
            held: Series | None = None, known: Known | None = None,
            frame: bool = True, streams: dict[int, Stream] | None = None) -> Prepared | None:
    """Steps 1 and 2 and the reads of step 3 (module docstring), on the caller's cursor.
    `frame` False: the rows are not put together (`held` has no flags yet: alerts.overlap
    puts them together per datastream once it has). `streams`: read already (_streams of a
    superset of `touched`)."""
    known = known or Known()
    if not rules or not touched:
        return None
    streams = _streams(cur, touched) if streams is None else streams
    plans = []
    for rule in rules:
        in_scope = _scope(cur, rule, streams, touched)
        if in_scope:
            plans.append(_silence_plan(cur, rule, in_scope, streams, touched, held)
                         if rule.kind == "silence" else _plan(rule, in_scope, streams, touched))
    stored = _stored_alerts(cur, plans) if known.alerts else {}  # one read for all rules
    for plan in plans:
        _absorb(cur, plan, plan.spans, stored.get(plan.rule.id, {}))
        if plan.rule.kind == "silence":
            plan.read = {ds: plan.ranges[streams[ds].thing_id] for ds in plan.streams
                         if streams[ds].thing_id in plan.ranges}
        else:
            plan.read = {ds: (lo - plan.back[ds], hi) for ds, (lo, hi) in plan.ranges.items()}
    plans = [plan for plan in plans if plan.ranges]
    near = incidents.around(cur, _spans(plans, streams)) if known.alerts else []
    gathered = _gather(cur, plans, held)
    return Prepared(streams, plans, _assemble(*gathered) if frame else None, known, near,
                    gathered)


def _spans(plans: list[Plan], streams: dict[int, Stream]) -> list[tuple]:
    """Where and when the plans' new alerts can lie: their stations, over all their ranges
    (new alerts come from points within them)."""
    places = {(s.lon, s.lat) for s in streams.values()}
    los = [lo for plan in plans for lo, _hi in plan.ranges.values()]
    his = [hi for plan in plans for _lo, hi in plan.ranges.values()]
    if not los:
        return []
    lo, hi = min(los), max(his)
    return [(lon, lat, lo, hi) for lon, lat in sorted(places)]


def compute(prepared: Prepared, done: dict[int, Points] | None = None) -> Writes:
    """The points of every plan and their episodes against the stored alerts: no store.
    `done`: the points of plans (by position) computed already (alerts.overlap)."""
    streams, frame = prepared.streams, prepared.frame
    writes = Writes(known=prepared.known)
    slices: dict[bytes, Rows] = {}  # rules reading the same rows share them and their windows
    for i, plan in enumerate(prepared.plans):
        pts = (done or {}).get(i)
        if pts is None:
            pts = plan_points(plan, _slice(frame, plan.read, slices), streams)
        _reconcile(plan, pts, streams, writes)
    writes.stage(streams, prepared.near)
    return writes


def plan_points(plan: Plan, rows: Rows, streams: dict[int, Stream]) -> Points:
    if plan.rule.kind == "silence":
        thing, t = station_times(rows, streams)
        return silence_points(plan.rule, thing, t)
    pts = points(plan.rule, rows, streams, plan.ranges)
    if plan.rule.kind not in SPARSE_KINDS:  # sparse points lie in their ranges already
        pts = _within(pts, plan.ranges)
    return pts


def evaluate_points(cur, rule: Rule, pts: Points, streams: dict[int, Stream]) -> dict:
    """Reconcile externally computed points (the silence scheduler's live points)."""
    ranges = {}
    for k, t in zip(pts.key.tolist(), pts.t.tolist(), strict=True):
        lo, hi = ranges.get(k, (t, t))
        ranges[k] = (min(lo, t), max(hi, t))
    plan = Plan(rule, [])
    _absorb(cur, plan, ranges)
    writes = Writes()
    _reconcile(plan, pts, streams, writes)
    return writes.commit(cur, streams)


# -- planning --------------------------------------------------------------------------------
def _streams(cur, touched: dict[int, tuple[int, int]]) -> dict[int, Stream]:
    """The touched datastreams and their stations' other datastreams (silence needs them)."""
    rows = cur.execute("""
        SELECT s.id, s.thing_id, t.dataset_id, p.code, s.unit_symbol,
               coalesce(CASE WHEN regexp_full_match(t.properties->>'$.country', '[A-Z]{3}')
                             THEN t.properties->>'$.country' END, o.country),
               p.qc, ST_X(ST_Centroid(l.geom)), ST_Y(ST_Centroid(l.geom))
        FROM datastreams s JOIN things t ON t.id = s.thing_id
        JOIN observed_properties p ON p.id = s.observed_property_id
        JOIN datasets d ON d.id = t.dataset_id JOIN organisations o ON o.id = d.owner_org_id
        LEFT JOIN thing_locations tl ON tl.thing_id = t.id
        LEFT JOIN locations l ON l.id = tl.location_id
        WHERE s.thing_id IN (SELECT thing_id FROM datastreams
                             WHERE id IN (SELECT unnest(?::BIGINT[])))
    """, [int_array(touched)]).fetchall()
    out = {}
    horizons: dict[str, int] = {}
    for ds, thing, dataset, prop, unit, country, qc, lon, lat in rows:
        if prop not in horizons:
            horizons[prop] = int(QcConfig.from_json(qc).horizon_s * 1e6)
        out[ds] = Stream(ds, thing, dataset, prop, unit, country, horizons[prop],
                         math.nan if lon is None else lon, math.nan if lat is None else lat)
    return out


def _scope(cur, rule: Rule, streams: dict[int, Stream], touched: dict) -> list[int]:
    pool = streams if rule.kind == "silence" else {k: streams[k] for k in touched}
    ids = [ds for ds, s in pool.items()
           if (rule.dataset_id is None or s.dataset_id == rule.dataset_id)
           and (rule.observed_property is None or s.prop == rule.observed_property)
           and (rule.thing_id is None or s.thing_id == rule.thing_id)]
    if rule.area_id is not None and ids:
        inside = {r[0] for r in cur.execute(
            "SELECT tl.thing_id FROM thing_locations tl JOIN locations l ON l.id = tl.location_id"
            " JOIN areas a ON a.id = ? WHERE ST_Intersects(a.geom, l.geom)"
            " AND tl.thing_id IN (SELECT unnest(?::BIGINT[]))",
            [rule.area_id, int_array(sorted({streams[d].thing_id for d in ids}))]).fetchall()}
        ids = [ds for ds in ids if streams[ds].thing_id in inside]
    if rule.kind == "silence":
        things = {streams[d].thing_id for d in touched if d in streams}
        ids = [ds for ds in ids if streams[ds].thing_id in things]
    return sorted(ids)


def _plan(rule: Rule, ids: list[int], streams: dict[int, Stream], touched) -> Plan:
    plan = Plan(rule, ids)
    reaches: dict[tuple, tuple[int, int, int]] = {}  # reach depends on these two only
    for ds in ids:
        s = streams[ds]
        key = (s.prop, s.qc_horizon_us)
        if key not in reaches:
            reaches[key] = reach(rule, s)
        before, after, read_back = reaches[key]
        t0, t1 = touched[ds]
        plan.spans[ds] = (t0 - before, t1 + after - 1 if after else t1)
        plan.back[ds] = read_back
    return plan


def _silence_plan(cur, rule: Rule, ids: list[int], streams: dict[int, Stream],
                  touched, held: Series | None = None) -> Plan:
    """Per station: from its last observation before the new data to its first after."""
    plan = Plan(rule, ids)
    span: dict[int, tuple[int, int]] = {}
    for ds in touched:
        if ds in streams:
            thing = streams[ds].thing_id
            lo, hi = span.get(thing, touched[ds])
            span[thing] = (min(lo, touched[ds][0]), max(hi, touched[ds][1]))
    around, ask = around_held(held, ids, streams, span)
    if ask:
        around += around_stored(cur, [d for d in ids if streams[d].thing_id in ask], streams,
                                 {k: span[k] for k in ask})
    plan.spans = {thing: (lo if prev is None else prev, hi if nxt is None else nxt)
                  for thing, lo, hi, prev, nxt in around}
    return plan


_ALERT_COLUMNS = (
    "epoch_us(started_at), epoch_us(last_seen_at), id, severity, status, resolution,"
    " epoch_us(ended_at), points, peak_value, last_value, acknowledged_at IS NOT NULL,"
    " incident_id")


def _stored_alerts(cur, plans: list[Plan]) -> dict[int, dict[int, list[tuple]]]:
    """Per rule and key, the stored alerts (not retracted) of the keys the plans touch, by
    start: one read for every rule."""
    plans = [p for p in plans if p.spans]
    if not plans:
        return {}
    by_thing = [p for p in plans if p.rule.kind == "silence"]  # silence alerts are per station
    by_stream = [p for p in plans if p.rule.kind != "silence"]
    silence = {p.rule.id for p in by_thing}
    out: dict[int, dict[int, list[tuple]]] = {}
    for row in cur.execute(
            f"SELECT rule_id, thing_id, datastream_id, {_ALERT_COLUMNS} FROM alerts"
            " WHERE resolution IS DISTINCT FROM 'retracted'"
            " AND ((rule_id IN (SELECT unnest(?::BIGINT[]))"
            "       AND datastream_id IN (SELECT unnest(?::BIGINT[])))"
            "      OR (rule_id IN (SELECT unnest(?::BIGINT[]))"
            "          AND thing_id IN (SELECT unnest(?::BIGINT[]))))",
            [int_array([p.rule.id for p in by_stream]),
             int_array(sorted({k for p in by_stream for k in p.spans})),
             int_array([p.rule.id for p in by_thing]),
             int_array(sorted({k for p in by_thing for k in p.spans}))]).fetchall():
        key = row[1] if row[0] in silence else row[2]
        if key is not None:
            out.setdefault(row[0], {}).setdefault(key, []).append((key, *row[3:]))
    for by_key in out.values():
        for alerts in by_key.values():
            alerts.sort(key=lambda a: (a[1], a[3]))
    return out


def _absorb(cur, plan: Plan, spans: dict[int, tuple[int, int]],
            stored: dict[int, list[tuple]] | None = None) -> None:
    """Widen each key's range over the stored alerts it meets, until nothing changes."""
    rule = plan.rule
    if stored is None:
        stored = _stored_alerts(cur, [Plan(rule, [], spans=spans)]).get(rule.id, {})
    c = rule.clear_us

    def meets(a: tuple, lo: int, hi: int) -> bool:
        # an alert the data has not ended yet waits for the next points, however far
        return a[1] <= hi + c and (a[2] >= lo - c or a[7] is None)

    for key, (lo, hi) in spans.items():
        mine = stored.get(key)
        if not mine:  # the usual case on new data: nothing to absorb
            plan.ranges[key] = (lo - c, hi + c)
            plan.absorbed[key] = []
            continue
        changed = True
        while changed:
            changed = False
            for a in mine:
                if meets(a, lo, hi) and (a[1] < lo or a[2] > hi):
                    lo, hi, changed = min(lo, a[1]), max(hi, a[2]), True
        plan.ranges[key] = (lo - c, hi + c)
        plan.absorbed[key] = [a for a in mine if meets(a, lo, hi)]


def _gather(cur, plans: list[Plan], held: Series | None = None) -> tuple:
    """What every row the plans need comes from: the merge's (`held`), the ranges of them
    wanted, and one read of the rest (_assemble puts them together)."""
    want: dict[int, tuple[int, int]] = {}
    for plan in plans:
        for ds, (lo, hi) in plan.read.items():
            had = want.get(ds)
            if had is None:
                want[ds] = (lo, hi)
            elif had[0] > lo or had[1] < hi:
                want[ds] = (lo if lo < had[0] else had[0], hi if hi > had[1] else had[1])
    if held is None:
        return None, {}, _read_stored(cur, want)
    ask: dict[int, tuple[int, int]] = {}
    mine: dict[int, tuple[int, int]] = {}
    at = {ds: i for i, ds in enumerate(held.ids.tolist())}
    lo_of, hi_of = held.lo.tolist(), held.hi.tolist()
    for ds, (lo, hi) in want.items():
        i = at.get(ds)
        if i is None:
            ask[ds] = (lo, hi)
            continue
        clo, chi = lo_of[i], hi_of[i]
        mine[ds] = (max(lo, clo), min(hi, chi))
        if lo < clo or hi > chi:  # stored rows outside what the merge holds
            ask[ds] = (lo, hi)
    if not ask:
        return held, mine, None
    stored = _read_stored(cur, ask)
    # rows both held and read are the same stored rows: keep the held copy
    at_ask = np.array(sorted(ask), np.int64)
    clo = np.array([lo_of[at[d]] if d in at else 1 for d in at_ask.tolist()], np.int64)
    chi = np.array([hi_of[at[d]] if d in at else 0 for d in at_ask.tolist()], np.int64)
    k = np.searchsorted(at_ask, stored.ds)
    return held, mine, stored.take(~((stored.t >= clo[k]) & (stored.t <= chi[k])))


def _part(read: dict | tuple, lo: float, hi: float) -> dict | tuple:
    """The ranges of the datastreams in [lo, hi) of `read` (as `ranges_of` arrays)."""
    if lo == -math.inf and hi == math.inf:
        return read
    ids, a, b = read if isinstance(read, tuple) else ranges_of(read)
    i, j = np.searchsorted(ids, [max(lo, -2**63), min(hi, 2**63 - 1)])
    return ids[i:j], a[i:j], b[i:j]


def _assemble(held: Series | None, mine: dict | tuple, stored: Rows | None,
              lo: float = -math.inf, hi: float = math.inf) -> Rows:
    """The rows `_gather` found, sorted by (datastream, time), of the datastreams in [lo, hi)
    (all by default)."""
    if stored is not None and (lo > -math.inf or hi < math.inf):
        a, b = np.searchsorted(stored.ds, [max(lo, -2**63), min(hi, 2**63 - 1)])
        stored = Rows(stored.ds[a:b], stored.t[a:b], stored.v[a:b], stored.f[a:b])
    if held is None:
        return stored
    whole = Rows(held.ds, held.t, held.v, held.f)
    if len(held.ids) and (np.diff(held.ids) > 0).all():
        # the merge knows its datastreams: their blocks without a pass over the rows
        first = np.searchsorted(held.ds, held.ids)
        end = np.r_[first[1:], len(held.ds)]
        present = end > first
        whole.memo["blocks"] = (held.ids[present], first[present], end[present])
    frame = _slice(whole, _part(mine, lo, hi))
    if stored is None or len(stored) == 0:
        return frame
    both = Rows(*(np.concatenate((getattr(frame, c), getattr(stored, c)))
                  for c in ("ds", "t", "v", "f")))
    return both.take(np.lexsort((both.t, both.ds)))


def _read_stored(cur, want: dict[int, tuple[int, int]]) -> Rows:
    if not want:
        e = np.zeros(0, np.int64)
        return Rows(e, e, np.zeros(0), np.zeros(0, np.uint8))
    ids = sorted(want)
    lo = min(v[0] for v in want.values())
    hi = max(v[1] for v in want.values())
    # plain range filters (zone maps prune them); the per-datastream ranges are applied by
    # the slices, which costs less than joining a ranges table here
    table = cur.execute("""
        SELECT datastream_id AS ds, epoch_us(phenomenon_time) AS t, result AS v,
               quality_flag AS f
        FROM observations
        WHERE datastream_id IN (SELECT unnest(?::BIGINT[])) AND datastream_id BETWEEN ? AND ?
          AND phenomenon_time BETWEEN make_timestamptz(?) AND make_timestamptz(?)
        ORDER BY 1, 2""", [int_array(ids), ids[0], ids[-1], lo, hi]).fetch_arrow_table()
    return Rows(table.column("ds").to_numpy(), table.column("t").to_numpy(),
                table.column("v").to_numpy(zero_copy_only=False).astype(np.float64),
                table.column("f").to_numpy())


def ranges_of(read: dict[int, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-datastream ranges as arrays (ids sorted, lo, hi)."""
    ids = np.array(sorted(read), np.int64)
    lo = np.array([read[i][0] for i in ids.tolist()], np.int64)
    hi = np.array([read[i][1] for i in ids.tolist()], np.int64)
    return ids, lo, hi


def _slice(frame: Rows, read: dict[int, tuple[int, int]] | tuple,
           cache: dict[bytes, Rows] | None = None) -> Rows:
    """The rows of `frame` in the per-datastream ranges of `read` (a dict, or `ranges_of`'s
    arrays), the same object for the same rows through `cache`."""
    if len(read[0] if isinstance(read, tuple) else read) == 0 or len(frame) == 0:
        return frame.take(np.zeros(len(frame), bool))
    ids, lo, hi = read if isinstance(read, tuple) else ranges_of(read)
    # per datastream block of the frame (sorted by ds, t): rows [a, b) in range [lo, hi];
    # a block wholly inside its range (the usual case) needs no search
    first = np.searchsorted(frame.ds, ids, side="left")
    last = np.searchsorted(frame.ds, ids, side="right")
    full = (last > first) & (lo <= frame.t[np.minimum(first, len(frame) - 1)]) \
        & (hi >= frame.t[np.maximum(last - 1, 0)])
    a, b = first.copy(), np.where(full, last, first)
    for k in np.flatnonzero(~full & (last > first)).tolist():
        s, e = int(first[k]), int(last[k])
        t = frame.t[s:e]
        a[k] = s + np.searchsorted(t, lo[k], side="left")
        b[k] = s + np.searchsorted(t, hi[k], side="right")
    size = np.maximum(b - a, 0)
    if int(size.sum()) == len(frame):
        return frame  # every row is wanted (blocks cannot overlap)
    keep = size > 0
    a, size = a[keep], size[keep]
    key = a.tobytes() + size.tobytes()
    if cache is not None and key in cache:
        return cache[key]
    total = int(size.sum())
    if len(a) and int(a[-1] + size[-1] - a[0]) == total:
        # one run of rows (some datastreams, whole): views, not copies
        s, e = int(a[0]), int(a[-1] + size[-1])
        out = Rows(frame.ds[s:e], frame.t[s:e], frame.v[s:e], frame.f[s:e])
    else:
        idx = np.repeat(a - _before(size), size) + np.arange(total)
        out = Rows(frame.ds[idx], frame.t[idx], frame.v[idx], frame.f[idx])
    if cache is not None:
        cache[key] = out
    return out


def _within(pts: Points, ranges: dict[int, tuple[int, int]]) -> Points:
    if len(pts.t) == 0:
        return pts
    ids = np.array(sorted(ranges), np.int64)
    lo = np.array([ranges[i][0] for i in ids.tolist()], np.int64)
    hi = np.array([ranges[i][1] for i in ids.tolist()], np.int64)
    at = np.clip(np.searchsorted(ids, pts.key), 0, len(ids) - 1)
    m = (ids[at] == pts.key) & (pts.t >= lo[at]) & (pts.t <= hi[at])
    return Points(pts.key[m], pts.t[m], pts.value[m], pts.limit[m], pts.sev[m], pts.detail)


def _summary(events: list) -> dict:
    return {"events": len(events)}


__all__ = ["HOUR_US", "evaluate", "evaluate_all", "evaluate_ingest", "evaluate_pending",
           "evaluate_points", "episodes", "load_rules", "recover"]
