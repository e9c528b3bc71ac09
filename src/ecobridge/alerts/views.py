"""Alerts as a reader may see them: one SQL shape behind lists, feeds, webhooks and CAP.

Every query here joins `datasets` and applies the governance predicate for the reader, and
reads the station position only through `location_sql` (generalised for sensitive datasets).
"""

from __future__ import annotations

import json
from datetime import datetime

from ecobridge.alerts.models import SEVERITIES
from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    visible_datasets_sql,
)

SEV_LIST = "['" + "', '".join(SEVERITIES) + "']"


def alert_sql(principal: Principal, *, events: bool = False) -> tuple[str, list]:
    """SELECT ... FROM [alert_events e JOIN] alerts a ... WHERE <visible>; append AND ..."""
    loc, loc_params = location_sql(principal, "a.geom", "d")
    full, full_params = full_access_sql(principal, "d")
    vis, vis_params = visible_datasets_sql(principal, "d")
    event_cols = (", e.id AS event_id, e.kind AS event_kind, e.severity AS event_severity,"
                  " e.created_at AS event_at, e.user_id AS event_user") if events else ""
    source = ("alert_events e JOIN alerts a ON a.id = e.alert_id" if events else "alerts a")
    sql = f"""
        SELECT a.id, a.rule_id, r.name AS rule_name, r.kind AS rule_kind, a.status,
               a.resolution, a.severity, d.slug AS dataset, a.dataset_id, a.thing_id,
               coalesce(t.code, a.detail->>'deleted_station_code') AS station_code,
               coalesce(t.name, a.detail->>'deleted_station_name') AS station_name,
               a.datastream_id,
               a.observed_property, a.unit, a.started_at, a.last_seen_at, a.ended_at, a.points,
               a.peak_value, a.peak_at, a.last_value, a.threshold, a.detail, a.incident_id,
               ST_AsGeoJSON({loc}) AS location, NOT ({full}) AS location_generalised,
               a.version, a.created_at, a.updated_at, a.acknowledged_at, a.resolved_at,
               a.note, d.is_demo, d.visibility, d.generalise_km{event_cols}
        FROM {source} JOIN datasets d ON d.id = a.dataset_id
        LEFT JOIN things t ON t.id = a.thing_id JOIN alert_rules r ON r.id = a.rule_id
        WHERE {vis}"""
    return sql, loc_params + full_params + vis_params


def subscription_filter(sub_id: int, *, events: bool = False) -> tuple[str, list]:
    """Condition over `x`, a row of alert_sql wrapped as a subquery: the alert (or event)
    matches subscription `sub_id`'s filters. The area is compared with the position as the
    subscriber sees it (generalised for a sensitive dataset)."""
    sev = "x.event_severity" if events else "x.severity"
    sub = "(SELECT {} FROM subscriptions WHERE id = ?)"
    ds, prop, area = sub.format("dataset_id"), sub.format("observed_property"), sub.format("area")
    sql = (f"({ds} IS NULL OR x.dataset_id = {ds}) AND ({prop} IS NULL OR x.observed_property"
           f" = {prop}) AND list_position({SEV_LIST}, {sev}) >= list_position({SEV_LIST},"
           f" {sub.format('min_severity')}) AND ({area} IS NULL"
           f" OR ST_Intersects({area}, ST_GeomFromGeoJSON(x.location)))")
    return sql, [sub_id] * 7


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def headline(a: dict) -> str:
    """One line for people: what, where, how much."""
    kind, peak, unit = a["rule_kind"], a["peak_value"], a.get("unit") or ""
    what = a["rule_name"]
    where = a["station_name"]
    if kind == "silence":
        return f"{what}: {where} silent for {peak:.1f} h" if peak else f"{what}: {where} silent"
    prop = (a.get("observed_property") or "").upper().replace("PM25", "PM2.5")
    if peak is None:
        return f"{what}: {where}"
    return f"{what}: {prop} at {where}, peak {peak:.4g} {unit}".strip()


def alert_json(row: dict) -> dict:
    """The public shape of an alert (and of the event, when the row has one)."""
    detail = row.get("detail")
    out = {
        "id": row["id"], "status": row["status"], "resolution": row["resolution"],
        "severity": row["severity"], "headline": headline(row),
        "rule": {"id": row["rule_id"], "name": row["rule_name"], "kind": row["rule_kind"]},
        "dataset": row["dataset"], "dataset_id": row["dataset_id"],
        "station": {"id": row["thing_id"], "code": row["station_code"],
                    "name": row["station_name"]},
        "datastream_id": row["datastream_id"], "observed_property": row["observed_property"],
        "unit": row["unit"], "started_at": _iso(row["started_at"]),
        "last_seen_at": _iso(row["last_seen_at"]), "ended_at": _iso(row["ended_at"]),
        "points": row["points"], "peak_value": row["peak_value"],
        "peak_at": _iso(row["peak_at"]), "last_value": row["last_value"],
        "threshold": row["threshold"],
        "detail": json.loads(detail) if isinstance(detail, str) else detail,
        "incident_id": row["incident_id"],
        "location": json.loads(row["location"]) if row.get("location") else None,
        "location_generalised": bool(row["location_generalised"]),
        "location_cell_km": row["generalise_km"] if row["location_generalised"] else None,
        "version": row["version"], "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]), "acknowledged_at": _iso(row["acknowledged_at"]),
        "resolved_at": _iso(row["resolved_at"]), "note": row.get("note"),
        "demo": bool(row.get("is_demo")),
    }
    return out


def event_json(row: dict) -> dict:
    return {"id": f"evt_{row['event_id']}", "event_id": row["event_id"],
            "type": f"alert.{row['event_kind']}", "created_at": _iso(row["event_at"]),
            "severity": row["event_severity"], "alert": alert_json(row)}


def fetch(cur, sql: str, params: list) -> list[dict]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]
