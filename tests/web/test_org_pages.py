"""My organisation and upload pages: members see their own organisation's datasets, requests,
audit log and tokens and nothing of others'; admins change policies and grants and decide
requests; a token's secret is shown once and stored hashed; every change needs the CSRF token;
an upload shows its ingest report with the rejected rows; the pages in Chinese and Russian."""

from __future__ import annotations

import re
import time

import pytest
from alerts.helpers import world
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, requests
from ecobridge.governance.accounts import principal_for
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.tokens import sha256
from web.i18n_check import assert_translated

PASSWORD = "a long password 123"
HASH = accounts.hash_password(PASSWORD)  # one argon2 hash for every test user: faster setup
# two good rows and one whose time cannot be read
CSV = (b"station,variable,time,value,unit\n"
       b"BJ1,pm25,2025-01-01T00:00:00Z,12.5,ug/m3\n"
       b"BJ1,pm25,not a time,13.0,ug/m3\n"
       b"BJ1,pm25,2025-01-01T02:00:00Z,14.5,ug/m3\n")


@pytest.fixture
def site(settings, store, tmp_path):
    world(store, tmp_path, slug="open-air")  # organisation "agency" (CHN)
    create_organisation(store, slug="bureau", name="Bureau", country="KAZ")
    create_dataset(store, slug="bureau-air", owner="bureau", domain="air", title="Bureau air",
                   licence="CC-BY-4.0", visibility="private")
    for name, org, role in (("boss", "agency", "admin"), ("pub", "agency", "publisher"),
                            ("view", "agency", "viewer"), ("kboss", "bureau", "admin")):
        accounts.create_user(store, username=name, password_hash=HASH)
        accounts.set_membership(store, user=name, org=org, role=role)
    with TestClient(create_app(settings, store=store)) as client:
        yield client


def sign_in(client, username: str) -> str:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def section(html: str, anchor: str) -> str:
    """The part of the page from the heading `anchor` to the next h2."""
    start = html.index(f'id="{anchor}"')
    end = html.find("<h2", start + 1)
    return html[start:end if end > 0 else None]


