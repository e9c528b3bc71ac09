"""Write an evaluation's outcome: new alerts (with their incidents), updates, retractions, their
events, and the outbox rows of the subscriptions those events match. All on the caller's
transaction cursor."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa

from ecobridge.alerts import incidents
from ecobridge.alerts.models import HOUR_US, SEVERITIES, Rule
from ecobridge.alerts.rules import EPOCH, Stream, _validity_breaks
from ecobridge.store import int_array

_TS = pa.timestamp("us", tz="UTC")
UNITS = {"silence": "h", "qc_burst": "observations", "anomaly": "z", "aqi": "AQI"}


def _ts(us: int | None):
    return None if us is None else pa.scalar(us, _TS).as_py()


def _day(us: int) -> date:
    return EPOCH + timedelta(days=us // (24 * HOUR_US))


def _era(us: int) -> int:
    """Which validity period of the limit documents a time falls in (rules._validity_breaks):
    a limit looked up for one day holds for its whole period."""
    return bisect_right(_breaks(), us // (24 * HOUR_US))


@lru_cache(maxsize=1)
def _breaks() -> tuple[int, ...]:
    return tuple(_validity_breaks().tolist())


def _detail(rule: Rule, ep, base: dict, stream: Stream, limits: dict) -> dict:
    out = {"rule": rule.name, "kind": rule.kind, **base}
    if rule.kind == "threshold" and isinstance(rule.params["limit"], str):
        from ecobridge.air.standards import limit_for, who_guideline

        avg = rule.params["averaging"]
        who = rule.params["limit"] == "who"
        # alerts of one evaluation share few (limit, country, property, validity period of
        # the documents): look each up once
        day = _day(ep.peak_at)
        key = (who, stream.prop, avg, rule.params.get("level"),
               None if who else stream.country, None if who else _era(ep.peak_at))
        if key not in limits:
            try:
                limits[key] = (who_guideline(stream.prop, avg, rule.params.get("level", "AQG"))
                               if who else
                               limit_for(stream.country, stream.prop, avg, day,
                                         level=rule.params.get("level")))
            except Exception:
                limits[key] = None
        lim = limits[key]
        if lim is not None:
            out["standard"] = f"{lim.document} {lim.clause}".strip()
            out["level"] = lim.level
            out["jurisdiction"] = lim.jurisdiction
    return out


def _detail_json(rule: Rule, ep, base: dict, stream: Stream, limits: dict, done: dict) -> str:
    """_detail as JSON; alerts of one rule mostly share it (the same standard and place)."""
    try:
        key = (rule.id, tuple(sorted(base.items())), stream.prop, stream.country,
               _era(ep.peak_at) if rule.kind == "threshold" else None)
        hash(key)
    except TypeError:
        return json.dumps(_detail(rule, ep, base, stream, limits), ensure_ascii=False)
    if key not in done:
        done[key] = json.dumps(_detail(rule, ep, base, stream, limits), ensure_ascii=False)
    return done[key]


def _stream_of(rule: Rule, key: int, streams: dict[int, Stream],
               by_thing: dict[int, Stream]) -> Stream:
    return by_thing[key] if rule.kind == "silence" else streams[key]


def _status(ep, manual: bool, acknowledged: bool) -> tuple[str, str | None]:
    if manual:
        return "resolved", "manual"
    if ep.ended is not None:
        return "resolved", "auto"
    return ("acknowledged" if acknowledged else "open"), None


def write(cur, w, streams: dict[int, Stream]) -> dict:
    events: list[tuple[int, int, str, str, str]] = []  # alert, dataset, kind, severity, status
    if w.new:
        _insert_new(cur, w.staged or stage(w.new, streams), events, w.known.alerts)
    if w.updates:
        _update(cur, w.updates, events)
    if w.retracted:
        dataset = dict(cur.execute(
            "UPDATE alerts SET status = 'resolved', resolution = 'retracted',"
            " version = version + 1, updated_at = now()"
            " WHERE id IN (SELECT unnest(?::BIGINT[])) RETURNING id, dataset_id",
            [int_array([a[3] for a in w.retracted])]).fetchall())
        events.extend((a[3], dataset[a[3]], "retracted", a[4], "resolved") for a in w.retracted)
    event_ids = _insert_events(cur, events)
    delivered = 0
    if event_ids and w.known.subscriptions:
        from ecobridge.alerts.matching import match_events

        delivered = match_events(cur, event_ids)
    return {"opened": len(w.new), "updated": len(w.updates), "retracted": len(w.retracted),
            "events": len(events), "outbox": delivered}


def _update(cur, updates: list, events: list) -> None:
    """Re-derived alerts, in one statement (events in the order of `updates`)."""
    cols: dict[str, list] = {k: [] for k in (
        "id", "status", "resolution", "severity", "started_at", "last_seen_at", "ended_at",
        "points", "peak_value", "peak_at", "last_value", "threshold")}
    for a, ep, _kinds in updates:
        status, resolution = _status(ep, a[6] == "manual", a[11])
        values = (a[3], status, resolution, SEVERITIES[ep.sev], ep.start, ep.last, ep.ended,
                  ep.count, _num(ep.peak), ep.peak_at, _num(ep.last_value), _num(ep.limit))
        for k, v in zip(cols, values, strict=True):
            cols[k].append(v)
    stamps = ("started_at", "last_seen_at", "ended_at", "peak_at")
    table = pa.table({k: pa.array(v, _TS) if k in stamps else
                      pa.array(v, pa.float64()) if k in ("peak_value", "last_value", "threshold")
                      else pa.array(v) for k, v in cols.items()})
    cur.register("__eb_upd_alerts", table)
    try:
        dataset = dict(cur.execute(
            "UPDATE alerts SET status = u.status, resolution = u.resolution,"
            " severity = u.severity, started_at = u.started_at, last_seen_at = u.last_seen_at,"
            " ended_at = u.ended_at, points = u.points, peak_value = u.peak_value,"
            " peak_at = u.peak_at, last_value = u.last_value, threshold = u.threshold,"
            " version = alerts.version + 1, updated_at = now()"
            " FROM __eb_upd_alerts u WHERE alerts.id = u.id"
            " RETURNING alerts.id, alerts.dataset_id").fetchall())
    finally:
        cur.unregister("__eb_upd_alerts")
    for i, (a, _ep, kinds) in enumerate(updates):
        events.extend((a[3], dataset[a[3]], k, cols["severity"][i], cols["status"][i])
                      for k in kinds)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


_NEW_COLUMNS = (
    "id", "rule_id", "dataset_id", "thing_id", "datastream_id", "observed_property",
    "incident_id", "status", "resolution", "severity", "started_at", "last_seen_at", "ended_at",
    "points", "peak_value", "peak_at", "last_value", "threshold", "unit", "detail", "lon", "lat")


def stage(new: list, streams: dict[int, Stream]) -> tuple[list, list, list]:
    """New alerts as rows without their id and incident (the first and the seventh of
    _NEW_COLUMNS), their places and spans for the incidents, and their events by position:
    all that needs no store, so the evaluation's thread can make it (alerts.overlap)."""
    by_thing = _by_thing(streams)
    limits: dict = {}
    details: dict = {}
    rows, places, events = [], [], []
    isfinite = math.isfinite
    for i, (rule, ep, base) in enumerate(new):
        s = _stream_of(rule, ep.key, streams, by_thing)
        ended = ep.ended is not None
        status, resolution = ("resolved", "auto") if ended else ("open", None)  # _status
        silence = rule.kind == "silence"
        sev = SEVERITIES[ep.sev]
        peak, last, limit = ep.peak, ep.last_value, ep.limit  # floats: _num without calls
        rows.append((rule.id, s.dataset_id, s.thing_id, None if silence else s.id,
                     rule.observed_property if silence else s.prop, status, resolution,
                     sev, ep.start, ep.last, ep.ended, ep.count,
                     float(peak) if peak is not None and isfinite(peak) else None,
                     ep.peak_at, float(last) if last is not None and isfinite(last) else None,
                     float(limit) if limit is not None and isfinite(limit) else None,
                     UNITS.get(rule.kind, s.unit), _detail_json(rule, ep, base, s, limits, details),
                     s.lon, s.lat))
        places.append((s.lon, s.lat, ep.start, ep.last))
        events.append((i, s.dataset_id, "opened", sev, status))
        if ended:
            events.append((i, s.dataset_id, "resolved", sev, status))
    return rows, places, events


