"""A browser at a wrong address gets the site's own 404 page in its language; programs (and every
address under the machine interfaces) keep getting problem+json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from web.i18n_check import assert_translated

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def client(settings, store):
    with TestClient(create_app(settings, store=store)) as client:
        yield client


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_a_browser_gets_the_not_found_page(client, lang):
    r = client.get("/no/such/page", params={"lang": lang}, headers={"Accept": BROWSER})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in r.text and 'href="/datasets"' in r.text
    if lang == "en":
        assert "Not found" in r.text
    else:
        assert_translated(r.text, f"404 page in {lang}")


@pytest.mark.parametrize("path", ["/no/such/page", "/api/v1/nothing", "/ogcapi/nothing",
                                  "/sta/v1.1/Nothing", "/static/nothing.js"])
def test_programs_and_machine_interfaces_get_problem_json(client, path):
    for accept in ("application/json", "*/*"):
        r = client.get(path, headers={"Accept": accept})
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    if path != "/no/such/page":
        r = client.get(path, headers={"Accept": BROWSER})
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
