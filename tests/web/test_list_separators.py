"""Lists in running text are set apart the language's way: Chinese enumerates with 、, Russian and
English with ", ". Here the countries of a reader whose organisations are in two countries, in
the note over the alerts page's list; the page also names those countries (ISO codes) for its
script, which keeps live alerts in the same order (tests/browser/test_alerts_live_order.py)."""

from __future__ import annotations

import re

import pytest
from api.data import build  # tests/ is on sys.path
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.governance import accounts, tokens
from ecobridge.web.catalog_pages import country_name
from web.alert_rows import insert_alert
from web.i18n_check import assert_translated

SEPARATOR = {"zh": "、", "ru": ", ", "en": ", "}


@pytest.fixture
def site(settings, store):
    world = build(store)
    insert_alert(store, world.datasets["kz-air"], world.things["almaty"])
    insert_alert(store, world.datasets["ru-tigers"], world.things["tiger"])
    accounts.create_user(store, username="two-countries", password="a long password 123")
    for org in ("kz", "ru"):
        accounts.set_membership(store, user="two-countries", org=world.org_ids[org],
                                role="viewer")
    token = tokens.create_token(store, user="two-countries")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, store=store)) as client:
        yield client, headers


@pytest.mark.parametrize("lang", ["zh", "ru", "en"])
def test_the_readers_countries_are_listed_the_languages_way(site, lang):
    client, headers = site
    html = client.get("/alerts", params={"status": "all", "lang": lang}, headers=headers).text
    assert re.search(r'data-own-countries="KAZ RUS"', html)
    note = re.search(r'<p class="muted own-first"[^>]*>(.*?)</p>', html, re.S).group(1)
    names = sorted(country_name(code, lang) for code in ("KAZ", "RUS"))
    assert SEPARATOR[lang].join(names) in note
    others = [s for s in set(SEPARATOR.values()) if s != SEPARATOR[lang]]
    assert not [s for s in others if s.join(names) in note]
    if lang != "en":
        assert_translated(html, f"/alerts in {lang}, a reader of two countries")


def test_an_anonymous_reader_has_no_countries_of_their_own(site):
    client, _ = site
    html = client.get("/alerts", params={"status": "all", "lang": "en"}).text
    assert 'data-own-countries=""' in html and "own-first" not in html