def _by_thing(streams: dict[int, Stream]) -> dict[int, Stream]:
    return {s.thing_id: s for s in sorted(streams.values(), key=lambda s: s.id)}


def _insert_new(cur, staged: tuple[list, list, list], events: list, stored: bool = True) -> None:
    rows, places, new_events = staged
    inc = incidents.assign(cur, places, stored)
    ids = [r[0] for r in cur.execute("SELECT nextval('alerts_id_seq') FROM range(?)",
                                     [len(rows)]).fetchall()]
    columns = list(zip(*rows, strict=True))
    columns[5:5] = [inc]  # incident_id, after observed_property
    columns[:0] = [ids]
    events.extend((ids[i], *rest) for i, *rest in new_events)
    stamps = ("started_at", "last_seen_at", "ended_at", "peak_at")
    table = pa.table({k: pa.array(v, _TS) if k in stamps else pa.array(v)
                      for k, v in zip(_NEW_COLUMNS, columns, strict=True)})
    cur.register("__eb_new_alerts", table)
    try:
        cur.execute(
            "INSERT INTO alerts (id, rule_id, dataset_id, thing_id, datastream_id,"
            " observed_property, incident_id, status, resolution, severity, started_at,"
            " last_seen_at, ended_at, points, peak_value, peak_at, last_value, threshold, unit,"
            " detail, geom) SELECT id, rule_id, dataset_id, thing_id, datastream_id,"
            " observed_property, incident_id, status, resolution, severity, started_at,"
            " last_seen_at, ended_at, points, peak_value, peak_at, last_value, threshold, unit,"
            " detail, ST_Point(coalesce(lon, 0), coalesce(lat, 0)) FROM __eb_new_alerts")
    finally:
        cur.unregister("__eb_new_alerts")