def test_pages_ask_anonymous_visitors_to_sign_in(site):
    client = site
    for path in ("/org", "/upload", "/upload/runs/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert client.post("/org/tokens", follow_redirects=False).status_code == 303


def test_members_see_their_own_organisation_only(site, store):
    client = site
    sign_in(client, "view")
    html = client.get("/org").text
    assert 'id="dataset-open-air"' in html and "bureau-air" not in html
    assert "Policy as JSON" in html and "Change the policy" not in html  # not an admin
    assert 'id="audit"' not in html  # audit log: admins only
    sign_in(client, "kboss")
    html = client.get("/org").text
    assert 'id="dataset-bureau-air"' in html and "open-air" not in html
    assert "Change the policy" in html


def test_admin_changes_policy_and_grants_others_cannot(site, store):
    client = site
    csrf = sign_in(client, "pub")
    response = client.post("/org/datasets/open-air/policy", data={
        "csrf_token": csrf, "visibility": "private"})
    assert response.status_code == 403 and "The change was refused" in response.text
    assert store.scalar("SELECT visibility FROM datasets WHERE slug = 'open-air'") == "public"
    csrf = sign_in(client, "kboss")  # an admin, of another organisation
    assert client.post("/org/datasets/open-air/policy", data={
        "csrf_token": csrf, "visibility": "private"}).status_code == 403
    csrf = sign_in(client, "boss")
    response = client.post("/org/datasets/open-air/policy", follow_redirects=False, data={
        "csrf_token": csrf, "visibility": "partners", "embargo_until": "2031-05-01",
        "sensitive": "on", "generalise_km": "25"})
    assert response.status_code == 303
    row = store.one("SELECT visibility, sensitive, generalise_km, strftime(embargo_until,"
                    " '%Y-%m-%d') FROM datasets WHERE slug = 'open-air'")
    assert row == ("partners", True, 25.0, "2031-05-01")
    # a bad value names its field, and nothing changes
    response = client.post("/org/datasets/open-air/policy", data={
        "csrf_token": csrf, "visibility": "partners", "embargo_until": "someday"})
    assert response.status_code == 422 and "embargo_until" in response.text
    # grants: to an organisation, to a country; revoke
    for grantee in ("bureau", "KAZ"):
        assert client.post("/org/datasets/open-air/grants", follow_redirects=False, data={
            "csrf_token": csrf, "grantee": grantee, "ends_at": "2030-01-01"}).status_code == 303
    grants = store.rows("SELECT id, grantee_org_id IS NOT NULL, grantee_country FROM grants"
                        " ORDER BY id")
    assert [(g[1], g[2]) for g in grants] == [(True, None), (False, "KAZ")]
    html = client.get("/org").text
    assert f'id="grant-{grants[0][0]}"' in html and f'id="grant-{grants[1][0]}"' in html
    response = client.post(f"/org/datasets/open-air/grants/{grants[0][0]}/revoke",
                           data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert store.scalar("SELECT count(*) FROM grants") == 1


def test_access_requests_are_decided_by_the_owners_admins(site, store):
    client = site
    kboss = principal_for(store, "kboss")
    first = requests.create_request(store, kboss, "open-air", purpose="dust study")["id"]
    sign_in(client, "pub")  # a publisher does not decide, nor see others' requests
    assert 'id="request-' not in client.get("/org").text
    csrf = sign_in(client, "boss")
    html = section(client.get("/org").text, "requests")
    assert f'id="request-{first}"' in html and "dust study" in html
    response = client.post(f"/org/requests/{first}/approve", follow_redirects=False,
                           data={"csrf_token": csrf, "ends_at": "2030-06-30", "note": "ok"})
    assert response.status_code == 303
    assert store.one("SELECT status FROM access_requests WHERE id = ?", [first]) == ("approved",)
    assert store.scalar("SELECT count(*) FROM grants WHERE access_request_id = ?", [first]) == 1
    # a decided request cannot be decided again
    assert client.post(f"/org/requests/{first}/decline",
                       data={"csrf_token": csrf}).status_code == 409
    # the requester sees the decision among its own requests
    sign_in(client, "kboss")
    own = section(client.get("/org").text, "requests")
    assert "open-air" in own and "Approved" in own


def test_audit_log_shows_reads_by_others_of_own_data_only(site, store):
    client = site
    kboss_csrf = sign_in(client, "kboss")
    assert kboss_csrf
    assert client.get("/api/v1/things", params={"dataset": "open-air"}).status_code == 200
    logged = store.scalar("SELECT count(*) FROM audit_events WHERE username = 'kboss'")
    assert logged
    sign_in(client, "boss")
    audit = section(client.get("/org").text, "audit")
    assert audit.count("<tr>") - 1 >= 1 and "kboss" in audit and "bureau" in audit
    sign_in(client, "kboss")  # reads of agency's data are not in bureau's log
    html = client.get("/org").text
    assert "kboss" not in section(html, "audit")


def test_token_secret_is_shown_once_and_stored_hashed(site, store):
    client = site
    csrf = sign_in(client, "pub")
    response = client.post("/org/tokens", data={"csrf_token": csrf, "name": "laptop",
                                                "days": "30"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="new-token"[^>]*>(eb_[^<]+)</code>', response.text).group(1)
    stored = store.dicts("SELECT * FROM api_tokens WHERE name = 'laptop'")
    assert len(stored) == 1 and stored[0]["sha256"] == sha256(secret)
    assert not any(secret in str(v) for v in stored[0].values())
    # the next view lists it without its secret
    html = client.get("/org").text
    assert secret not in html and f'id="token-{stored[0]["id"]}"' in html
    # the token works, until it is revoked from the page
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=bearer).json()["username"] == "pub"
    response = client.post(f"/org/tokens/{stored[0]['id']}/revoke",
                           data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    # another user cannot revoke (or see) it
    other = client.post("/api/v1/tokens", headers={
        "Authorization": f"Bearer {_api_token(store, 'view')}"}, json={"name": "x"}).json()
    csrf = sign_in(client, "pub")
    assert client.post(f"/org/tokens/{other['id']}/revoke",
                       data={"csrf_token": csrf}).status_code == 404
    assert other["prefix"] not in client.get("/org").text


def _api_token(store, username: str) -> str:
    from ecobridge.governance import tokens

    return tokens.create_token(store, user=username)["token"]


def test_every_change_needs_the_csrf_token(site, store):
    client = site
    sign_in(client, "boss")
    before = store.scalar("SELECT count(*) FROM api_tokens")
    for path, data in (("/org/tokens", {"name": "x"}),
                       ("/org/datasets/open-air/policy", {"visibility": "private"}),
                       ("/org/datasets/open-air/grants", {"grantee": "bureau"})):
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
    assert store.scalar("SELECT count(*) FROM api_tokens") == before
    assert store.scalar("SELECT visibility FROM datasets WHERE slug = 'open-air'") == "public"
    assert store.scalar("SELECT count(*) FROM grants") == 0


def _wait_report(client, location: str) -> str:
    for _ in range(300):
        fragment = client.get(location, headers={"HX-Request": "true"}).text
        if "hx-trigger" not in fragment:
            return fragment
        time.sleep(0.1)
    raise AssertionError("the ingest job did not finish")


def test_upload_shows_counts_and_the_rejected_row(site, store):
    client = site
    csrf = sign_in(client, "pub")
    form = client.get("/upload").text
    assert '<option value="open-air"' in form and "bureau-air" not in form
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air"},
                           files={"file": ("obs.csv", CSV, "text/csv")},
                           follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/upload/runs/[0-9a-f]{24}", location)
    fragment = _wait_report(client, location)
    assert 'id="run-report"' in fragment and "<html" not in fragment
    html = client.get(location).text
    counts = dict(re.findall(r'data-count="(\w+)"[^>]*>([^<]*)<', html))
    assert (counts["rows_in"], counts["rows_accepted"], counts["rows_rejected"]) == \
        ("3", "2", "1")
    stored = store.one("SELECT rows_in, rows_accepted, rows_rejected FROM ingest_runs"
                       " ORDER BY id DESC LIMIT 1")
    assert stored == (3, 2, 1)
    reject = re.search(r'<tr class="reject">.*?</tr>', html, re.S).group(0)
    quarantined = store.one("SELECT row_number, field, reason FROM quarantine"
                            " WHERE run_id = (SELECT max(id) FROM ingest_runs)")
    assert "obs.csv" in reject
    assert f'data-field="row" translate="no">{quarantined[0]}<' in reject
    assert f'data-field="field" translate="no">{quarantined[1]}<' in reject
    assert quarantined[2] in reject and "time" == quarantined[1]
    # a finished run is also found by its run id (CLI runs included)
    run_id = store.scalar("SELECT max(id) FROM ingest_runs")
    by_run = client.get(f"/upload/runs/{run_id}").text
    assert dict(re.findall(r'data-count="(\w+)"[^>]*>([^<]*)<', by_run)) == counts
    assert re.search(r'<tr class="reject">.*?</tr>', by_run, re.S).group(0) == reject
    # the run is the uploader's organisation's business only
    sign_in(client, "kboss")
    assert client.get(location).status_code == 404
    assert client.get(f"/upload/runs/{run_id}").status_code == 404


def test_upload_refused_for_viewers_and_other_organisations(site, store):
    client = site
    csrf = sign_in(client, "view")
    assert "<select name=\"dataset\"" not in client.get("/upload").text
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air"},
                           files={"file": ("obs.csv", CSV, "text/csv")})
    assert response.status_code == 403 and "The upload was refused" in response.text
    csrf = sign_in(client, "kboss")
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air"},
                           files={"file": ("obs.csv", CSV, "text/csv")})
    assert response.status_code == 403
    assert store.scalar("SELECT count(*) FROM ingest_jobs") == 0
    # a mapping that is not YAML names its field
    csrf = sign_in(client, "pub")
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air",
                                            "mapping": "columns: [unclosed"},
                           files={"file": ("obs.csv", CSV, "text/csv")})
    assert response.status_code == 422 and "mapping" in response.text


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_org_and_upload_pages_are_translated(site, store, lang):
    client = site
    requests.create_request(store, principal_for(store, "kboss"), "open-air", purpose="study")
    csrf = sign_in(client, "kboss")
    client.get("/api/v1/things", params={"dataset": "open-air"})  # an audit row for boss
    csrf = sign_in(client, "boss")
    client.post("/org/datasets/open-air/grants", data={"csrf_token": csrf, "grantee": "KAZ"})
    created = client.post("/org/tokens", params={"lang": lang},
                          data={"csrf_token": csrf, "name": "laptop"})
    assert_translated(created.text, f"/org with a new token in {lang}")
    for path in ("/org", "/upload"):
        response = client.get(path, params={"lang": lang})
        assert response.status_code == 200 and f'<html lang="{lang}">' in response.text
        assert_translated(response.text, f"{path} in {lang}")
    html = client.get("/org", params={"lang": lang}).text
    assert 'id="request-' in html and 'id="audit"' in html and 'id="token-' in html
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air"},
                           files={"file": ("obs.csv", CSV, "text/csv")}, follow_redirects=False)
    _wait_report(client, response.headers["location"])
    report = client.get(response.headers["location"], params={"lang": lang}).text
    assert 'class="reject"' in report
    assert_translated(report, f"the ingest report in {lang}")


def test_a_file_that_cannot_be_loaded_is_reported_as_failed(site, store):
    client = site
    csrf = sign_in(client, "pub")
    response = client.post("/upload", data={"csrf_token": csrf, "dataset": "open-air"},
                           files={"file": ("notes.txt", b"just some words\n", "text/plain")},
                           follow_redirects=False)
    assert response.status_code == 303
    fragment = _wait_report(client, response.headers["location"])
    assert 'data-status="failed"' in fragment and 'role="alert"' in fragment
    error = store.scalar("SELECT error FROM ingest_jobs")
    assert error and error.split(":")[0] in fragment
