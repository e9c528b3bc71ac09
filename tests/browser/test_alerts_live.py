"""The alerts page follows the live feed: while the page is open in Chinese, observations posted
through SensorThings raise an alert, and its row appears at the top of the list (rendered in
the page's language), the map is redrawn, and the live region announces it politely; nothing on
the page is left in English, and the page stays accessible."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sta_station import post_station
from web.i18n_check import assert_translated

from browser.conftest import check_accessibility
from ecobridge.alerts import service as alerts
from ecobridge.governance import tokens
from ecobridge.governance.policy import SYSTEM
from ecobridge.web.render import translate

PUBLISHER = "demo-chn-air-agency.publisher"
DATASET = "demo-air-chn"
STATION = "Live test station 7"


def _hours_ago(n: float) -> str:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (now - timedelta(hours=n)).isoformat()


def _station(base: str, headers: dict) -> tuple[int, int]:
    return post_station(base, headers, name=STATION, dataset=DATASET, coordinates=[116.39, 39.91])


def test_new_alerts_appear_while_the_page_is_open(page, demo_site):
    base, store = demo_site.url, demo_site.store
    headers = {"Authorization": f"Bearer {tokens.create_token(store, user=PUBLISHER)['token']}"}
    thing, stream = _station(base, headers)
    rule = alerts.create_rule(store, SYSTEM, name="Live test rule", kind="threshold",
                              params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                              severity="severe", station=thing)
    try:
        page.goto(f"{base}/alerts?lang=zh")
        page.wait_for_selector("#alerts-map[data-ready='true']")
        page.wait_for_selector("#alerts-page[data-live='listening']")
        before = page.locator("table.alerts tbody tr").count()
        assert page.locator(f"table.alerts tbody tr:has-text('{STATION}')").count() == 0

        with page.expect_response(re.compile(r"/alerts/map\.geojson")):
            sent = httpx.post(f"{base}/sta/v1.1/CreateObservations", headers=headers, json=[{
                "Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"],
                "dataArray": [[_hours_ago(h), 180.0] for h in (5, 4, 3)]}])
            assert sent.status_code == 201, sent.text
            raised = store.rows("SELECT id FROM alerts WHERE rule_id = ? AND datastream_id = ?",
                                [rule["id"], stream])
            assert len(raised) == 1, raised
            alert_id = raised[0][0]
            row = page.locator(f"#alert-{alert_id}")
            row.wait_for()

        # at the top, in the page's language, with the station's name as data
        assert page.locator("table.alerts tbody tr").first.get_attribute("id") == \
            f"alert-{alert_id}"
        assert page.locator("table.alerts tbody tr").count() == before + 1
        assert translate("zh", "Open") in row.locator("td.alert-status").inner_text()
        assert row.locator("[translate='no']", has_text=STATION).count() == 1
        # announced politely, in Chinese, the data kept out of translation
        status = page.locator("#alerts-status")
        assert status.get_attribute("aria-live") == "polite"
        page.wait_for_function(
            "(name) => document.getElementById('alerts-status').textContent.includes(name)",
            arg=STATION)
        expected = translate("zh", "New alert: %(rule)s at %(station)s.",
                             rule="Live test rule", station=STATION)
        assert status.inner_text() == expected
        assert status.locator("span[translate='no']").count() == 2
        assert str(before + 1) in page.locator("#alerts-shown").inner_text()
        assert_translated(page.content(), "alerts page after a live alert, zh")
        check_accessibility(page)
    finally:
        alerts.delete_rule(store, SYSTEM, rule["id"])
