"""A station may have no position (a SensorThings Thing without a Location). Its alerts still
open, and every representation says "no position" instead of carrying NaN coordinates (which
are not JSON and not CAP)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from sta.test_writes import _datastream, env  # noqa: F401  (the fixture)

from ecobridge.alerts import service as alerts
from ecobridge.governance.policy import SYSTEM

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_alerts_of_a_station_without_position(env):  # noqa: F811
    thing = {"name": "Roof sensor", "description": "no position given",
             "properties": {"dataset": "kz-air"}, "Datastreams": [_datastream()]}
    r = env.post("Things", thing)
    assert r.status_code == 201, r.text
    ds = env.scalar("SELECT s.id FROM datastreams s JOIN things t ON t.id = s.thing_id"
                    " WHERE t.name = 'Roof sensor'")
    alerts.create_rule(env.store, SYSTEM, name="above 100", kind="threshold",
                       params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                       observed_property="pm25", dataset="kz-air")
    for hour, value in enumerate((30, 150, 160)):
        r = env.post(f"Datastreams({ds})/Observations",
                     {"phenomenonTime": f"2025-01-01T0{hour}:00:00Z", "result": value})
        assert r.status_code == 201, r.text
    listed = env.client.get("/api/v1/alerts", headers=env.auth["pub"])
    assert listed.status_code == 200, listed.text
    body = json.loads(listed.text, parse_constant=lambda c: pytest_fail(c))
    (alert,) = [a for a in body["items"] if a["station"]["name"] == "Roof sensor"]
    assert alert["location"] is None
    cap = env.client.get(f"/api/v1/alerts/{alert['id']}/cap", headers=env.auth["pub"])
    assert cap.status_code == 200
    area = ET.fromstring(cap.content).find(f"{CAP}info/{CAP}area")
    assert area.find(f"{CAP}areaDesc").text == "Roof sensor"
    assert area.find(f"{CAP}circle") is None
    page = env.client.get("/alerts", params={"status": "all"}, headers=env.auth["pub"])
    assert page.status_code == 200 and "Roof sensor" in page.text


def pytest_fail(constant: str):
    raise AssertionError(f"{constant} in the alerts JSON")
