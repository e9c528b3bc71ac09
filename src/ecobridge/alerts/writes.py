"""Write an evaluation's outcome: new alerts (with their incidents), updates, retractions, their
events, and the outbox rows of the subscriptions those events match. All on the caller's
transaction cursor."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import dataclass
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


def _status(ep, manual: bool, acknowledged: bool) -> tuple[str, str | None]:
    if manual:
        return "resolved", "manual"
    if ep.ended is not None:
        return "resolved", "auto"
    return ("acknowledged" if acknowledged else "open"), None


def write(cur, w, streams: dict[int, Stream]) -> dict:
    events: list[tuple[int, int, str, str, str]] = []  # alert, dataset, kind, severity, status
    staged = w.staged if w.staged is not None else stage(w.new, streams)
    if len(staged):
        _insert_new(cur, staged, events, w.known.alerts)
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
    return {"opened": len(staged), "updated": len(w.updates), "retracted": len(w.retracted),
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


@dataclass
class Staged:
    """New alerts as columns without their id and incident (_NEW_COLUMNS less the first and
    the seventh), their places and spans for the incidents, and their events by position."""

    columns: dict[str, pa.Array]
    places: list[tuple[float, float, int, int]]
    events: list[tuple[int, int, str, str, str]]
    incidents: tuple | None = None  # incidents.plan, made where the stored ones were read

    def place(self, near: list | None) -> None:
        """Plan the incidents against `near` (incidents.around), or leave them to the insert."""
        if near is not None and self.places:
            self.incidents = incidents.plan(near, self.places)

    def __len__(self) -> int:
        return len(self.places)


_TYPES = {"rule_id": pa.int64(), "dataset_id": pa.int64(), "thing_id": pa.int64(),
          "datastream_id": pa.int64(), "observed_property": pa.string(), "status": pa.string(),
          "resolution": pa.string(), "severity": pa.string(), "started_at": _TS,
          "last_seen_at": _TS, "ended_at": _TS, "points": pa.int64(), "peak_value": pa.float64(),
          "peak_at": _TS, "last_value": pa.float64(), "threshold": pa.float64(),
          "unit": pa.string(), "detail": pa.string(), "lon": pa.float64(), "lat": pa.float64()}


def stage(new: list, streams: dict[int, Stream]) -> Staged:
    """The new alerts' rows (episodes.New per rule), as columns: all that needs no store, so
    the evaluation's thread can make it (alerts.overlap). What an alert takes from its rule,
    station and limit is found once per key (and validity period of the limit documents)."""
    if not new:
        return Staged({}, [], [])
    by_thing = _by_thing(streams)
    limits: dict = {}
    values: dict[str, list] = {k: [] for k in _TYPES}
    nulls: dict[str, list] = {k: [] for k in _TYPES}
    severities = np.array(SEVERITIES, object)

    def put(name: str, x: np.ndarray, null: np.ndarray | None = None) -> None:
        values[name].append(x)
        nulls[name].append(np.zeros(len(x), bool) if null is None else null)

    for batch in new:
        rule, eps = batch.rule, batch.eps
        silence = rule.kind == "silence"
        ukeys, at = np.unique(eps.key, return_inverse=True)
        at = at.reshape(-1)
        per_key = [by_thing[k] if silence else streams[k] for k in ukeys.tolist()]
        n, ended = len(eps), eps.has_end

        def of_key(attr, dtype, keys=per_key, at=at):
            return np.array([getattr(s, attr) for s in keys], dtype)[at]

        put("rule_id", np.full(n, rule.id, np.int64))
        put("dataset_id", of_key("dataset_id", np.int64))
        put("thing_id", of_key("thing_id", np.int64))
        put("datastream_id", np.zeros(n, np.int64) if silence else of_key("id", np.int64),
            np.full(n, silence))
        put("observed_property", np.full(n, rule.observed_property, object) if silence
            else of_key("prop", object), np.full(n, silence and rule.observed_property is None))
        put("status", np.where(ended, "resolved", "open").astype(object))
        put("resolution", np.full(n, "auto", object), ~ended)
        put("severity", severities[eps.sev])
        put("started_at", eps.start)
        put("last_seen_at", eps.last)
        put("ended_at", eps.ended, ~ended)
        put("points", eps.count)
        put("peak_at", eps.peak_at)
        for name, col in (("peak_value", eps.peak), ("last_value", eps.last_value),
                          ("threshold", eps.limit)):
            put(name, col, ~np.isfinite(col))
        put("unit", np.array([UNITS.get(rule.kind, s.unit) for s in per_key], object)[at])
        put("detail", _details(rule, eps, batch.detail, ukeys, at, per_key, limits))
        put("lon", of_key("lon", float))
        put("lat", of_key("lat", float))
    cat = {k: np.concatenate(v) for k, v in values.items()}
    # strings from lists: pyarrow's first conversion of an object array in a process costs
    # ~20 ms (once, but on the ingest's path), of a list under 1 ms
    columns = {k: pa.array(cat[k].tolist() if t == pa.string() else cat[k], t,
                           mask=np.concatenate(nulls[k])) for k, t in _TYPES.items()}
    places = list(zip(cat["lon"].tolist(), cat["lat"].tolist(), cat["started_at"].tolist(),
                      cat["last_seen_at"].tolist(), strict=True))
    # events by position: each new alert opened, and resolved too when its episode ended
    ended = np.concatenate([b.eps.has_end for b in new])
    pos = np.repeat(np.arange(len(ended)), 1 + ended)
    second = np.r_[False, pos[1:] == pos[:-1]]
    events = list(zip(pos.tolist(), cat["dataset_id"][pos].tolist(),
                      np.where(second, "resolved", "opened").tolist(),
                      cat["severity"][pos].tolist(), cat["status"][pos].tolist(), strict=True))
    return Staged(columns, places, events)


def _details(rule: Rule, eps, base_of: dict[int, dict], ukeys: np.ndarray, at: np.ndarray,
             per_key: list[Stream], limits: dict) -> np.ndarray:
    """The alerts' detail JSON: one per key, or per key and validity period of the limit
    documents for a threshold against a national or WHO limit (the clause it names)."""
    breaks = np.array(_breaks(), np.int64)
    if rule.kind == "threshold" and isinstance(rule.params["limit"], str):
        era = np.searchsorted(breaks, eps.peak_at // (24 * HOUR_US), side="right")
    else:
        era = np.zeros(len(at), np.int64)
    pair, first, which = np.unique(at * (len(breaks) + 1) + era, return_index=True,
                                   return_inverse=True)
    texts = []
    done: dict[tuple, str] = {}  # keys mostly share their detail (the same standard and place)
    for k, e, i in zip((pair // (len(breaks) + 1)).tolist(), (pair % (len(breaks) + 1)).tolist(),
                       first.tolist(), strict=True):
        base, s = base_of.get(int(ukeys[k]), {}), per_key[k]
        try:
            same = (tuple(sorted(base.items())), s.prop, s.country, e)
            hash(same)
        except TypeError:
            same = (k, e)
        if same not in done:
            done[same] = json.dumps(_detail(rule, _Peak(int(eps.peak_at[i])), base, s, limits),
                                    ensure_ascii=False)
        texts.append(done[same])
    return np.array(texts, object)[which.reshape(-1)]


@dataclass
class _Peak:
    peak_at: int


def _by_thing(streams: dict[int, Stream]) -> dict[int, Stream]:
    return {s.thing_id: s for s in sorted(streams.values(), key=lambda s: s.id)}


def _insert_new(cur, staged: Staged, events: list, stored: bool = True) -> None:
    inc = (incidents.make(cur, *staged.incidents) if staged.incidents is not None
           else incidents.assign(cur, staged.places, stored))
    ids = cur.execute("SELECT nextval('alerts_id_seq') AS id FROM range(?)",
                      [len(staged)]).fetch_arrow_table().column("id").to_numpy()
    events.extend((int(ids[i]), *rest) for i, *rest in staged.events)
    table = pa.table({"id": ids, **{k: staged.columns[k] for k in _NEW_COLUMNS[1:6]},
                      "incident_id": pa.array(inc, pa.int64()),
                      **{k: staged.columns[k] for k in _NEW_COLUMNS[7:]}})
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
