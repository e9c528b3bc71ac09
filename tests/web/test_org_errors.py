"""Refused forms of "my organisation" and upload, through a real server.

A browser form that is refused (a role that may not make the change, a missing or bad value, a
missing CSRF token, a path that names nothing) gets the page again with the refusal's status and
a message in the page's language (en, zh, ru); a client that asks for JSON gets problem+json,
as from the API. Nothing is changed by a refused form.
"""

from __future__ import annotations

from contextlib import closing

import httpx
import pytest
from serving import serve

from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts
from ecobridge.governance.organisations import create_organisation
from ecobridge.web.render import translate
from web.i18n_check import assert_translated

PASSWORD = "a long password 123"
PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PROGRAM = {"Accept": "application/json"}
ROLE = ("Your role does not allow this change. Ask an admin of the organisation that owns the "
        "dataset.")


@pytest.fixture
def base(settings, store):
    create_organisation(store, slug="agency", name="Agency", country="CHN")
    create_dataset(store, slug="open-air", owner="agency", domain="air", title="Open air",
                   licence="CC-BY-4.0")
    hashed = accounts.hash_password(PASSWORD)
    for name, role in (("boss", "admin"), ("view", "viewer")):
        accounts.create_user(store, username=name, password_hash=hashed)
        accounts.set_membership(store, user=name, org="agency", role=role)
    with serve(settings, store) as url:
        yield url


def _session(base: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, follow_redirects=False)
    signed = client.post("/api/v1/auth/login", json={"username": username,
                                                     "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return client, signed.json()["csrf_token"]


def _page(response: httpx.Response, status: int, lang: str, message: str) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert translate(lang, message) in html, message
    assert f'id="refusal" data-status="{status}"' in html
    if lang != "en":
        assert_translated(html, f"refused form in {lang}")
    return html


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_a_role_that_may_not_change_the_policy_gets_the_page_in_its_language(base, store,
                                                                              lang):
    client, csrf = _session(base, "view")
    with closing(client):
        refused = client.post("/org/datasets/open-air/policy", params={"lang": lang},
                              headers=PAGE, data={"csrf_token": csrf, "visibility": "private"})
        _page(refused, 403, lang, ROLE)
        assert translate(lang, "The change was refused:") in refused.text
    assert store.scalar("SELECT visibility FROM datasets WHERE slug = 'open-air'") == "public"


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_invalid_and_missing_values_name_the_field_in_the_readers_language(base, store, lang):
    client, csrf = _session(base, "boss")
    with closing(client):
        # a required field left out: FastAPI's JSON 422 before
        missing = client.post("/org/datasets/open-air/policy", params={"lang": lang},
                              headers=PAGE, data={"csrf_token": csrf})
        _page(missing, 422, lang, "Choose who may see the dataset from the list.")
        bad_date = client.post("/org/datasets/open-air/policy", params={"lang": lang},
                               headers=PAGE, data={"csrf_token": csrf, "visibility": "private",
                                                   "embargo_until": "someday"})
        _page(bad_date, 422, lang, "Enter the end of the embargo as a date (YYYY-MM-DD).")
        no_grantee = client.post("/org/datasets/open-air/grants", params={"lang": lang},
                                 headers=PAGE, data={"csrf_token": csrf})
        _page(no_grantee, 422, lang,
              "Enter an organisation's short name or a country's three-letter code.")
        for days in ("soon", "99999"):
            token = client.post("/org/tokens", params={"lang": lang}, headers=PAGE,
                                data={"csrf_token": csrf, "name": "laptop", "days": days})
            _page(token, 422, lang, "Enter how many days the token lives, as a number.")
        upload = client.post("/upload", params={"lang": lang}, headers=PAGE,
                             data={"csrf_token": csrf, "dataset": "open-air"})
        _page(upload, 422, lang, "Choose a file to upload.")
    assert store.scalar("SELECT visibility FROM datasets WHERE slug = 'open-air'") == "public"
    assert store.scalar("SELECT count(*) FROM api_tokens") == 0


def test_a_form_without_the_csrf_token_is_the_page_again_and_changes_nothing(base, store):
    client, _csrf = _session(base, "boss")
    with closing(client):
        refused = client.post("/org/tokens", params={"lang": "zh"}, headers=PAGE,
                              data={"name": "laptop", "days": "30"})
        html = _page(refused, 403, "zh",
                     "This form has expired. Reload the page and try again.")
        assert 'name="csrf_token" value="' in html  # the forms on it work again
        policy = client.post("/org/datasets/open-air/policy", headers=PAGE,
                             params={"lang": "en"}, data={"visibility": "private"})
        _page(policy, 403, "en", "This form has expired. Reload the page and try again.")
        program = client.post("/org/tokens", headers=PROGRAM, data={"name": "laptop"})
        assert program.status_code == 403
        assert program.headers["content-type"].startswith("application/problem+json")
    assert store.scalar("SELECT count(*) FROM api_tokens") == 0
    assert store.scalar("SELECT visibility FROM datasets WHERE slug = 'open-air'") == "public"


def test_paths_that_name_nothing_are_a_not_found_page(base):
    client, csrf = _session(base, "boss")
    with closing(client):
        for path in ("/org/datasets/Bad_Slug/policy", "/org/tokens/abc/revoke",
                     "/org/datasets/open-air/grants/99999999999999999999/revoke",
                     "/org/requests/424242/approve"):
            response = client.post(path, headers=PAGE, params={"lang": "ru"},
                                   data={"csrf_token": csrf, "visibility": "private"})
            _page(response, 404, "ru", "It is not there any more, or you may not see it.")


def test_programs_that_ask_for_json_keep_problem_json(base, store):
    client, csrf = _session(base, "view")
    with closing(client):
        refused = client.post("/org/datasets/open-air/policy", headers=PROGRAM,
                              data={"csrf_token": csrf, "visibility": "private"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["status"] == 403
    client, csrf = _session(base, "boss")
    with closing(client):
        invalid = client.post("/org/tokens", headers=PROGRAM,
                              data={"csrf_token": csrf, "name": "laptop", "days": "soon"})
        assert invalid.status_code == 422
        assert invalid.headers["content-type"].startswith("application/problem+json")
        assert "days" in invalid.json()["detail"]
    assert store.scalar("SELECT count(*) FROM api_tokens") == 0
