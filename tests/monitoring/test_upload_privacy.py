"""An uploaded file is known by the name its user gave it, never by the server's upload folder.

Through a real server: the API upload and the web upload form record `ingest_runs.file_name`
as the file's own name, and the job, the run report (API) and the run page show that name; a
failing upload's error names the file the same way. The CLI keeps the path its user typed.
"""

from __future__ import annotations

import time
import zipfile

import httpx
import pytest
from serving import serve

from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file

from .helpers import STATIONS, csv_rows, write

NAME = "Almaty March 2025.csv"
ROWS = ["ALM1,pm25,2025-03-01T00:00:00Z,12.5,ug/m3", "ALM1,pm25,2025-03-01T01:00:00Z,13.5,ug/m3",
        "ALM1,pm25,not a time,3,ug/m3"]


@pytest.fixture
def site(settings, store, tmp_path):
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    ingest_file(store, write(tmp_path / "stations.csv", STATIONS), dataset="kz-air")
    accounts.create_user(store, username="kz-pub")
    accounts.set_membership(store, user="kz-pub", org="kz-hydromet", role="publisher")
    headers = {"Authorization": f"Bearer {tokens.create_token(store, user='kz-pub')['token']}"}
    with serve(settings, store) as base:
        yield httpx.Client(base_url=base, headers=headers, follow_redirects=False)


def _wait(client: httpx.Client, job: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/ingest-runs/{job}").json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _csv(tmp_path) -> bytes:
    return csv_rows(tmp_path / "rows.csv", ROWS).read_bytes()


def _assert_private(text: str, settings) -> None:
    assert "uploads" not in text and str(settings.home) not in text


def test_api_upload_records_and_shows_the_users_file_name(site, settings, store, tmp_path):
    accepted = site.post("/api/v1/datasets/kz-air/ingest",
                         files={"file": (NAME, _csv(tmp_path), "text/csv")})
    assert accepted.status_code == 202, accepted.text
    job = _wait(site, accepted.json()["job"])
    assert job["status"] == "done", job
    stored = store.scalar("SELECT file_name FROM ingest_runs WHERE id = ?", [job["run_id"]])
    assert stored == NAME
    assert job["report"]["file"] == NAME and job["file_name"] == NAME
    by_run = site.get(f"/api/v1/ingest-runs/{job['run_id']}")
    assert by_run.json()["file"] == NAME
    _assert_private(by_run.text, settings)
    for path in (f"/upload/runs/{job['job']}", f"/upload/runs/{job['run_id']}"):
        page = site.get(path, params={"lang": "en"})
        assert page.status_code == 200
        assert NAME in page.text
        _assert_private(page.text, settings)


def test_web_upload_form_records_the_users_file_name(site, settings, store, tmp_path):
    sent = site.post("/upload", data={"dataset": "kz-air"},
                     files={"file": (NAME, _csv(tmp_path), "text/csv")})
    assert sent.status_code == 303, sent.text
    job = _wait(site, sent.headers["location"].rsplit("/", 1)[1])
    assert job["status"] == "done", job
    assert store.scalar("SELECT file_name FROM ingest_runs WHERE id = ?",
                        [job["run_id"]]) == NAME


def test_failed_upload_names_the_file_not_the_folder(site, settings, store):
    accepted = site.post("/api/v1/datasets/kz-air/ingest",
                         files={"file": (NAME, b"", "text/csv")})
    job = _wait(site, accepted.json()["job"])
    assert job["status"] == "failed" and NAME in job["error"]
    _assert_private(job["error"], settings)
    name, message = store.one("SELECT file_name, message FROM ingest_runs"
                              " WHERE status = 'failed' ORDER BY id DESC LIMIT 1")
    assert name == NAME and NAME in message
    _assert_private(message, settings)
    page = site.get(f"/upload/runs/{job['job']}", params={"lang": "en"})
    _assert_private(page.text, settings)


def test_cli_keeps_the_path_its_user_typed(store, tmp_path):
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    path = write(tmp_path / "stations.csv", STATIONS)
    report = ingest_file(store, path, dataset="kz-air")
    assert report.file == str(path)
    assert store.scalar("SELECT file_name FROM ingest_runs WHERE id = ?",
                        [report.run_id]) == str(path)


def test_darwin_core_upload_records_the_users_file_name(site, settings, store, tmp_path):
    """Archives uploaded to the biodiversity API keep the same rule."""
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("records.csv", "occurrenceID,basisOfRecord,scientificName\n"
                                  "x1,HumanObservation,Lynx lynx\n")
    name = "Lynx survey 2025.zip"
    sent = site.post("/api/v1/datasets/kz-air/dwca",
                     files={"file": (name, archive.read_bytes(), "application/zip")})
    assert sent.status_code == 201, sent.text
    assert sent.json()["file"] == name
    stored = store.scalar("SELECT file_name FROM ingest_runs WHERE kind = 'dwca'"
                          " ORDER BY id DESC LIMIT 1")
    assert stored == name
    by_run = site.get(f"/api/v1/ingest-runs/{sent.json()['run_id']}")
    assert by_run.json()["file"] == name
    _assert_private(by_run.text, settings)
