"""Alerts of monitoring entities that are deleted (SensorThings DELETE of a Thing, Datastream,
Sensor or ObservedProperty, which cascade to datastreams).

An alert derived from data that no longer exist is withdrawn the way late data withdraw one:
an alert still open or acknowledged is resolved with resolution `retracted`, a `retracted`
event (so the SSE feed and the subscribers who were told of it hear that it is over, through
the same outbox matching as every event) and a note that says why. Every alert of the deleted
datastreams, resolved or not, stops pointing at them (`datastream_id` NULL; the old id is kept
in `detail.deleted_datastream_id`; a deleted station's code and name in
`detail.deleted_station_code` and `deleted_station_name`, which the readers fall back on). The
alert keeps its dataset id, so every read still applies the dataset's access rule; nothing is
deleted, so the history a user was sent stays readable.

Runs on the delete's own transaction cursor, before the rows go, so the events commit with the
deletion or not at all, and subscription matching still sees the station.
"""

from __future__ import annotations

from ecobridge.store import int_array

# entity set -> the datastreams column that names it (a datastream names itself by id)
_STREAMS_OF = {"Things": "thing_id", "Datastreams": "id", "Sensors": "sensor_id",
               "ObservedProperties": "observed_property_id"}


def affected(entity_set: str) -> bool:
    return entity_set in _STREAMS_OF


def entity_deleted(cur, entity_set: str, entity_id: int, *, user_id: int | None) -> list[int]:
    """Withdraw the alerts of the entity's datastreams (and, for a Thing, its station-wide
    silence alerts). Returns the ids of the events written (for subscription matching, done
    here, and for the caller to wake the feeds after the commit)."""
    column = _STREAMS_OF.get(entity_set)
    if column is None:
        return []
    streams = [r[0] for r in cur.execute(
        f"SELECT id FROM datastreams WHERE {column} = ?", [entity_id]).fetchall()]
    thing = entity_id if entity_set == "Things" else None
    if not streams and thing is None:
        return []
    where = ("(datastream_id IN (SELECT unnest(?::BIGINT[])) OR thing_id = ?)")
    params = [int_array(streams), thing]
    what = (f"Station {entity_id} was deleted" if thing is not None
            else f"{_singular(entity_set)} {entity_id} was deleted")
    retracted = [r[0] for r in cur.execute(
        "UPDATE alerts SET status = 'resolved', resolution = 'retracted',"
        " ended_at = coalesce(ended_at, last_seen_at), resolved_at = now(), resolved_by = ?,"
        " note = ?, version = version + 1, updated_at = now()"
        f" WHERE {where} AND status <> 'resolved' RETURNING id",
        [user_id, what, *params]).fetchall()]
    cur.execute(
        "UPDATE alerts SET detail = json_merge_patch(coalesce(detail, '{}'),"
        " json_object('deleted_datastream_id', datastream_id)), datastream_id = NULL,"
        " updated_at = now() WHERE datastream_id IN (SELECT unnest(?::BIGINT[]))",
        [int_array(streams)])
    if thing is not None:
        # the station row goes: its alerts keep its code and name for the readers
        cur.execute(
            "UPDATE alerts SET detail = json_merge_patch(coalesce(alerts.detail, '{}'),"
            " json_object('deleted_station_code', t.code, 'deleted_station_name', t.name))"
            " FROM things t WHERE t.id = alerts.thing_id AND alerts.thing_id = ?", [thing])
    if not retracted:
        return []
    events = [r[0] for r in cur.execute(
        "INSERT INTO alert_events (alert_id, dataset_id, kind, severity, status, user_id)"
        " SELECT id, dataset_id, 'retracted', severity, status, ? FROM alerts"
        " WHERE id IN (SELECT unnest(?::BIGINT[])) ORDER BY id RETURNING id",
        [user_id, int_array(retracted)]).fetchall()]
    from ecobridge.alerts.matching import match_events

    match_events(cur, sorted(events))
    return events


def wake_feeds() -> None:
    """After the commit: the outbox worker and the live feeds look for the new events."""
    from ecobridge.alerts.delivery import notify

    notify()


def _singular(entity_set: str) -> str:
    return {"Datastreams": "Datastream", "Sensors": "Sensor",
            "ObservedProperties": "ObservedProperty"}[entity_set]
