"""The alerts page: only alerts on data the reader may see, at the position it may see; triage
buttons for those the alerts service lets triage, behind the session's CSRF token; the page in
Chinese and Russian."""

from __future__ import annotations

import re

import pytest
from alerts.helpers import STATIONS, ingest, series_csv, user, world
from fastapi.testclient import TestClient

from ecobridge.alerts import service
from ecobridge.api.app import create_app
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.store import open_store
from web.i18n_check import assert_translated

PASSWORD = "a long password 123"
# An excursion that is over (an auto-resolved alert) and one still going on (an open alert).
SERIES = [30.0] * 5 + [150.0] + [30.0] * 10 + [150.0, 160.0]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One world for the module: each test that changes an alert picks its own (see TARGETS)."""
    tmp_path = tmp_path_factory.mktemp("alert-pages")
    settings = Settings(home=tmp_path / "home", memory_limit="1GB", threads=2)
    store = open_store(settings)
    world(store, tmp_path, slug="open-air", sensitive=True)
    world(store, tmp_path, slug="closed-air", visibility="private")
    for slug in ("open-air", "closed-air"):
        service.create_rule(store, SYSTEM, name=f"above 100 {slug}", kind="threshold",
                            params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                            observed_property="pm25", dataset=slug)
        ingest(store, series_csv(tmp_path / f"{slug}.csv", {("BJ1", "pm25"): SERIES,
                                                            ("BJ2", "pm25"): SERIES[:6]}),
               dataset=slug)
    for name, role in (("pub", "publisher"), ("view", "viewer")):
        user(store, name, "agency", role)
    user(store, "outsider")
    with TestClient(create_app(settings, store=store)) as client:
        # alerts open at the start, two per dataset: tests that triage each take their own
        client.open_alerts = {slug: alert_ids(store, slug, "open")
                              for slug in ("open-air", "closed-air")}
        assert all(len(ids) == 2 for ids in client.open_alerts.values())
        yield client
    store.close()


@pytest.fixture
def store(site):
    return site.app.state.store


def sign_in(client, username: str) -> str:
    """A fresh session for `username`; returns its CSRF token."""
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def alert_ids(store, dataset: str, status: str | None = None) -> list[int]:
    sql = ("SELECT a.id FROM alerts a JOIN datasets d ON d.id = a.dataset_id WHERE d.slug = ?"
           + (" AND a.status = ?" if status else "") + " ORDER BY a.id")
    return [r[0] for r in store.rows(sql, [dataset, *([status] if status else [])])]


def status_of(store, alert_id: int) -> str:
    return store.scalar("SELECT status FROM alerts WHERE id = ?", [alert_id])


def rows(html: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(0)
            for m in re.finditer(r'<tr id="alert-(\d+)".*?</tr>', html, re.S)}


def test_anonymous_sees_alerts_of_public_data_only_and_no_buttons(site, store):
    open_ids, closed_ids = alert_ids(store, "open-air"), alert_ids(store, "closed-air")
    assert open_ids and closed_ids
    client = site
    client.cookies.clear()  # anonymous
    response = client.get("/alerts", params={"status": "all"})
    assert response.status_code == 200
    shown = rows(response.text)
    assert set(shown) == set(open_ids)
    assert "closed-air" not in response.text
    assert 'action="/alerts/' not in response.text and "hx-post" not in response.text
    # feeds and the JSON twin are linked
    assert 'href="/api/v1/alerts.cap?' in response.text
    assert 'href="/api/v1/alerts/stream"' in response.text
    assert 'rel="alternate"' in response.headers["link"]


def test_map_points_are_generalised_for_outsiders(site, store):
    client = site
    client.cookies.clear()  # anonymous
    anonymous = client.get("/alerts/map.geojson")
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"].startswith("application/geo+json")
    features = anonymous.json()["features"]
    assert {f["properties"]["dataset"] for f in features} == {"open-air"}
    assert all(f["properties"].get("generalised") for f in features)
    lat, lon = STATIONS[0][2], STATIONS[0][3]  # BJ1's precise position
    bj1 = next(f for f in features if f["properties"]["name"] == "Beijing 1")
    assert bj1["geometry"]["coordinates"] != [lon, lat]
    assert f"{lon}," not in anonymous.text
    # the owner's members see the precise position and the private dataset
    sign_in(client, "view")
    mine = client.get("/alerts/map.geojson").json()["features"]
    assert {f["properties"]["dataset"] for f in mine} == {"open-air", "closed-air"}
    precise = next(f for f in mine if f["properties"]["name"] == "Beijing 1"
                   and f["properties"]["dataset"] == "open-air")
    assert precise["geometry"]["coordinates"] == pytest.approx([lon, lat])
    assert "generalised" not in precise["properties"]


def test_filters_by_status_severity_and_dataset(site, store):
    client = site
    sign_in(client, "view")
    resolved = rows(client.get("/alerts", params={"status": "resolved"}).text)
    assert resolved and all("status-resolved" in r for r in resolved.values())
    assert set(resolved) == set(alert_ids(store, "open-air", "resolved")
                                + alert_ids(store, "closed-air", "resolved"))
    closed = rows(client.get("/alerts", params={"dataset": "closed-air", "status": "all"}).text)
    assert set(closed) == set(alert_ids(store, "closed-air"))
    assert not rows(client.get("/alerts", params={"severity": "extreme"}).text)
    assert client.get("/alerts", params={"status": "bogus"}).status_code == 422


def test_incidents_are_shown_with_their_alerts(site, store):
    client = site
    client.cookies.clear()  # anonymous
    html = client.get("/alerts", params={"status": "all"}).text
    incidents = store.rows("SELECT DISTINCT a.incident_id FROM alerts a JOIN datasets d"
                           " ON d.id = a.dataset_id WHERE d.slug = 'open-air'")
    assert incidents
    for (incident,) in incidents:
        assert f'id="incident-{incident}"' in html
        members = alert_ids(store, "open-air")
        listed = rows(client.get("/alerts", params={"incident": incident, "status": "all"}).text)
        assert listed and set(listed) <= set(members)


def test_a_viewer_sees_no_buttons_and_cannot_acknowledge(site, store):
    client = site
    csrf = sign_in(client, "view")
    target = site.open_alerts["closed-air"][1]
    html = client.get("/alerts").text
    assert target in rows(html) and 'action="/alerts/' not in html
    response = client.post(f"/alerts/{target}/acknowledge", data={"csrf_token": csrf},
                           headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert status_of(store, target) == "open"


def test_a_publisher_acknowledges_and_resolves_with_htmx(site, store):
    client = site
    csrf = sign_in(client, "pub")
    target = site.open_alerts["closed-air"][0]
    row = rows(client.get("/alerts").text)[target]
    assert f'hx-post="/alerts/{target}/acknowledge"' in row and 'name="csrf_token"' in row
    response = client.post(f"/alerts/{target}/acknowledge", data={"csrf_token": csrf},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="alert-{target}"')
    assert 'data-status="acknowledged"' in response.text and "<html" not in response.text
    assert status_of(store, target) == "acknowledged"
    assert f'/alerts/{target}/acknowledge"' not in response.text  # only resolve is left
    response = client.post(f"/alerts/{target}/resolve", headers={"HX-Request": "true",
                                                                  "X-CSRF-Token": csrf})
    assert response.status_code == 200 and 'data-status="resolved"' in response.text
    assert status_of(store, target) == "resolved"
    assert client.post(f"/alerts/{target}/resolve", data={"csrf_token": csrf}).status_code == 409


def test_plain_form_post_redirects_back_to_the_list(site, store):
    client = site
    csrf = sign_in(client, "pub")
    target = site.open_alerts["open-air"][0]
    response = client.post(f"/alerts/{target}/acknowledge", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/alerts?status=acknowledged#alert-{target}"
    assert status_of(store, target) == "acknowledged"


def test_triage_needs_the_csrf_token(site, store):
    client = site
    sign_in(client, "pub")
    target = site.open_alerts["open-air"][1]
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(f"/alerts/{target}/acknowledge", data=data,
                               headers={"HX-Request": "true"})
        assert response.status_code == 403
    assert status_of(store, target) == "open"


def test_outsiders_cannot_triage_and_hidden_alerts_are_missing(site, store):
    client = site
    csrf = sign_in(client, "outsider")
    visible = site.open_alerts["open-air"][1]
    hidden = site.open_alerts["closed-air"][1]
    assert client.post(f"/alerts/{visible}/acknowledge",
                       data={"csrf_token": csrf}).status_code == 403
    assert client.post(f"/alerts/{hidden}/acknowledge",
                       data={"csrf_token": csrf}).status_code == 404
    client.cookies.clear()
    assert client.post(f"/alerts/{visible}/acknowledge").status_code == 401
    assert status_of(store, visible) == "open" and status_of(store, hidden) == "open"


@pytest.mark.parametrize("lang", ["zh", "ru"])
@pytest.mark.parametrize("who", [None, "pub"])
def test_alerts_page_is_translated(site, lang, who):
    client = site
    if who:
        sign_in(client, who)
    else:
        client.cookies.clear()
    response = client.get("/alerts", params={"lang": lang})
    assert response.status_code == 200 and f'<html lang="{lang}">' in response.text
    assert rows(response.text)
    assert_translated(response.text, f"/alerts as {who or 'anonymous'} in {lang}")


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_default_rule_names_are_translated_and_others_stay_as_named(lang):
    """The platform's own rules carry its text, so a zh or ru reader reads their names in their
    language; a rule an owner named keeps its name."""
    from ecobridge.alerts.defaults import DEFAULT_RULES
    from ecobridge.web.render import environment

    row = environment(lang).get_template("alerts/_row.html")
    for rule in [*DEFAULT_RULES, {"name": "above 100 open-air", "kind": "threshold"}]:
        alert = {"id": 1, "severity": "minor", "status": "open", "observed_property": "pm25",
                 "rule": {"id": 1, "name": rule["name"], "kind": rule["kind"]},
                 "station": {"name": "Station"}, "location_generalised": False,
                 "started_at": None, "last_seen_at": None, "ended_at": None,
                 "dataset": "open-air", "peak_value": None, "incident_id": None}
        html = row.render(alert=alert, titles={}, triage=set())
        heading = re.search(r'<th scope="row">\s*(.*?)\s*<div', html, re.S).group(1)
        if rule in DEFAULT_RULES:
            assert rule["name"] not in heading and heading.strip(), heading
        else:
            assert heading == f'<span translate="no">{rule["name"]}</span>'
