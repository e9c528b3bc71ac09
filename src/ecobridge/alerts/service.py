"""Alerts as a service: rules, the alert lifecycle, incidents and subscriptions.

Functions take the store and the Principal first. Reads go through alerts.views (the
governance predicate and location_sql); a hidden alert is reported as missing, not forbidden.

Who may do what:
  - rules: a platform admin adds any rule; an admin or publisher of a dataset's owner adds
    (and removes) rules scoped to that dataset. Anyone sees the rules on data they can see.
  - acknowledge / resolve: a platform admin, or a member (not a viewer) of the organisation
    that owns the alert's dataset.
  - subscriptions: any signed-in user, for themselves; only alerts they may see are matched.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from ecobridge.alerts import writes
from ecobridge.alerts.models import (
    DEFAULT_EVENT_KINDS,
    EVENT_KINDS,
    SEVERITIES,
    STATUSES,
    check_params,
    check_severity,
)
from ecobridge.alerts.views import SEV_LIST, alert_json, alert_sql, subscription_filter
from ecobridge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ecobridge.governance.policy import (
    Principal,
    record_read,
    require_write,
    visible_datasets_sql,
)

TRIAGE_ROLES = ("admin", "publisher", "analyst")
MAX_LIMIT = 1000


# -- rules -----------------------------------------------------------------------------------
def _ref_id(store, table: str, column: str, ref: str | int | None, what: str) -> int | None:
    if ref is None or ref == "":
        return None
    col = "id" if isinstance(ref, int) or str(ref).isdigit() else column
    row = store.one(f"SELECT id FROM {table} WHERE {col} = ?", [ref])
    if row is None:
        raise NotFound(f"no {what} {ref!r}")
    return row[0]


def create_rule(store, principal: Principal, *, name: str, kind: str, params: dict | None = None,
                severity: str = "moderate", dataset: str | int | None = None,
                observed_property: str | None = None, area: str | int | None = None,
                station: str | int | None = None, description: str = "") -> dict:
    if not name or len(name) > 200:
        raise InvalidInput("a rule needs a name of at most 200 characters", field="name")
    check_severity(severity)
    clean = check_params(kind, params)
    dataset_id = _ref_id(store, "datasets", "slug", dataset, "dataset")
    if dataset_id is None and not principal.is_platform_admin:
        raise Forbidden("only platform admins add rules that are not scoped to a dataset")
    if dataset_id is not None:
        require_write(store, principal, dataset_id)
    if observed_property is not None and store.one(
            "SELECT 1 FROM observed_properties WHERE code = ?", [observed_property]) is None:
        raise InvalidInput(f"unknown observed property {observed_property!r}",
                           field="observed_property")
    area_id = _ref_id(store, "areas", "code", area, "area")
    thing_id = None
    if station is not None:
        where = "id = ?" if isinstance(station, int) or str(station).isdigit() else "code = ?"
        rows = store.rows(f"SELECT id FROM things WHERE {where}"
                          + (" AND dataset_id = ?" if dataset_id else ""),
                          [station, *([dataset_id] if dataset_id else [])])
        if len(rows) != 1:
            raise InvalidInput(f"station {station!r} is unknown or ambiguous (give the dataset)",
                               field="station")
        thing_id = rows[0][0]
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM alert_rules WHERE name = ? AND deleted_at IS NULL",
                       [name]).fetchone():
            raise Conflict(f"rule {name!r} exists already")
        rule_id = cur.execute(
            "INSERT INTO alert_rules (name, kind, params, severity, description, dataset_id,"
            " observed_property, area_id, thing_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?) RETURNING id",
            [name, kind, json.dumps(clean), severity, description, dataset_id,
             observed_property, area_id, thing_id, principal.user_id]).fetchone()[0]
    return get_rule(store, principal, rule_id)


def _rule_sql(principal: Principal) -> tuple[str, list]:
    vis, params = visible_datasets_sql(principal, "d")
    return ("SELECT r.id, r.name, r.kind, r.params, r.severity, r.description,"
            " d.slug AS dataset, r.observed_property, a.code AS area, t.code AS station,"
            " r.created_at FROM alert_rules r LEFT JOIN datasets d ON d.id = r.dataset_id"
            " LEFT JOIN areas a ON a.id = r.area_id LEFT JOIN things t ON t.id = r.thing_id"
            f" WHERE r.deleted_at IS NULL AND (r.dataset_id IS NULL OR {vis})"), params


def _rule_out(row: dict) -> dict:
    row["params"] = json.loads(row["params"])
    return row


def list_rules(store, principal: Principal) -> list[dict]:
    sql, params = _rule_sql(principal)
    return [_rule_out(r) for r in store.dicts(sql + " ORDER BY r.id", params)]


def get_rule(store, principal: Principal, rule_id: int) -> dict:
    sql, params = _rule_sql(principal)
    rows = store.dicts(sql + " AND r.id = ?", [*params, rule_id])
    if not rows:
        raise NotFound(f"no rule {rule_id}")
    return _rule_out(rows[0])


def delete_rule(store, principal: Principal, ref: str | int) -> None:
    col = "id" if isinstance(ref, int) or str(ref).isdigit() else "name"
    row = store.one(f"SELECT id, dataset_id FROM alert_rules WHERE {col} = ?"
                    " AND deleted_at IS NULL", [ref])
    if row is None:
        raise NotFound(f"no rule {ref!r}")
    if row[1] is None:
        if not principal.is_platform_admin:
            raise Forbidden("only platform admins remove rules not scoped to a dataset")
    else:
        require_write(store, principal, row[1])
    store.execute("UPDATE alert_rules SET deleted_at = now() WHERE id = ?", [row[0]])


# -- alerts ----------------------------------------------------------------------------------
def list_alerts(store, principal: Principal, *, status: str | None = None,
                min_severity: str | None = None, dataset: str | None = None,
                incident: int | None = None, subscription: int | None = None,
                rule: int | None = None, since: datetime | None = None,
                after_id: int | None = None, limit: int = 100,
                owner_countries: tuple[str, ...] = (),
                other_countries: tuple[str, ...] = ()) -> list[dict]:
    """Newest first. owner_countries / other_countries keep the alerts of datasets whose owner
    organisation is in / is in none of those countries (the web page lists the reader's own
    country's alerts first)."""
    inner, params = alert_sql(principal)
    where, more = ["true"], []
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        where.append("x.status = ?")
        more.append(status)
    if min_severity is not None:
        check_severity(min_severity, "min_severity")
        where.append(f"list_position({SEV_LIST}, x.severity) >= list_position({SEV_LIST}, ?)")
        more.append(min_severity)
    for column, value in (("x.dataset", dataset), ("x.incident_id", incident),
                          ("x.rule_id", rule)):
        if value is not None:
            where.append(f"{column} = ?")
            more.append(value)
    if since is not None:
        where.append("x.updated_at >= ?")
        more.append(since)
    for countries, negate in ((owner_countries, ""), (other_countries, "NOT ")):
        if countries:
            where.append(f"x.dataset_id {negate}IN (SELECT od.id FROM datasets od JOIN"
                         " organisations oo ON oo.id = od.owner_org_id WHERE oo.country IN"
                         f" ({', '.join('?' for _ in countries)}))")
            more += list(countries)
    if after_id is not None:
        where.append("x.id < ?")
        more.append(after_id)
    if subscription is not None:
        _own_subscription(store, principal, subscription)
        cond, cond_params = subscription_filter(subscription)
        where.append(cond)
        more += cond_params
    limit = max(1, min(int(limit), MAX_LIMIT))
    rows = store.dicts(f"SELECT * FROM ({inner}) x WHERE {' AND '.join(where)}"
                       f" ORDER BY x.id DESC LIMIT {limit}", params + more)
    record_read(store, principal, dataset_ids=[r["dataset_id"] for r in rows], kind="alerts",
                count=len(rows))
    return [alert_json(r) for r in rows]


def get_alert(store, principal: Principal, alert_id: int) -> dict:
    inner, params = alert_sql(principal)
    rows = store.dicts(f"{inner} AND a.id = ?", [*params, alert_id])
    if not rows:
        raise NotFound(f"no alert {alert_id}")
    record_read(store, principal, dataset_ids=[rows[0]["dataset_id"]], kind="alerts", count=1)
    return alert_json(rows[0])


def _may_triage(store, principal: Principal, alert_id: int) -> None:
    if not principal.authenticated:
        raise Unauthorized("sign in to triage alerts")
    alert = get_alert(store, principal, alert_id)  # NotFound when hidden
    if principal.is_platform_admin:
        return
    owner = store.scalar("SELECT owner_org_id FROM datasets WHERE id = ?", [alert["dataset_id"]])
    if principal.roles.get(owner) not in TRIAGE_ROLES:
        raise Forbidden("only members of the data owner (admin, publisher, analyst) triage "
                        "its alerts")


# The triage transitions: the SET clause (constants only) and the conflict it refuses.
_TRANSITIONS = {
    "acknowledged": ("status = 'acknowledged', acknowledged_at = now(), acknowledged_by = ?",
                     "alert {} is resolved"),
    "resolved": ("status = 'resolved', resolution = 'manual', resolved_at = now(),"
                 " resolved_by = ?", "alert {} is resolved already"),
}


def acknowledge(store, principal: Principal, alert_id: int, note: str | None = None) -> dict:
    return _triage(store, principal, alert_id, "acknowledged", note)


def resolve(store, principal: Principal, alert_id: int, note: str | None = None) -> dict:
    return _triage(store, principal, alert_id, "resolved", note)


def _triage(store, principal: Principal, alert_id: int, event: str, note: str | None) -> dict:
    _may_triage(store, principal, alert_id)
    set_sql, conflict = _TRANSITIONS[event]
    with store.transaction() as cur:
        row = cur.execute("SELECT status FROM alerts WHERE id = ?", [alert_id]).fetchone()
        if row[0] == "resolved":
            raise Conflict(conflict.format(alert_id))
        cur.execute(f"UPDATE alerts SET {set_sql}, note = coalesce(?, note),"
                    " version = version + 1, updated_at = now() WHERE id = ?",
                    [principal.user_id, note, alert_id])
        writes.record_event(cur, alert_id, event, principal.user_id)
    _notify()
    return get_alert(store, principal, alert_id)


def _notify() -> None:
    from ecobridge.alerts.delivery import notify

    notify()


# -- incidents -------------------------------------------------------------------------------
def list_incidents(store, principal: Principal, *, status: str | None = None,
                   limit: int = 100, incident: int | None = None) -> list[dict]:
    """Incidents as the principal sees them: built from the alerts it may see only."""
    inner, params = alert_sql(principal)
    having, more = [], []
    if status == "open":
        having.append("bool_or(x.status <> 'resolved')")
    elif status == "resolved":
        having.append("bool_and(x.status = 'resolved')")
    elif status is not None:
        raise InvalidInput("status must be open or resolved", field="status")
    where = "x.incident_id IS NOT NULL AND x.resolution IS DISTINCT FROM 'retracted'"
    if incident is not None:
        where += " AND x.incident_id = ?"
        more.append(incident)
    limit = max(1, min(int(limit), MAX_LIMIT))
    rows = store.dicts(
        f"SELECT x.incident_id AS id, min(x.started_at) AS started_at,"
        f" max(x.last_seen_at) AS last_seen_at,"
        f" CASE WHEN bool_or(x.status <> 'resolved') THEN 'open' ELSE 'resolved' END AS status,"
        f" {SEV_LIST}[max(list_position({SEV_LIST}, x.severity))] AS severity,"
        f" count(*) AS alerts, list(DISTINCT x.dataset ORDER BY x.dataset) AS datasets,"
        f" list(DISTINCT x.observed_property ORDER BY x.observed_property) AS properties,"
        f" list(DISTINCT x.station_name ORDER BY x.station_name) AS stations,"
        f" list(x.id ORDER BY x.id) AS alert_ids, list(DISTINCT x.dataset_id) AS dataset_ids"
        f" FROM ({inner}) x WHERE {where} GROUP BY x.incident_id"
        + (f" HAVING {' AND '.join(having)}" if having else "")
        + f" ORDER BY max(x.last_seen_at) DESC, x.incident_id DESC LIMIT {limit}",
        params + more)
    ids = sorted({d for r in rows for d in r.pop("dataset_ids")})
    record_read(store, principal, dataset_ids=ids, kind="incidents", count=len(rows))
    return rows


def get_incident(store, principal: Principal, incident_id: int) -> dict:
    rows = list_incidents(store, principal, incident=incident_id)
    if not rows:
        raise NotFound(f"no incident {incident_id}")
    out = rows[0]
    out["alerts"] = list_alerts(store, principal, incident=incident_id, limit=MAX_LIMIT)
    return out


# -- subscriptions ---------------------------------------------------------------------------
def _area_geometry(store, area: dict | str | int | None) -> tuple[str | None, list]:
    """SQL for the area of interest: a GeoJSON polygon drawn or uploaded, or a stored area."""
    if area is None:
        return "NULL", []
    if isinstance(area, dict):
        geom = area.get("geometry", area) if area.get("type") == "Feature" else area
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise InvalidInput("the area must be a GeoJSON Polygon or MultiPolygon",
                               field="area")
        text = json.dumps(geom)
        try:
            ok = store.scalar("SELECT ST_IsValid(ST_GeomFromGeoJSON(?))", [text])
        except Exception:
            ok = False
        if not ok:
            raise InvalidInput("the area is not a valid polygon", field="area")
        return "ST_GeomFromGeoJSON(?)", [text]
    area_id = _ref_id(store, "areas", "code", area, "area")
    return "(SELECT geom FROM areas WHERE id = ?)", [area_id]


def create_subscription(store, principal: Principal, *, name: str = "",
                        area: dict | str | int | None = None, dataset: str | int | None = None,
                        observed_property: str | None = None, min_severity: str = "minor",
                        url: str | None = None, secret: str | None = None,
                        cooldown_s: int = 3600, kinds: list[str] | None = None) -> dict:
    if principal.user_id is None:
        raise Unauthorized("a subscription belongs to a user: sign in")
    check_severity(min_severity, "min_severity")
    kinds = list(kinds or DEFAULT_EVENT_KINDS)
    if not kinds or any(k not in EVENT_KINDS for k in kinds):
        raise InvalidInput(f"kinds must be among {', '.join(EVENT_KINDS)}", field="kinds")
    if not 0 <= int(cooldown_s) <= 7 * 86400:
        raise InvalidInput("cooldown_s must be from 0 to 604800", field="cooldown_s")
    if url is not None:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise InvalidInput("url must be an http(s) URL", field="url")
        secret = secret or secrets.token_urlsafe(32)
    dataset_id = None
    if dataset is not None:
        pred, params = visible_datasets_sql(principal, "d")
        col = "d.id" if isinstance(dataset, int) or str(dataset).isdigit() else "d.slug"
        row = store.one(f"SELECT d.id FROM datasets d WHERE {col} = ? AND {pred}",
                        [dataset, *params])
        if row is None:
            raise NotFound(f"no dataset {dataset!r}")
        dataset_id = row[0]
    geom_sql, geom_params = _area_geometry(store, area)
    with store.transaction() as cur:
        sub_id = cur.execute(
            "INSERT INTO subscriptions (user_id, name, area, dataset_id, observed_property,"
            f" min_severity, kinds, url, secret, cooldown_s) VALUES (?, ?, {geom_sql}, ?, ?, ?,"
            " ?, ?, ?, ?) RETURNING id",
            [principal.user_id, name, *geom_params, dataset_id, observed_property, min_severity,
             kinds, url, secret, int(cooldown_s)]).fetchone()[0]
    out = get_subscription(store, principal, sub_id)
    out["secret"] = secret  # shown once
    return out


_SUB_COLS = ("s.id, s.name, u.username AS owner, ST_AsGeoJSON(s.area) AS area, d.slug AS dataset,"
             " s.observed_property, s.min_severity, s.kinds, s.url, s.cooldown_s, s.failures,"
             " s.retry_at, s.created_at,"
             " (SELECT count(*) FILTER (WHERE status = 'pending') FROM outbox o"
             "  WHERE o.subscription_id = s.id) AS pending,"
             " (SELECT count(*) FILTER (WHERE status = 'delivered') FROM outbox o"
             "  WHERE o.subscription_id = s.id) AS delivered")


def _sub_out(row: dict) -> dict:
    row["area"] = json.loads(row["area"]) if row["area"] else None
    return row


def list_subscriptions(store, principal: Principal) -> list[dict]:
    if not principal.authenticated:
        raise Unauthorized("sign in to see your subscriptions")
    mine = "true" if principal.is_platform_admin else "s.user_id = ?"
    params = [] if principal.is_platform_admin else [principal.user_id]
    return [_sub_out(r) for r in store.dicts(
        f"SELECT {_SUB_COLS} FROM subscriptions s JOIN users u ON u.id = s.user_id"
        " LEFT JOIN datasets d ON d.id = s.dataset_id"
        f" WHERE s.deleted_at IS NULL AND {mine} ORDER BY s.id", params)]


def _own_subscription(store, principal: Principal, sub_id: int) -> None:
    row = store.one("SELECT user_id FROM subscriptions WHERE id = ? AND deleted_at IS NULL",
                    [sub_id])
    if row is None or not (principal.is_platform_admin or row[0] == principal.user_id):
        raise NotFound(f"no subscription {sub_id}")


def get_subscription(store, principal: Principal, sub_id: int) -> dict:
    _own_subscription(store, principal, sub_id)
    return _sub_out(store.dicts(
        f"SELECT {_SUB_COLS} FROM subscriptions s JOIN users u ON u.id = s.user_id"
        " LEFT JOIN datasets d ON d.id = s.dataset_id WHERE s.id = ?", [sub_id])[0])


def delete_subscription(store, principal: Principal, sub_id: int) -> None:
    _own_subscription(store, principal, sub_id)
    store.execute("UPDATE subscriptions SET deleted_at = now() WHERE id = ?", [sub_id])


__all__ = ["SEVERITIES", "acknowledge", "create_rule", "create_subscription", "delete_rule",
           "delete_subscription", "get_alert", "get_incident", "get_rule", "get_subscription",
           "list_alerts", "list_incidents", "list_rules", "list_subscriptions", "resolve"]
