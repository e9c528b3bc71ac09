"""Server-sent events: the alert events a reader may see, as they happen.

Each event is `id: <event id>`, `event: alert.<kind>`, `data: <JSON>` (views.event_json). The
stream polls the events table (woken early by the evaluation's notify), sends a heartbeat
comment every HEARTBEAT_S seconds, and ends after its timeout: clients reconnect with the
Last-Event-ID header and miss nothing, as event ids only grow.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from ecobridge.alerts.views import alert_sql, event_json, subscription_filter
from ecobridge.governance.policy import Principal

HEARTBEAT_S = 15.0
POLL_S = 0.25
BATCH = 200


def start_id(store, last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    if after is not None:
        return after
    return int(store.scalar("SELECT coalesce(max(id), 0) FROM alert_events"))


def fetch_events(store, principal: Principal, after: int, *,
                 subscription: int | None = None, limit: int = BATCH) -> list[dict]:
    """Events after `after` that the principal may see (and that match the subscription)."""
    inner, params = alert_sql(principal, events=True)
    where, more = "true", []
    if subscription is not None:
        where, more = subscription_filter(subscription, events=True)
    rows = store.dicts(f"SELECT * FROM ({inner} AND e.id > ?) x WHERE {where}"
                       f" ORDER BY x.event_id LIMIT {int(limit)}", [*params, after, *more])
    return [event_json(r) for r in rows]


def _last_id(store) -> int:
    return int(store.scalar("SELECT coalesce(max(id), 0) FROM alert_events"))


async def events(request, store, principal: Principal, start: int, *, timeout: float,
                 subscription: int | None = None) -> AsyncIterator[str]:
    deadline = time.monotonic() + timeout
    last_beat = time.monotonic()
    cursor = start
    yield f"retry: 2000\n: ecobridge alert stream from event {start}\n\n"
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        # read before the fetch: every event up to `last` had committed when the fetch ran
        last = await run_in_threadpool(_last_id, store)
        batch = await run_in_threadpool(fetch_events, store, principal, cursor,
                                        subscription=subscription)
        for ev in batch:
            cursor = ev["event_id"]
            yield f"id: {cursor}\nevent: {ev['type']}\ndata: {json.dumps(ev)}\n\n"
        if not batch:
            # events the reader may not see still move the cursor, so it never rescans them
            cursor = max(cursor, last)
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            yield ": heartbeat\n\n"
        if len(batch) < BATCH:
            await asyncio.sleep(POLL_S)