def _insert_events(cur, events: list, user_id: int | None = None) -> list[int]:
    if not events:
        return []
    ids = [r[0] for r in cur.execute("SELECT nextval('alert_events_id_seq') FROM range(?)",
                                     [len(events)]).fetchall()]
    table = pa.table({"id": np.array(ids, np.int64),
                      "alert_id": np.array([e[0] for e in events], np.int64),
                      "dataset_id": np.array([e[1] for e in events], np.int64),
                      "kind": [e[2] for e in events], "severity": [e[3] for e in events],
                      "status": [e[4] for e in events]})
    cur.register("__eb_events", table)
    try:
        cur.execute("INSERT INTO alert_events (id, alert_id, dataset_id, kind, severity, status,"
                    " user_id) SELECT id, alert_id, dataset_id, kind, severity, status, ?"
                    " FROM __eb_events", [user_id])
    finally:
        cur.unregister("__eb_events")
    return ids


def record_event(cur, alert_id: int, kind: str, user_id: int | None) -> list[int]:
    """An event made by a person (acknowledge, resolve), with its outbox rows."""
    row = cur.execute("SELECT dataset_id, severity, status FROM alerts WHERE id = ?",
                      [alert_id]).fetchone()
    ids = _insert_events(cur, [(alert_id, row[0], kind, row[1], row[2])], user_id)
    from ecobridge.alerts.matching import match_events

    match_events(cur, ids)
    return ids
