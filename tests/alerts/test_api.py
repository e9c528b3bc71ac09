"""The HTTP API: lists filtered by governance, triage rights, CAP 1.2, server-sent events."""

from __future__ import annotations

import json
import threading
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn

from ecobridge.alerts import service
from ecobridge.api.app import create_app
from ecobridge.governance import SYSTEM

from .helpers import ingest, series_csv, user, world
from .receiver import free_port, wait_for
from .test_webhooks import _episodes, _recent_start

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
# CAP 1.2 schema order of <alert> and <info> children (OASIS CAP-v1.2.xsd)
ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source", "scope",
               "restriction", "addresses", "code", "note", "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity",
              "certainty", "audience", "eventCode", "effective", "onset", "expires",
              "senderName", "headline", "description", "instruction", "web", "contact",
              "parameter", "resource", "area"]


@pytest.fixture
def server(store, tmp_path, settings):
    world(store, tmp_path, slug="open-air", sensitive=True)
    world(store, tmp_path, slug="closed-air", visibility="private")
    for slug in ("open-air", "closed-air"):
        service.create_rule(store, SYSTEM, name=f"above 100 {slug}", kind="threshold",
                            params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                            observed_property="pm25", dataset=slug)
    tokens = {"member": user(store, "member", "agency", "analyst"),
              "viewer": user(store, "viewer", "agency", "viewer"),
              "outsider": user(store, "outsider")}
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1",
                                        port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    assert wait_for(lambda: srv.started, timeout=30)
    yield f"http://127.0.0.1:{port}", tokens
    srv.should_exit = True
    thread.join(10)


def _as(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


def _load(store, tmp_path):
    for slug in ("open-air", "closed-air"):
        ingest(store, series_csv(tmp_path / f"{slug}.csv", {("BJ1", "pm25"): _episodes()},
                                 start=_recent_start()), dataset=slug)


def test_lists_and_triage_follow_governance(store, tmp_path, server):
    base, tokens = server
    _load(store, tmp_path)
    seen = {}
    for who in (None, "outsider", "member"):
        r = httpx.get(f"{base}/api/v1/alerts", headers=_as(tokens, who))
        assert r.status_code == 200
        seen[who] = r.json()["items"]
    assert {a["dataset"] for a in seen[None]} == {"open-air"}
    assert {a["dataset"] for a in seen["member"]} == {"open-air", "closed-air"}
    assert all(a["location_generalised"] for a in seen["outsider"])
    assert "closed-air" not in httpx.get(f"{base}/api/v1/incidents").text
    hidden = next(a["id"] for a in seen["member"] if a["dataset"] == "closed-air")
    assert httpx.get(f"{base}/api/v1/alerts/{hidden}").status_code == 404
    # a condition still going on at BJ2: an open alert to triage
    ingest(store, series_csv(tmp_path / "bj2.csv", {("BJ2", "pm25"): [30.0, 30.2] * 5 + [150.0]},
                             start=_recent_start()), dataset="open-air")
    target = next(a["id"] for a in httpx.get(f"{base}/api/v1/alerts").json()["items"]
                  if a["station"]["code"] == "BJ2")
    assert httpx.post(f"{base}/api/v1/alerts/{target}/acknowledge",
                      headers=_as(tokens, "outsider")).status_code == 403
    assert httpx.post(f"{base}/api/v1/alerts/{target}/acknowledge",
                      headers=_as(tokens, "viewer")).status_code == 403
    r = httpx.post(f"{base}/api/v1/alerts/{target}/resolve", headers=_as(tokens, "member"),
                   json={"note": "checked"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert r.json()["note"] == "checked"
    # subscriptions belong to their user
    r = httpx.post(f"{base}/api/v1/subscriptions", headers=_as(tokens, "outsider"),
                   json={"area": {"type": "Polygon", "coordinates": [[[110, 35], [120, 35],
                                                                     [120, 45], [110, 45],
                                                                     [110, 35]]]},
                         "min_severity": "moderate"})
    assert r.status_code == 201
    sub = r.json()["id"]
    mine = httpx.get(f"{base}/api/v1/alerts", params={"subscription": sub},
                     headers=_as(tokens, "outsider")).json()["items"]
    assert mine and {a["dataset"] for a in mine} == {"open-air"}
    assert httpx.get(f"{base}/api/v1/alerts", params={"subscription": sub},
                     headers=_as(tokens, "member")).status_code == 404


def test_cap_feed_follows_the_cap_1_2_structure(store, tmp_path, server):
    base, tokens = server
    _load(store, tmp_path)
    r = httpx.get(f"{base}/api/v1/alerts.cap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    alerts = feed.findall(f".//{CAP}alert")
    assert len(alerts) == 3  # one message per alert, the public dataset's only
    for alert in alerts:
        names = [child.tag.removeprefix(CAP) for child in alert]
        assert names == sorted(names, key=ALERT_ORDER.index)
        assert {"identifier", "sender", "sent", "status", "msgType", "scope", "info"} <= set(names)
        assert alert.findtext(f"{CAP}sent").endswith("+00:00")
        info = alert.find(f"{CAP}info")
        inames = [child.tag.removeprefix(CAP) for child in info]
        assert inames == sorted(inames, key=INFO_ORDER.index)
        assert info.findtext(f"{CAP}category") == "Env"
        assert info.findtext(f"{CAP}severity") in ("Minor", "Moderate", "Severe", "Extreme",
                                                   "Unknown")
        assert info.findtext(f"{CAP}urgency") in ("Immediate", "Past")
        assert info.findtext(f"{CAP}certainty") == "Observed"
        circle = info.findtext(f"{CAP}area/{CAP}circle")
        lat_lon, radius = circle.split()
        assert float(radius) > 0  # sensitive dataset: a generalised cell, not the point
    first = httpx.get(f"{base}/api/v1/alerts").json()["items"][0]["id"]
    one = httpx.get(f"{base}/api/v1/alerts/{first}/cap")
    assert one.headers["content-type"].startswith("application/cap+xml")
    assert ET.fromstring(one.content).tag == f"{CAP}alert"


def test_server_sent_events_stream_new_visible_events(store, tmp_path, server):
    base, tokens = server
    got: list[dict] = []

    def listen():
        with httpx.stream("GET", f"{base}/api/v1/alerts/stream", params={"timeout": 20},
                          timeout=30) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    if len(got) >= 6:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_for(lambda: False, timeout=1.0)
    _load(store, tmp_path)
    thread.join(25)
    assert len(got) == 6
    assert {e["alert"]["dataset"] for e in got} == {"open-air"}  # anonymous: public only
    ids = [e["event_id"] for e in got]
    assert ids == sorted(ids)
    # a reconnection with Last-Event-ID resumes after it
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", params={"timeout": 1},
                      headers={"Last-Event-ID": str(ids[2])}, timeout=10) as r:
        resumed = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [e["event_id"] for e in resumed] == ids[3:]
