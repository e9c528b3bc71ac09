"""The alerts page shows first what needs attention: the open alerts unless the query names a
status (the API keeps listing every status); each row names its dataset by its title in the
reader's language, and a silent station's alert names no observed property."""

from __future__ import annotations

import re

import pytest
from alerts.helpers import ingest, series_csv, world
from fastapi.testclient import TestClient

from ecobridge.alerts import service
from ecobridge.api.app import create_app
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM
from ecobridge.languages import as_json
from ecobridge.store import open_store
from web.i18n_check import assert_translated

SLUG = "attention-air"
TITLES = {"en": "Attention test air network", "zh": "关注测试空气监测网",
          "ru": "Тестовая сеть наблюдений за воздухом"}
# BJ1: an excursion that is over (a resolved alert) and one still going on (an open alert);
# BJ2: twelve hours without data, then data again (a silence alert of the PM2.5 rule, as
# the default rule of alerts/defaults.py)
SERIES = [30.0] * 5 + [150.0] + [30.0] * 10 + [150.0, 160.0]
GAPPY = [30.0] * 4 + [None] * 12 + [30.0] * 3


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("alerts-attention")
    settings = Settings(home=tmp_path / "home", memory_limit="1GB", threads=2)
    store = open_store(settings)
    world(store, tmp_path, slug=SLUG)
    store.execute("UPDATE datasets SET title = ? WHERE slug = ?", [as_json(TITLES), SLUG])
    service.create_rule(store, SYSTEM, name="above 100", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        observed_property="pm25", dataset=SLUG)
    service.create_rule(store, SYSTEM, name="quiet 6 hours", kind="silence",
                        params={"hours": 6}, severity="minor", observed_property="pm25",
                        dataset=SLUG)
    ingest(store, series_csv(tmp_path / "o.csv", {("BJ1", "pm25"): SERIES,
                                                  ("BJ2", "pm25"): GAPPY}), dataset=SLUG)
    with TestClient(create_app(settings, store=store)) as c:
        yield c
    store.close()


def by_status(client) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for alert_id, status in client.app.state.store.rows("SELECT id, status FROM alerts"):
        found.setdefault(status, set()).add(alert_id)
    return found


def rows(html: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(0)
            for m in re.finditer(r'<tr id="alert-(\d+)".*?</tr>', html, re.S)}


def selected_status(html: str) -> list[str]:
    select = re.search(r'<select name="status">(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="(\w+)" selected>', select)


def test_the_page_opens_on_the_open_alerts(client):
    statuses = by_status(client)
    assert statuses.get("open") and statuses.get("resolved"), statuses
    response = client.get("/alerts")
    assert response.status_code == 200
    assert set(rows(response.text)) == statuses["open"]
    assert selected_status(response.text) == ["open"]
    # the JSON twin names the page's filter; the API itself still lists every status
    assert 'href="/api/v1/alerts?status=open"' in response.text
    listed = client.get("/api/v1/alerts").json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert {a["id"] for a in items} == set().union(*statuses.values())


def test_any_status_is_one_choice_away(client):
    statuses = by_status(client)
    every = client.get("/alerts", params={"status": "all"})
    assert set(rows(every.text)) == set().union(*statuses.values())
    assert selected_status(every.text) == ["all"]
    assert 'href="/alerts">' in every.text  # back to the default: "Clear filters"
    # the filter form as a browser sends it, "any" choices as empty values
    form = client.get("/alerts", params={"status": "all", "severity": "", "dataset": ""})
    assert form.status_code == 200 and set(rows(form.text)) == set(rows(every.text))
    assert 'id="incidents"' in form.text
    resolved = client.get("/alerts", params={"status": "resolved"})
    assert set(rows(resolved.text)) == statuses["resolved"]
    assert selected_status(resolved.text) == ["resolved"]
    # incident links list every alert of the incident, the resolved ones too
    for incident in {i for (i,) in client.app.state.store.rows(
            "SELECT incident_id FROM alerts WHERE incident_id IS NOT NULL")}:
        assert f'href="/alerts?status=all&amp;incident={incident}"' in every.text
        members = {a for (a,) in client.app.state.store.rows(
            "SELECT id FROM alerts WHERE incident_id = ?", [incident])}
        page = client.get("/alerts", params={"status": "all", "incident": incident})
        assert set(rows(page.text)) == members


def test_the_home_page_link_lands_on_the_open_alerts(client):
    home = client.get("/", params={"lang": "en"}).text
    link = re.search(r'<a href="([^"]+)">All open alerts</a>', home)
    assert link, "no link to the open alerts on the home page"
    target = client.get(link.group(1).replace("&amp;", "&"))
    assert set(rows(target.text)) == by_status(client)["open"]


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_rows_name_the_dataset_by_its_title(client, lang):
    html = client.get("/alerts", params={"status": "all", "lang": lang}).text
    shown = rows(html)
    assert shown
    for row in shown.values():
        cell = re.search(r'<td class="dataset">(.*?)</td>', row, re.S).group(1)
        assert f'href="/datasets/{SLUG}"' in cell
        assert f">{TITLES[lang]}</a>" in cell
        assert f">{SLUG}<" not in cell
    if lang != "en":
        assert_translated(html, f"/alerts?status=all in {lang}")


def test_a_silence_alert_names_no_observed_property(client):
    store = client.app.state.store
    kinds = dict(store.rows("SELECT a.id, r.kind FROM alerts a JOIN alert_rules r"
                            " ON r.id = a.rule_id WHERE a.observed_property = 'pm25'"))
    assert "silence" in kinds.values() and "threshold" in kinds.values(), kinds
    shown = rows(client.get("/alerts", params={"status": "all"}).text)
    for alert_id, kind in kinds.items():
        # the rule's kind and the station, and for a threshold the property between them
        label = re.search(r'<div class="muted">(.*?)</div>', shown[alert_id], re.S).group(1)
        assert ("PM2.5" in label) == (kind != "silence"), (kind, label)


def test_a_row_fetched_alone_names_the_dataset_by_its_title(client):
    alert_id = min(by_status(client)["open"])
    row = client.get(f"/alerts/{alert_id}/row", params={"lang": "zh"}).text
    assert f">{TITLES['zh']}</a>" in row
