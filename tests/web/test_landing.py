"""The landing (home) page's dataset tables: visible datasets grouped by domain with their counts,
nothing private, a JSON twin, and titles in the visitor's language. The map, the counts by
country and the open alerts are tested in test_home.py."""

from __future__ import annotations

import re

import pytest
from api.data import build  # tests/ is on sys.path (rootdir without __init__.py)
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.governance import accounts, tokens


@pytest.fixture
def site(settings, store):
    world = build(store)
    with TestClient(create_app(settings, store=store)) as client:
        yield client, world


def _row(html: str, slug: str) -> str:
    match = re.search(rf'<tr id="dataset-{slug}".*?</tr>', html, re.S)
    assert match, f"no row for {slug}"
    return match.group(0)


def _count(row: str, name: str) -> str:
    return re.search(rf'data-count="{name}"[^>]*>([^<]*)<', row).group(1)


def test_landing_page_lists_visible_datasets_with_counts(site):
    client, _ = site
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "Eco-environmental data, shared across borders" in html
    kz = _row(html, "kz-air")
    assert "Almaty air quality" in kz and "Kazhydromet" in kz and "KAZ" in kz
    assert "CC-BY-4.0" in kz and 'data-visibility="public"' in kz
    assert (_count(kz, "sites"), _count(kz, "observations")) == ("2", "55")
    assert 'href="/datasets/kz-air"' in kz and 'href="/api/v1/datasets/kz-air"' in kz
    tigers = _row(html, "ru-tigers")
    assert 'data-sensitive="true"' in tigers and _count(tigers, "sites") == "1"
    # grouped by domain, in order
    assert html.index('id="domain-air"') < html.index('id="domain-wildlife"')
    assert html.index('id="domain-air"') < html.index("dataset-kz-air") < \
        html.index('id="domain-wildlife"') < html.index("dataset-ru-tigers")


def test_landing_page_does_not_show_private_or_embargoed_datasets(site):
    client, _ = site
    html = client.get("/").text
    assert "kz-secret" not in html and "ru-embargo" not in html and "HIDDEN" not in html
    # totals count only what is shown: 50 + 5 observations, 3 stations
    totals = html[html.index('class="totals"'):html.index("</dl>")]
    assert _count(totals, "observations") == "55" and _count(totals, "things") == "3"
    assert _count(totals, "datasets") == "2"


def test_signed_in_owner_sees_their_private_dataset(site, store):
    client, world = site
    accounts.create_user(store, username="analyst")
    accounts.set_membership(store, user="analyst", org=world.org_ids["kz"], role="viewer")
    token = tokens.create_token(store, user="analyst")["token"]
    html = client.get("/", headers={"Authorization": f"Bearer {token}"}).text
    secret = _row(html, "kz-secret")
    assert 'data-visibility="private"' in secret and _count(secret, "observations") == "20"
    assert "ru-embargo" not in html


def test_json_twin_is_linked_and_matches(site):
    client, _ = site
    response = client.get("/")
    match = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">',
                      response.text)
    assert match
    assert 'rel="alternate"' in response.headers["link"]
    twin = client.get(match.group(1).replace("&amp;", "&"))
    assert twin.status_code == 200
    assert [d["slug"] for d in twin.json()["items"]] == ["kz-air", "ru-tigers"]


def test_titles_in_the_visitors_language(site):
    client, _ = site
    ru = client.get("/", params={"lang": "ru"}).text
    assert "Качество воздуха Алматы" in ru and "Казгидромет" in ru and '<html lang="ru">' in ru
    client.cookies.clear()  # ?lang= is remembered in a cookie, which outranks Accept-Language
    zh = client.get("/", headers={"Accept-Language": "zh"}).text
    assert "阿拉木图空气质量" in zh
    assert "Tiger camera traps" in zh  # no Chinese title: falls back


def test_stylesheet_is_served(site):
    client, _ = site
    response = client.get("/static/style.css")
    assert response.status_code == 200 and "text/css" in response.headers["content-type"]
    assert "/static/style.css" in client.get("/").text


def test_empty_store_says_so(settings, store):
    with TestClient(create_app(settings, store=store)) as client:
        html = client.get("/").text
    assert "No datasets yet" in html
