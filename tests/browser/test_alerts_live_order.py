"""Live alerts keep the list's order for a reader whose organisation has a country: the server
lists the alerts on data shared from that country first, then the rest (each newest first), and
a row arriving through the live feed goes at the top of its own block, not above everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sta_station import post_station

from browser.conftest import check_accessibility, sign_in
from ecobridge.alerts import service as alerts
from ecobridge.governance import tokens
from ecobridge.governance.policy import SYSTEM

READER = "demo-chn-air-agency.viewer"
# (publisher, dataset, station name, coordinates): one of the reader's country, one not
OTHER = ("demo-mng-air-agency.publisher", "demo-air-mng", "Live order station MNG",
         [106.92, 47.92])
OWN = ("demo-chn-air-agency.publisher", "demo-air-chn", "Live order station CHN",
       [121.47, 31.23])

ROWS = """() => [...document.querySelectorAll('table.alerts tbody tr')]
    .map(tr => ({id: Number(tr.id.replace('alert-', '')),
                 own: tr.hasAttribute('data-own-country')}))"""


def _raise(page, base: str, store, rules: list, publisher: str, dataset: str, name: str,
           coordinates: list[float]) -> list[int]:
    """A new station whose rule fires on observations posted while the page is open; returns
    the ids of the alerts raised on it, once their rows are on the page."""
    headers = {"Authorization": f"Bearer {tokens.create_token(store, user=publisher)['token']}"}
    thing, stream = post_station(base, headers, name=name, dataset=dataset,
                                 coordinates=coordinates)
    rules.append(alerts.create_rule(
        store, SYSTEM, name=f"Live order rule {dataset}", kind="threshold",
        params={"averaging": "1h", "limit": 100, "clear_hours": 2}, severity="severe",
        station=thing))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sent = httpx.post(f"{base}/sta/v1.1/CreateObservations", headers=headers, json=[{
        "Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"],
        "dataArray": [[(now - timedelta(hours=h)).isoformat(), 180.0] for h in (5, 4, 3)]}])
    assert sent.status_code == 201, sent.text
    raised = [i for (i,) in store.rows(
        "SELECT id FROM alerts WHERE datastream_id = ? AND status = 'open' ORDER BY id",
        [stream])]
    assert raised
    for alert_id in raised:
        page.locator(f"#alert-{alert_id}").wait_for()
    return raised


def test_live_alerts_join_the_top_of_their_countrys_block(page, demo_site):
    base, store = demo_site.url, demo_site.store
    sign_in(page, base, READER)
    page.goto(f"{base}/alerts?lang=en")
    page.wait_for_selector("#alerts-map[data-ready='true']")
    page.wait_for_selector("#alerts-page[data-live='listening']")
    assert page.get_attribute("#alerts-page", "data-own-countries") == "CHN"
    before = page.evaluate(ROWS)
    own_before = [r for r in before if r["own"]]
    # both blocks are on the page, so a row put above everything would break the order
    assert own_before and len(own_before) < len(before)
    rules: list = []
    try:
        other = _raise(page, base, store, rules, *OTHER)
        own = _raise(page, base, store, rules, *OWN)
        rows = page.evaluate(ROWS)
        assert len(rows) == len(before) + len(other) + len(own)
        flags = [r["own"] for r in rows]
        assert flags == sorted(flags, reverse=True), flags  # own country's block, then the rest
        ids = [r["id"] for r in rows]
        first_other = flags.index(False)
        # each new row at the top of its block, newest first, above the rows it found there
        assert ids[:len(own)] == sorted(own, reverse=True)
        assert ids[first_other:first_other + len(other)] == sorted(other, reverse=True)
        assert [i for i in ids if i not in own + other] == [r["id"] for r in before]
        note = page.locator(".own-first")
        assert note.get_attribute("data-own-count") == str(len(own_before) + len(own))
        assert "come first" in note.inner_text()
        check_accessibility(page)
    finally:
        for rule in rules:
            alerts.delete_rule(store, SYSTEM, rule["id"])
