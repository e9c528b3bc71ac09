"""Accounts, passwords, tokens and sessions through the real app."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ecobridge.errors import Conflict, InvalidInput
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.sessions import CSRF_HEADER, SESSION_COOKIE

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(store):
    create_organisation(store, slug="hydromet-kz", name="Kazhydromet", country="KAZ")
    accounts.create_user(store, username="alice", password=PASSWORD)
    accounts.set_membership(store, user="alice", org="hydromet-kz", role="admin")
    return "alice"


def test_password_stored_as_argon2_and_verified(store, alice):
    digest = store.scalar("SELECT password_hash FROM users WHERE username = 'alice'")
    assert digest.startswith("$argon2id$")
    assert accounts.verify_password(store, "alice", PASSWORD) is not None
    assert accounts.verify_password(store, "alice", PASSWORD + "x") is None
    assert accounts.verify_password(store, "nobody", PASSWORD) is None


def test_bad_usernames_passwords_and_duplicates_are_refused(store, alice):
    with pytest.raises(InvalidInput):
        accounts.create_user(store, username="Bad Name", password=PASSWORD)
    with pytest.raises(InvalidInput):
        accounts.create_user(store, username="bob", password="short")
    with pytest.raises(Conflict):
        accounts.create_user(store, username="alice", password=PASSWORD)
    with pytest.raises(InvalidInput):
        accounts.set_membership(store, user="alice", org="hydromet-kz", role="owner")


def test_no_clear_password_or_token_in_the_database_file(settings, store, client, alice):
    issued = tokens.create_token(store, user="alice", name="t")
    login = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.cookies[SESSION_COOKIE]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued['token']}"}
                      ).json()["username"] == "alice"
    store.checkpoint()
    raw = settings.database_path.read_bytes()
    wal = settings.database_path.with_name(settings.database_path.name + ".wal")
    raw += wal.read_bytes() if wal.exists() else b""
    for secret in (PASSWORD, issued["token"], issued["token"].split("_", 2)[2], cookie):
        assert secret.encode() not in raw
    assert tokens.sha256(issued["token"]).encode() in raw  # the hash is what is kept


def test_token_works_then_fails_at_once_when_revoked(store, client, alice):
    issued = client.post("/api/v1/tokens", json={"name": "ci", "days": 5},
                         headers=_bearer(store)).json()
    auth = {"Authorization": f"Bearer {issued['token']}"}
    me = client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200 and me.json()["via"] == "token"
    listed = client.get("/api/v1/tokens", headers=auth).json()
    assert all("token" not in t and "sha256" not in t for t in listed)
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=auth).status_code == 204
    again = client.get("/api/v1/me", headers=auth)
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in again.json()["detail"]


def test_expired_token_is_401_not_anonymous(store, client, alice):
    issued = tokens.create_token(store, user="alice",
                                 expires_at=datetime.now(UTC) - timedelta(seconds=1))
    for path in ("/api/v1/me", "/api/v1/audit", "/api/v1/datasets/some-dataset/policy"):
        response = client.get(path, headers={"Authorization": f"Bearer {issued['token']}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer eb_0000_xyz", "Basic abc",
                                    "Bearer "])
def test_unknown_or_malformed_credentials_are_401(client, alice, header):
    assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401


def test_tampered_token_with_a_real_prefix_is_401(store, client, alice):
    token = tokens.create_token(store, user="alice")["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}
                      ).status_code == 401


def test_disabled_user_token_fails_at_once(store, client, alice):
    auth = _bearer(store)
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    accounts.set_disabled(store, "alice", True)
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_session_cookie_flags_and_csrf_on_writes(client, alice):
    login = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    csrf = login.json()["csrf_token"]
    assert client.get("/api/v1/me").json()["via"] == "session"
    # a cookie-authenticated write without the CSRF token is refused...
    refused = client.post("/api/v1/tokens", json={"name": "x"})
    assert refused.status_code == 403
    wrong = client.post("/api/v1/tokens", json={"name": "x"}, headers={CSRF_HEADER: "nope"})
    assert wrong.status_code == 403
    # ...and accepted with it
    ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={CSRF_HEADER: csrf})
    assert ok.status_code == 201
    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/me").json()["authenticated"] is False


def test_revoked_session_cookie_is_401_on_the_api(client, store, alice):
    login = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    cookie = login.cookies[SESSION_COOKIE]
    client.post("/api/v1/auth/logout", headers={CSRF_HEADER: login.json()["csrf_token"]})
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/v1/me").status_code == 401


def test_bearer_writes_need_no_csrf(client, store, alice):
    assert client.post("/api/v1/tokens", json={"name": "y"}, headers=_bearer(store)
                       ).status_code == 201


def test_login_throttled_per_username_with_retry_after(client, alice):
    for _ in range(5):
        bad = client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"})
        assert bad.status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert blocked.headers["content-type"].startswith("application/problem+json")


def test_login_throttled_per_address_across_usernames(client, alice):
    for n in range(5):
        client.post("/api/v1/auth/login", json={"username": f"guess{n}", "password": "wrong"})
    blocked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429


def test_web_login_form_needs_its_csrf_cookie(client, alice):
    page = client.get("/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    forged = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                         "csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies
    # the forged post replaced the CSRF cookie: fetch the form again
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    ok = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                     "csrf_token": token, "next": "//evil.example/"},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert SESSION_COOKIE in ok.cookies
    signed_in = client.get("/login")
    assert "alice" in signed_in.text
    csrf = signed_in.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303


def test_web_login_throttled(client, alice):
    for _ in range(6):
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        last = client.post("/login", data={"username": "alice", "password": "nope",
                                           "csrf_token": token})
    assert last.status_code == 429 and "Retry-After" in last.headers


def test_org_admin_manages_members_others_cannot(store, client, alice):
    auth = _bearer(store)
    added = client.post("/api/v1/organisations/hydromet-kz/users", headers=auth,
                        json={"username": "bob", "role": "analyst", "password": PASSWORD})
    assert added.status_code == 201
    members = client.get("/api/v1/organisations/hydromet-kz/users", headers=auth).json()
    assert {(m["username"], m["role"]) for m in members} == {("alice", "admin"),
                                                             ("bob", "analyst")}
    bob = {"Authorization": f"Bearer {tokens.create_token(store, user='bob')['token']}"}
    assert client.get("/api/v1/organisations/hydromet-kz/users", headers=bob
                      ).status_code == 403
    assert client.get("/api/v1/organisations/hydromet-kz/users").status_code == 401


def _bearer(store, user: str = "alice") -> dict:
    return {"Authorization": f"Bearer {tokens.create_token(store, user=user)['token']}"}


def test_a_role_change_reaches_a_token_at_once(store, client, alice):
    """Token principals are cached; changing the user's memberships clears the cache."""
    auth = _bearer(store)
    assert client.get("/api/v1/me", headers=auth).json()["organisations"][0]["role"] == "admin"
    accounts.set_membership(store, user="alice", org="hydromet-kz", role="viewer")
    assert client.get("/api/v1/me", headers=auth).json()["organisations"][0]["role"] == "viewer"
    accounts.remove_membership(store, user="alice", org="hydromet-kz")
    assert client.get("/api/v1/me", headers=auth).json()["organisations"] == []


def test_a_cached_token_is_not_served_past_its_expiry(store, client, alice):
    issued = tokens.create_token(store, user="alice",
                                 expires_at=datetime.now(UTC) + timedelta(seconds=1.5))
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    time.sleep(1.6)
    assert client.get("/api/v1/me", headers=auth).status_code == 401
