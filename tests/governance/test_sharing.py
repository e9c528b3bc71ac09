"""Access requests, grants, policy changes, the audit log: through the API as users do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecobridge.governance import accounts, record_read, tokens
from ecobridge.governance.accounts import principal_for

from .world import World


def bearer(store, username: str) -> dict:
    return {"Authorization": f"Bearer {tokens.create_token(store, user=username)['token']}"}


def owner_admin(world: World) -> dict:
    accounts.create_user(world.store, username="owner-admin")
    accounts.set_membership(world.store, user="owner-admin", org="owner-org", role="admin")
    return bearer(world.store, "owner-admin")


def visible_slugs(world: World, username: str) -> set[str]:
    from ecobridge.governance import visible_datasets_sql

    pred, params = visible_datasets_sql(principal_for(world.store, username), "d")
    return {s for (s,) in world.store.rows(f"SELECT slug FROM datasets d WHERE {pred}", params)}


def precise_slugs(world: World, username: str) -> set[str]:
    from ecobridge.governance import full_access_sql

    pred, params = full_access_sql(principal_for(world.store, username), "d")
    return {s for (s,) in world.store.rows(f"SELECT slug FROM datasets d WHERE {pred}", params)}


def test_access_request_approved_creates_grant_and_opens_dataset(world, client):
    # a request names a dataset the requester sees (here on the coarse grid only): one it
    # cannot see is a 404 like a missing one (tests/governance/test_access_leak.py)
    slug = world.datasets["sensitive"]["slug"]
    other = {"Authorization": f"Bearer {world.tokens['other_country']}"}
    assert slug not in precise_slugs(world, "user-other-country")
    asked = client.post("/api/v1/access-requests", headers=other,
                        json={"dataset": slug, "purpose": "cross-border PM2.5 study"})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    admin = owner_admin(world)
    pending = client.get("/api/v1/access-requests", headers=admin,
                         params={"status": "pending"}).json()
    assert [r["id"] for r in pending] == [request_id]
    # the requester cannot approve its own request (it administers no owner of the dataset)
    assert client.post(f"/api/v1/access-requests/{request_id}/approve", headers=other,
                       json={}).status_code in (403, 404)
    assert client.get(f"/api/v1/access-requests/{request_id}", headers=other).status_code == 200
    ends = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    approved = client.post(f"/api/v1/access-requests/{request_id}/approve", headers=admin,
                           json={"ends_at": ends, "note": "ok for the study", "precise": True})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["grant_id"]
    assert slug in precise_slugs(world, "user-other-country")
    grants = client.get(f"/api/v1/datasets/{slug}/grants", headers=admin).json()
    assert any(g["organisation"] == "other-country-org" and g["ends_at"] for g in grants)
    # deciding twice is a conflict
    assert client.post(f"/api/v1/access-requests/{request_id}/decline", headers=admin,
                       json={}).status_code == 409


def test_access_request_declined_stays_hidden(world, client):
    slug = world.datasets["sensitive"]["slug"]
    other = {"Authorization": f"Bearer {world.tokens['same_country']}"}
    request_id = client.post("/api/v1/access-requests", headers=other,
                             json={"dataset": slug, "purpose": "curious"}).json()["id"]
    declined = client.post(f"/api/v1/access-requests/{request_id}/decline",
                           headers=owner_admin(world), json={"note": "not now"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert slug not in precise_slugs(world, "user-same-country")
    mine = client.get("/api/v1/access-requests", headers=other).json()
    assert [(r["id"], r["status"]) for r in mine] == [(request_id, "declined")]


def test_grant_with_end_date_passed_is_hidden(world, client):
    slug = world.datasets["partners-org"]["slug"]
    admin = owner_admin(world)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    made = client.post(f"/api/v1/datasets/{slug}/grants", headers=admin,
                       json={"organisation": "other-country-org", "ends_at": past})
    assert made.status_code == 201 and made.json()["active"] is False
    assert slug not in visible_slugs(world, "user-other-country")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    made = client.post(f"/api/v1/datasets/{slug}/grants", headers=admin,
                       json={"country": "MNG", "ends_at": future})
    assert slug in visible_slugs(world, "user-other-country")
    assert client.delete(f"/api/v1/datasets/{slug}/grants/{made.json()['id']}",
                         headers=admin).status_code == 204
    assert slug not in visible_slugs(world, "user-other-country")


def test_policy_change_by_admin_only(world, client):
    slug = world.datasets["public"]["slug"]
    viewer = {"Authorization": f"Bearer {world.tokens['owner']}"}  # a viewer of the owner
    assert client.patch(f"/api/v1/datasets/{slug}/policy", headers=viewer,
                        json={"visibility": "private"}).status_code == 403
    outsider = {"Authorization": f"Bearer {world.tokens['partner']}"}
    assert client.patch(f"/api/v1/datasets/{slug}/policy", headers=outsider,
                        json={"visibility": "private"}).status_code == 403
    # a dataset the outsider cannot see: 404, so its existence is not confirmed
    hidden = world.datasets["private"]["slug"]
    assert client.patch(f"/api/v1/datasets/{hidden}/policy", headers=outsider,
                        json={"visibility": "public"}).status_code == 404
    assert client.patch(f"/api/v1/datasets/{slug}/policy",
                        json={"visibility": "private"}).status_code == 401
    admin = owner_admin(world)
    changed = client.patch(f"/api/v1/datasets/{slug}/policy", headers=admin,
                           json={"visibility": "private", "sensitive": True,
                                 "generalise_km": 25, "licence": "CC-BY-SA-4.0",
                                 "embargo_until": "2099-01-01T00:00:00Z"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["visibility"], body["sensitive"], body["generalise_km"], body["licence"]) == (
        "private", True, 25, "CC-BY-SA-4.0")
    assert slug not in visible_slugs(world, "user-registered")
    lifted = client.patch(f"/api/v1/datasets/{slug}/policy", headers=admin,
                          json={"embargo_until": None, "visibility": "public"})
    assert lifted.json()["embargo_until"] is None
    assert slug in visible_slugs(world, "user-registered")
    bad = client.patch(f"/api/v1/datasets/{slug}/policy", headers=admin,
                       json={"visibility": "secret"})
    assert bad.status_code == 422


def test_policy_read_is_owner_only(world, client):
    slug = world.datasets["public"]["slug"]
    assert client.get(f"/api/v1/datasets/{slug}/policy").status_code == 404
    owner = {"Authorization": f"Bearer {world.tokens['owner']}"}
    assert client.get(f"/api/v1/datasets/{slug}/policy", headers=owner).json()["slug"] == slug


def test_audit_written_for_other_org_reads_not_own(world, client):
    store = world.store
    ids = [world.datasets["public"]["id"], world.datasets["partners-org"]["id"]]
    record_read(store, principal_for(store, "user-partner"), dataset_ids=ids,
                kind="observations", count=42)
    record_read(store, principal_for(store, "user-owner"), dataset_ids=ids,
                kind="observations", count=7)
    rows = store.dicts("SELECT username, dataset_id, kind, record_count FROM audit_events"
                       " ORDER BY dataset_id")
    assert rows == [{"username": "user-partner", "dataset_id": i, "kind": "observations",
                     "record_count": 42} for i in sorted(ids)]
    admin = owner_admin(world)
    log = client.get("/api/v1/audit", headers=admin).json()
    assert {(e["username"], e["dataset"], e["record_count"]) for e in log} == {
        ("user-partner", world.datasets["public"]["slug"], 42),
        ("user-partner", world.datasets["partners-org"]["slug"], 42)}
    assert log[0]["reader_organisations"] == ["partner-org"]


def test_audit_log_is_owner_admins_only(world, client):
    record_read(world.store, principal_for(world.store, "user-partner"),
                dataset_ids=[world.datasets["public"]["id"]], kind="things", count=1)
    for name in ("partner", "owner", "registered"):  # owner: a viewer, not an admin
        headers = {"Authorization": f"Bearer {world.tokens[name]}"}
        assert client.get("/api/v1/audit", headers=headers).status_code == 403
        assert client.get("/api/v1/audit", headers=headers,
                          params={"org": "owner-org"}).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    # the partner's admin reads its own (empty) log, not the owner's
    accounts.create_user(world.store, username="partner-admin")
    accounts.set_membership(world.store, user="partner-admin", org="partner-org", role="admin")
    assert client.get("/api/v1/audit", headers=bearer(world.store, "partner-admin")
                      ).json() == []
    platform = {"Authorization": f"Bearer {world.tokens['platform_admin']}"}
    assert len(client.get("/api/v1/audit", headers=platform).json()) == 1


def test_audit_write_does_not_wait_for_a_running_ingest(world):
    """A long write (an ingest) holds the store's write lock; reads must still be audited."""
    import threading

    store = world.store
    holding, release = threading.Event(), threading.Event()

    def long_writer():
        with store.transaction() as cur:
            cur.execute("UPDATE datasets SET updated_at = now() WHERE id = ?",
                        [world.datasets["private"]["id"]])
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=long_writer)
    writer.start()
    holding.wait(60)
    reader = threading.Thread(target=record_read, args=(store, principal_for(
        store, "user-partner")), kwargs={"dataset_ids": [world.datasets["public"]["id"]],
                                         "kind": "observations", "count": 3})
    reader.start()
    reader.join(30)
    finished = not reader.is_alive()
    release.set()
    writer.join()
    reader.join()
    assert finished, "record_read waited for the write lock"
    assert store.scalar("SELECT count(*) FROM audit_events") == 1
