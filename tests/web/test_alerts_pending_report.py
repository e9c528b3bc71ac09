"""The ingest report says so when a run's rows are stored but their alerts are not yet evaluated
(alerts.overlap, the "commit" path: an evaluation that failed, or a process stopped between
the two transactions), in en, zh and ru, with the evaluation's error as English data; once the
run is evaluated (alerts.evaluate.recover, as the server does at start and with its checks) the
notice is gone, on the job's page too, whose report was stored while the run was pending.
Through a real server, with a real upload."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest
from alerts.helpers import series_csv
from alerts.test_overlap import _broken_rule
from markupsafe import escape
from serving import serve

from ecobridge.alerts import evaluate, overlap
from ecobridge.governance import accounts
from ecobridge.web.render import translate
from web.i18n_check import assert_translated

PASSWORD = "a long password 123"
SERIES = {("BJ1", "pm25"): [10.0] * 30 + [90.0] * 40}  # the WHO guideline fires on the 90s
STORED = "The rows are stored, but their alerts have not been evaluated yet."
BY_ITSELF = "The server evaluates them by itself, when it starts and at each of its regular checks."
FAILED = "The last evaluation failed with this error:"
NOTICE = re.compile(r'<div class="notice alerts-pending" id="alerts-pending">.*?</div>', re.S)


def _session(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False)
    signed = client.post("/api/v1/auth/login", json={"username": "pub", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    client.csrf = signed.json()["csrf_token"]
    return client


def _upload(client: httpx.Client, tmp_path) -> str:
    """Upload the series through the upload form; the job's report page once it is done."""
    data = series_csv(tmp_path / "pm25.csv", SERIES).read_bytes()
    response = client.post("/upload", data={"csrf_token": client.csrf, "dataset": "air"},
                           files={"file": ("pm25.csv", data, "text/csv")})
    assert response.status_code == 303, response.text[:300]
    location = response.headers["location"]
    for _ in range(600):
        if "hx-trigger" not in client.get(location, headers={"HX-Request": "true"}).text:
            return location
    raise AssertionError("the ingest job did not finish")


def _pages(client: httpx.Client, store, location: str) -> dict[tuple[str, str], str]:
    """The job's report and the run's (by its number) in each language."""
    job = location.rsplit("/", 1)[-1]
    run_id = store.scalar("SELECT run_id FROM ingest_jobs WHERE id = ?", [job])
    pages = {}
    for where in (location, f"/upload/runs/{run_id}"):
        for lang in ("en", "zh", "ru"):
            response = client.get(where, params={"lang": lang})
            assert response.status_code == 200, response.text[:300]
            assert f'<html lang="{lang}">' in response.text
            if lang != "en":
                assert_translated(response.text, f"ingest report {where} in {lang}")
            pages[where, lang] = response.text
    return pages


@pytest.fixture
def publisher(store, tmp_path):
    """The WHO guideline and a rule that breaks while its points are computed, in dataset
    "air" of organisation "agency", and a publisher of it."""
    _broken_rule(store, tmp_path)
    accounts.create_user(store, username="pub", password_hash=accounts.hash_password(PASSWORD))
    accounts.set_membership(store, user="pub", org="agency", role="publisher")


def test_a_failed_evaluation_is_shown_with_its_error_until_the_run_is_evaluated(
        settings, store, tmp_path, publisher, monkeypatch):
    monkeypatch.setattr(overlap, "MODE", "commit")
    with serve(settings, store) as base, closing(_session(base)) as client:
        location = _upload(client, tmp_path)
        pending, error = store.one("SELECT alerts_pending, alerts_error FROM ingest_runs"
                                   " WHERE kind = 'observations'")
        assert pending and error  # the rows committed, the broken rule failed beside them
        assert store.scalar("SELECT count(*) FROM observations") == 70
        for (where, lang), html in _pages(client, store, location).items():
            notices = NOTICE.findall(html)
            assert len(notices) == 1, (where, lang)
            notice = notices[0]
            for text in (STORED, BY_ITSELF, FAILED):
                assert translate(lang, text) in notice, (where, lang, text)
                if lang != "en":
                    assert text not in notice
            assert f'<span class="alerts-error" translate="no" lang="en">{escape(error)}</span>' \
                in notice
            assert '<code translate="no">ecobridge alerts evaluate</code>' in notice

        store.execute("DELETE FROM alert_rules WHERE name = 'broken'")
        evaluate.recover(store)  # (or the server's own check, if it came first)
        assert store.one("SELECT alerts_pending, alerts_error FROM ingest_runs"
                         " WHERE kind = 'observations'") == (False, None)
        assert store.scalar("SELECT count(*) FROM alerts") > 0
        for (where, lang), html in _pages(client, store, location).items():
            assert 'id="alerts-pending"' not in html, (where, lang)
            assert translate(lang, STORED) not in html
            assert 'data-count="rows_inserted" translate="no">70<' in html


def test_a_run_left_pending_without_an_error_is_evaluated_by_the_next_server(
        settings, store, tmp_path, publisher, monkeypatch):
    """As a process stopped between the rows' commit and the alerts': no error to show; a
    server starting on the store evaluates the run, and the notice is gone."""
    store.execute("DELETE FROM alert_rules WHERE name = 'broken'")
    monkeypatch.setattr(overlap, "MODE", "commit")
    monkeypatch.setattr(overlap.Overlap, "write", lambda self, cur, run_id: None)
    with serve(settings, store) as base, closing(_session(base)) as client:
        location = _upload(client, tmp_path)
        assert store.one("SELECT alerts_pending, alerts_error FROM ingest_runs"
                         " WHERE kind = 'observations'") == (True, None)
        assert store.scalar("SELECT count(*) FROM alerts") == 0
        for (where, lang), html in _pages(client, store, location).items():
            notice = NOTICE.findall(html)
            assert len(notice) == 1 and translate(lang, STORED) in notice[0], (where, lang)
            assert translate(lang, FAILED) not in html and "alerts-error" not in html
    with serve(settings, store) as base, closing(_session(base)) as client:
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE alerts_pending") == 0
        assert store.scalar("SELECT count(*) FROM alerts") > 0
        for (where, lang), html in _pages(client, store, location).items():
            assert 'id="alerts-pending"' not in html, (where, lang)
