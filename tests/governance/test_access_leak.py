"""Access requests must not confirm that a hidden dataset exists.

Every principal of the access world asks, through a real server, for every dataset and for a
slug that does not exist, through the API (POST /api/v1/access-requests) and through the
dataset page's form (POST /datasets/{slug}/access-request). A dataset the principal cannot see
in the catalogue answers exactly like the missing slug: same status, same body shape, same
detail; one it can see (including the sensitive dataset it sees only on the coarse grid) is
a request as before.
"""

from __future__ import annotations

import httpx
import pytest
from serving import serve

from ecobridge.governance import accounts
from ecobridge.governance.organisations import create_organisation

from .world import PRINCIPALS, VISIBLE, build_world

MISSING = "mxnosuchq-ds"
REQUESTERS = [p for p, spec in PRINCIPALS.items()
              if spec is not None and spec[0] is not None and p != "owner"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from ecobridge.config import Settings
    from ecobridge.store import open_store

    settings = Settings(home=tmp_path_factory.mktemp("home"), memory_limit="1GB", threads=2)
    store = open_store(settings)
    world = build_world(store)
    with serve(settings, store) as base:
        yield world, base
    store.close()


def _ask(base: str, headers: dict, slug: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/access-requests", headers=headers,
                      json={"dataset": slug, "purpose": "cross-border study"})


def _shape(response: httpx.Response, slug: str) -> tuple:
    """What a client can compare: status, media type, keys and the detail with the slug
    replaced (the detail echoes what the client sent, nothing else)."""
    body = response.json()
    return (response.status_code, response.headers["content-type"], sorted(body),
            body.get("type"), body.get("title"), body.get("detail", "").replace(slug, "SLUG"))


@pytest.mark.parametrize("principal", REQUESTERS)
def test_api_request_for_a_hidden_dataset_answers_like_a_missing_one(served, principal):
    world, base = served
    headers = world.headers(principal)
    missing = _ask(base, headers, MISSING)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    for policy, ds in world.datasets.items():
        answer = _ask(base, headers, ds["slug"])
        if principal in VISIBLE[policy]:
            assert answer.status_code == 201, (principal, policy, answer.text)
            assert answer.json()["dataset"] == ds["slug"]
        else:
            assert _shape(answer, ds["slug"]) == _shape(missing, MISSING), (principal, policy)
    hidden = [ds["id"] for policy, ds in world.datasets.items()
              if principal not in VISIBLE[policy]]
    assert world.store.scalar(
        "SELECT count(*) FROM access_requests WHERE dataset_id IN (SELECT unnest(?::BIGINT[]))"
        " AND org_id = ?", [hidden, world.orgs[PRINCIPALS[principal][0]]]) == 0


def _session(world, base: str, username: str) -> httpx.Client:
    """A browser-like client signed in through the login form (cookie and CSRF token)."""
    accounts.set_password(world.store, username, "a long test password 1")
    client = httpx.Client(base_url=base, follow_redirects=False)
    login = client.get("/login")
    token = _csrf(login.text)
    signed = client.post("/login", data={"username": username,
                                         "password": "a long test password 1",
                                         "csrf_token": token})
    assert signed.status_code == 303, signed.text
    return client


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_web_form_for_a_hidden_dataset_answers_like_a_missing_one(served):
    world, base = served
    create_organisation(world.store, slug="form-org", name="form-org", country="UZB")
    accounts.create_user(world.store, username="form-asker")
    accounts.set_membership(world.store, user="form-asker", org="form-org", role="viewer")
    client = _session(world, base, "form-asker")
    try:
        page = client.get("/datasets/mxsensitiveq-ds", params={"lang": "en"})
        assert page.status_code == 200
        token = _csrf(page.text)

        def post(slug: str) -> httpx.Response:
            return client.post(f"/datasets/{slug}/access-request",
                               data={"purpose": "tiger census", "csrf_token": token},
                               params={"lang": "en"})

        missing = post(MISSING)
        assert missing.status_code == 404
        for policy in ("private", "partners-org", "embargoed", "expired"):
            hidden = post(world.datasets[policy]["slug"])
            assert hidden.status_code == missing.status_code
            assert hidden.headers["content-type"] == missing.headers["content-type"]
            slug = world.datasets[policy]["slug"]
            assert hidden.text.replace(slug, "SLUG") == missing.text.replace(MISSING, "SLUG")
        # the sensitive dataset it sees on the grid: the request goes through
        sent = post(world.datasets["sensitive"]["slug"])
        assert sent.status_code == 303 and sent.headers["location"].endswith("?requested=1")
    finally:
        client.close()


def test_cli_principal_request_for_hidden_dataset_is_not_found(served):
    """The service itself (what the CLI calls) refuses the same way."""
    from ecobridge.errors import NotFound
    from ecobridge.governance.accounts import principal_for
    from ecobridge.governance.requests import create_request

    world, _ = served
    principal = principal_for(world.store, "user-same-country")
    with pytest.raises(NotFound) as hidden:
        create_request(world.store, principal, world.datasets["private"]["slug"],
                       purpose="x")
    with pytest.raises(NotFound) as missing:
        create_request(world.store, principal, MISSING, purpose="x")
    assert str(hidden.value.detail).replace(world.datasets["private"]["slug"], "S") == \
        str(missing.value.detail).replace(MISSING, "S")
