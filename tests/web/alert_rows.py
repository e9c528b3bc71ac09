"""Alert rows written straight into the store, as the evaluator writes them, for page tests
that need open (or other) alerts at given stations without running rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def insert_alert(store, dataset_id: int, thing_id: int, severity: str = "minor",
                 status: str = "open") -> int:
    """A rule, an incident and an alert at the station's position; the alert's id."""
    now = datetime.now(UTC)
    with store.transaction() as cur:
        rule = cur.execute(
            "INSERT INTO alert_rules (name, kind, params, severity, dataset_id)"
            " VALUES (?, 'threshold', '{}', ?, ?) RETURNING id",
            [f"rule {thing_id} {severity}", severity, dataset_id]).fetchone()[0]
        incident = cur.execute("INSERT INTO incidents DEFAULT VALUES RETURNING id").fetchone()[0]
        return cur.execute(
            "INSERT INTO alerts (rule_id, dataset_id, thing_id, observed_property, incident_id,"
            " status, severity, started_at, last_seen_at, points, peak_value, unit, geom)"
            " SELECT ?, ?, ?, 'pm25', ?, ?, ?, ?, ?, 3, 187.5, 'ug/m3', l.geom"
            " FROM thing_locations tl JOIN locations l ON l.id = tl.location_id"
            " WHERE tl.thing_id = ? RETURNING id",
            [rule, dataset_id, thing_id, incident, status, severity, now - timedelta(hours=5),
             now, thing_id]).fetchone()[0]
