"""Match new alert events to webhook subscriptions and queue them in the outbox.

Runs on the transaction that made the events, so an event and its outbox rows commit together.
For each subscription (with a webhook URL) the events are read through the governance predicate
of its owner: an event on data the owner cannot see matches nothing, and the position in the body
is generalised as the owner would see it.

Cooldown, per subscription and incident: an `opened`, `updated` or `reopened` event is queued as
'suppressed' when the subscription was sent an event of the same incident less than
`cooldown_s` before it (in the data's time, the alert's last_seen_at) at the same or a higher
severity. Escalations always pass. A `resolved`, `retracted` or `acknowledged` event is sent only
for an alert the subscription was told about, and then however old its data (an alert withdrawn
or resolved a week on still reaches those who were paged). Other events on data older than
`stale_days` are kept as 'suppressed' (a backfill of last year's data does not page anyone).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ecobridge.alerts.models import RANK, AlertSettings
from ecobridge.alerts.views import alert_sql, event_json, fetch, subscription_filter
from ecobridge.errors import NotFound
from ecobridge.governance.accounts import load_principal
from ecobridge.governance.policy import Principal
from ecobridge.store import int_array

_FOLLOW_UPS = ("resolved", "retracted", "acknowledged")


class CursorStore:
    """The few Store reads governance helpers use, on a transaction's cursor."""

    def __init__(self, cur):
        self.cur = cur

    def one(self, sql, params=None):
        return self.cur.execute(sql, params or []).fetchone()

    def rows(self, sql, params=None):
        return self.cur.execute(sql, params or []).fetchall()

    def scalar(self, sql, params=None):
        row = self.one(sql, params)
        return None if row is None else row[0]


def principal_of(cur, user_id: int) -> Principal | None:
    """The subscriber as governance sees them now; None for a disabled or removed user."""
    try:
        return load_principal(CursorStore(cur), user_id)
    except NotFound:
        return None


def idempotency_key(event_id: int, sub_id: int) -> str:
    return f"evt_{event_id}.sub_{sub_id}"


def match_events(cur, event_ids: list[int], settings: AlertSettings | None = None) -> int:
    """Queue the events for every matching subscription; returns the rows made pending."""
    if not event_ids:
        return 0
    settings = settings or AlertSettings()
    subs = cur.execute(
        "SELECT id, user_id, name, kinds, cooldown_s FROM subscriptions"
        " WHERE deleted_at IS NULL AND url IS NOT NULL ORDER BY id").fetchall()
    stale_before = datetime.now(UTC) - timedelta(days=settings.stale_days)
    pending = 0
    for sub_id, user_id, name, kinds, cooldown_s in subs:
        principal = principal_of(cur, user_id)
        if principal is None:
            continue
        inner, params = alert_sql(principal, events=True)
        cond, cond_params = subscription_filter(sub_id, events=True)
        rows = fetch(cur, f"SELECT * FROM ({inner} AND e.id IN (SELECT unnest(?::BIGINT[]))) x"
                          f" WHERE x.event_kind IN (SELECT unnest(?)) AND {cond}"
                          " ORDER BY x.event_id",
                     [*params, int_array(event_ids), list(kinds), *cond_params])
        if rows:
            pending += _queue(cur, sub_id, name, rows, cooldown_s, stale_before)
    return pending


def _queue(cur, sub_id: int, name: str, rows: list[dict], cooldown_s: int,
           stale_before: datetime) -> int:
    incidents = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
    sent: dict[int, tuple[list[datetime], int]] = {}
    for inc, when, sev in cur.execute(
            "SELECT incident_id, event_time, list_position(?, severity) - 1 FROM outbox"
            " WHERE subscription_id = ? AND status IN ('pending', 'delivered')"
            " AND incident_id IN (SELECT unnest(?::BIGINT[]))",
            [list(RANK), sub_id, int_array(incidents)]).fetchall():
        times, top = sent.get(inc, ([], -1))
        times.append(when)
        sent[inc] = (times, max(top, sev))
    told = {r[0] for r in cur.execute(
        "SELECT DISTINCT alert_id FROM outbox WHERE subscription_id = ?"
        " AND status IN ('pending', 'delivered')"
        " AND alert_id IN (SELECT unnest(?::BIGINT[]))",
        [sub_id, int_array(sorted({r["id"] for r in rows}))]).fetchall()}
    out = []
    for r in rows:
        rank = RANK[r["event_severity"]]
        when = r["last_seen_at"]
        inc = r["incident_id"]
        status, reason = "pending", None
        if r["event_kind"] in _FOLLOW_UPS:
            # whatever the data's age: whoever was told of an alert hears how it ends
            if r["id"] not in told:
                status, reason = "suppressed", "the subscription was not told of this alert"
        elif when < stale_before:
            status, reason = "suppressed", "stale: data older than the push window"
        elif r["event_kind"] != "escalated" and inc in sent:
            times, top = sent[inc]
            if rank <= top and any(abs((when - t).total_seconds()) < cooldown_s
                                   for t in times):
                status, reason = "suppressed", "cooldown"
        if status == "pending":
            told.add(r["id"])
            if inc is not None:
                times, top = sent.get(inc, ([], -1))
                times.append(when)
                sent[inc] = (times, max(top, rank))
        body = event_json(r)
        body["subscription"] = {"id": sub_id, "name": name}
        out.append([sub_id, r["event_id"], r["id"], inc, idempotency_key(r["event_id"], sub_id),
                    json.dumps(body, sort_keys=True, ensure_ascii=False), r["event_severity"],
                    when, status, reason])
    cur.executemany(
        "INSERT INTO outbox (subscription_id, event_id, alert_id, incident_id, idempotency_key,"
        " body, severity, event_time, status, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        out)
    return sum(1 for row in out if row[8] == "pending")
