"""Writes: only publishers (and admins) of the owning organisation ingest, through the API too."""

from __future__ import annotations

import time

import pytest

from ecobridge.governance import accounts, tokens

CSV = (b"station,variable,time,value,unit\n"
       b"mxpublicq-code,pm25,2025-01-01T00:00:00Z,12.5,ug/m3\n"
       b"mxpublicq-code,pm25,2025-01-01T01:00:00Z,13.5,ug/m3\n"
       b"mxpublicq-code,pm25,not a time,3,ug/m3\n")


def bearer(store, username: str) -> dict:
    return {"Authorization": f"Bearer {tokens.create_token(store, user=username)['token']}"}


def member(world, username: str, org: str, role: str) -> dict:
    accounts.create_user(world.store, username=username)
    accounts.set_membership(world.store, user=username, org=org, role=role)
    return bearer(world.store, username)


def upload(client, slug: str, headers: dict, content: bytes = CSV):
    return client.post(f"/api/v1/datasets/{slug}/ingest", headers=headers,
                       files={"file": ("obs.csv", content, "text/csv")})


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_ingest_by_non_publisher_is_403(world, client, role):
    headers = member(world, f"owner-{role}", "owner-org", role)
    response = upload(client, world.datasets["public"]["slug"], headers)
    assert response.status_code == 403
    assert world.store.scalar("SELECT count(*) FROM ingest_jobs") == 0


def test_ingest_by_other_organisation_publisher_is_refused(world, client):
    headers = member(world, "partner-pub", "partner-org", "publisher")
    # a dataset it can see: 403; one it cannot see: 404
    assert upload(client, world.datasets["public"]["slug"], headers).status_code == 403
    assert upload(client, world.datasets["private"]["slug"], headers).status_code == 404


def test_ingest_anonymous_is_401(world, client):
    assert upload(client, world.datasets["public"]["slug"], {}).status_code == 401


def test_publisher_upload_runs_the_cli_ingest_in_the_background(world, client):
    pytest.importorskip("ecobridge.monitoring.ingest")
    from ecobridge.monitoring.report import load_report

    headers = member(world, "owner-pub", "owner-org", "publisher")
    accepted = upload(client, world.datasets["public"]["slug"], headers)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    status = _wait(client, job, headers)
    assert status["status"] == "done", status.get("error") or status
    report = status["report"]
    assert (report["rows_in"], report["rows_accepted"], report["rows_rejected"]) == (3, 2, 1)
    assert [(r["row_number"], r["field"]) for r in report["rejects"]] == [(3, "time")]
    assert report["file"] == "obs.csv"
    # the same report as `ecobridge ingest-report`, also by run id
    cli = load_report(world.store, status["run_id"]).as_dict()
    assert {k: report[k] for k in ("rows_in", "rows_accepted", "rows_rejected",
                                   "rows_inserted")} == {
        k: cli[k] for k in ("rows_in", "rows_accepted", "rows_rejected", "rows_inserted")}
    by_run = client.get(f"/api/v1/ingest-runs/{status['run_id']}", headers=headers).json()
    assert by_run["rows_accepted"] == 2 and by_run["rejects"][0]["reason"]
    # the upload is gone once ingested; other organisations cannot read the job or the run
    assert not list((client.app.state.settings.home / "uploads").glob("*/*"))
    other = {"Authorization": f"Bearer {world.tokens['partner']}"}
    assert client.get(f"/api/v1/ingest-runs/{job}", headers=other).status_code == 404
    assert client.get(f"/api/v1/ingest-runs/{status['run_id']}", headers=other
                      ).status_code == 404


def test_failed_ingest_is_reported_not_lost(world, client):
    pytest.importorskip("ecobridge.monitoring.ingest")
    headers = member(world, "owner-pub", "owner-org", "publisher")
    accepted = upload(client, world.datasets["public"]["slug"], headers, b"\x00\x01garbage")
    status = _wait(client, accepted.json()["job"], headers)
    assert status["status"] == "failed" and status["error"]


def _wait(client, job: str, headers: dict, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/v1/ingest-runs/{job}", headers=headers)
        assert status.status_code == 200, status.text
        body = status.json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)
