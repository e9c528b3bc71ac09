"""Deleting a Datastream or a Thing through SensorThings withdraws the alerts of its data.

Through a real server: observations posted with CreateObservations raise a threshold alert, a
webhook subscriber (a real HTTP receiver on 127.0.0.1) is told of it; the DELETE then leaves
the alert resolved as `retracted` with a note, pointing at no datastream (the old id in its
detail), still in its dataset (so access checks apply); a `retracted` event reaches the feed
and the subscriber; every alert reader still answers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from serving import serve
from sta_station import post_loud_station

from ecobridge.alerts import service as alerts
from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import SYSTEM

STA = "/sta/v1.1"


class Receiver:
    """A webhook receiver: keeps every body posted to it."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, kind: str, alert_id: int, timeout: float = 60.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.bodies):
                if body["type"] == f"alert.{kind}" and body["alert"]["id"] == alert_id:
                    return body
            time.sleep(0.1)
        return None


@pytest.fixture
def site(settings, store):
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_organisation(store, slug="mn-agency", name="Mongolia", country="MNG")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="kz-air",
                   licence="CC-BY-4.0", visibility="private")
    auth = {}
    for name, org, role in (("pub", "kz-hydromet", "publisher"),
                            ("watcher", "kz-hydromet", "viewer"),
                            ("outsider", "mn-agency", "viewer")):
        accounts.create_user(store, username=name)
        accounts.set_membership(store, user=name, org=org, role=role)
        auth[name] = {"Authorization": f"Bearer {tokens.create_token(store, user=name)['token']}"}
    alerts.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                       params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                       observed_property="pm25", dataset="kz-air")
    receiver = Receiver()
    alerts.create_subscription(store, accounts.principal_for(store, "watcher"), name="hook",
                               url=receiver.url, kinds=["opened", "retracted"], cooldown_s=0)
    with serve(settings, store) as base:
        yield base, auth, receiver
    receiver.server.shutdown()


def _station(base: str, auth: dict, name: str) -> tuple[int, int]:
    return post_loud_station(base, auth["pub"], name=name, dataset="kz-air")


def _alert_of(store, stream: int) -> int:
    rows = store.rows("SELECT id FROM alerts WHERE datastream_id = ? AND status = 'open'",
                      [stream])
    assert len(rows) == 1, rows
    return rows[0][0]


def _readers_answer(base: str, headers: dict, alert_id: int) -> dict:
    """Every reader of alerts answers; returns the alert as GET /api/v1/alerts lists it."""
    listed = httpx.get(f"{base}/api/v1/alerts", headers=headers, params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    assert httpx.get(f"{base}/api/v1/alerts.cap", headers=headers).status_code == 200
    assert httpx.get(f"{base}/alerts", headers=headers, params={"lang": "en"}).status_code == 200
    assert httpx.get(f"{base}/alerts/map.geojson", headers=headers).status_code == 200
    assert httpx.get(f"{base}/api/v1/incidents", headers=headers).status_code == 200
    return next((a for a in listed.json()["items"] if a["id"] == alert_id), None)


def _stream(base: str, headers: dict) -> list[dict]:
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers,
                      params={"after": 0, "timeout": 1}, timeout=30) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_deleting_a_datastream_retracts_its_alerts(site, store):
    base, auth, receiver = site
    thing, stream = _station(base, auth, "Almaty")
    alert_id = _alert_of(store, stream)
    assert receiver.wait_for("opened", alert_id), "the subscriber was not told of the alert"

    gone = httpx.delete(f"{base}{STA}/Datastreams({stream})", headers=auth["pub"])
    assert gone.status_code == 204, gone.text

    row = store.dicts("SELECT status, resolution, datastream_id, dataset_id, note, detail,"
                      " resolved_by FROM alerts WHERE id = ?", [alert_id])[0]
    assert (row["status"], row["resolution"], row["datastream_id"]) == \
        ("resolved", "retracted", None)
    assert row["dataset_id"] == store.scalar("SELECT id FROM datasets WHERE slug = 'kz-air'")
    assert row["note"] == f"Datastream {stream} was deleted"
    assert json.loads(row["detail"])["deleted_datastream_id"] == stream
    assert row["resolved_by"] == store.scalar("SELECT id FROM users WHERE username = 'pub'")
    assert store.scalar("SELECT count(*) FROM alerts WHERE datastream_id = ?", [stream]) == 0

    shown = _readers_answer(base, auth["watcher"], alert_id)
    assert shown["status"] == "resolved" and shown["resolution"] == "retracted"
    listed = httpx.get(f"{base}/alerts", headers=auth["watcher"],
                       params={"lang": "en", "status": "all"}).text
    html = listed[listed.index(f'id="alert-{alert_id}"'):]
    assert "withdrawn: its data changed or were deleted" in html[:html.index("</tr>")]
    assert shown["datastream_id"] is None and shown["note"] == row["note"]
    events = _stream(base, auth["watcher"])
    assert [e["type"] for e in events if e["alert"]["id"] == alert_id] == \
        ["alert.opened", "alert.retracted"]
    told = receiver.wait_for("retracted", alert_id)
    assert told and told["alert"]["note"] == row["note"]
    # the dataset's rule still holds: an outsider sees none of it
    assert _readers_answer(base, auth["outsider"], alert_id) is None
    assert not [e for e in _stream(base, auth["outsider"]) if e["alert"]["id"] == alert_id]
    assert httpx.get(f"{base}/api/v1/alerts/{alert_id}",
                     headers=auth["outsider"]).status_code == 404


def test_deleting_a_thing_retracts_the_alerts_of_all_its_datastreams(site, store):
    base, auth, receiver = site
    thing, stream = _station(base, auth, "Astana")
    alert_id = _alert_of(store, stream)
    assert receiver.wait_for("opened", alert_id)
    other_thing, other_stream = _station(base, auth, "Karaganda")
    other_alert = _alert_of(store, other_stream)
    # both alerts told before the DELETE (the retraction goes only to those told)
    assert receiver.wait_for("opened", other_alert)

    assert httpx.delete(f"{base}{STA}/Things({thing})", headers=auth["pub"]).status_code == 204

    status, resolution, datastream, note = store.one(
        "SELECT status, resolution, datastream_id, note FROM alerts WHERE id = ?", [alert_id])
    assert (status, resolution, datastream) == ("resolved", "retracted", None)
    assert note == f"Station {thing} was deleted"
    assert store.scalar("SELECT count(*) FROM alert_events WHERE alert_id = ?"
                        " AND kind = 'retracted'", [alert_id]) == 1
    assert receiver.wait_for("retracted", alert_id), "the subscriber was not told"
    # the station's row is gone, its withdrawn alert is still listed under its name
    shown = _readers_answer(base, auth["watcher"], alert_id)
    assert shown["resolution"] == "retracted" and shown["station"]["name"] == "Astana"
    assert [e["type"] for e in _stream(base, auth["watcher"]) if e["alert"]["id"] == alert_id] \
        == ["alert.opened", "alert.retracted"]
    # the other station's alert is untouched, and every reader still answers
    assert store.one("SELECT status, datastream_id FROM alerts WHERE id = ?",
                     [other_alert]) == ("open", other_stream)
    assert _readers_answer(base, auth["watcher"], other_alert)["status"] == "open"
    _stream(base, auth["watcher"])
    # a repeated DELETE is a 404 and writes no second event
    assert httpx.delete(f"{base}{STA}/Things({thing})", headers=auth["pub"]).status_code == 404
    assert store.scalar("SELECT count(*) FROM alert_events WHERE alert_id = ?"
                        " AND kind = 'retracted'", [alert_id]) == 1
