"""Alerts, my organisation and upload in a real browser over the demo: acknowledge an alert,
upload a file and read its ingest report, create and revoke an API token; each page passes the
accessibility check."""

from __future__ import annotations

import re

import httpx

from browser.conftest import check_accessibility, sign_in

PUBLISHER = "demo-chn-air-agency.publisher"
DATASET = "demo-air-chn"


def test_alerts_page_for_visitors_is_accessible(page, demo_site):
    for lang in ("en", "zh"):
        page.goto(f"{demo_site.url}/alerts?lang={lang}")
        page.wait_for_selector("#alerts-map[data-ready='true']")
        assert page.locator("table.alerts tbody tr").count() > 0
        assert page.locator("table.alerts form").count() == 0  # no triage for visitors
        check_accessibility(page)


def test_publisher_acknowledges_an_alert(page, demo_site):
    sign_in(page, demo_site.url, PUBLISHER)
    page.goto(f"{demo_site.url}/alerts?status=open&dataset={DATASET}&lang=en")
    page.wait_for_selector("#alerts-map[data-ready='true']")
    button = page.locator("table.alerts tbody tr").get_by_role(
        "button", name=re.compile(r"^Acknowledge alert \d+$")).first
    row_id = button.locator("xpath=ancestor::tr").get_attribute("id")
    alert_id = int(row_id.removeprefix("alert-"))
    assert demo_site.store.scalar("SELECT status FROM alerts WHERE id = ?", [alert_id]) == "open"
    button.click()
    page.wait_for_selector(f"#{row_id} td.alert-status[data-status='acknowledged']")
    assert page.locator("#alerts-status").inner_text() == "Alert updated."
    assert page.locator(f"#{row_id}").get_by_role(
        "button", name=f"Acknowledge alert {alert_id}").count() == 0
    assert demo_site.store.scalar("SELECT status FROM alerts WHERE id = ?",
                                  [alert_id]) == "acknowledged"
    check_accessibility(page)


def test_upload_a_file_and_read_its_ingest_report(page, demo_site, tmp_path):
    code = demo_site.store.scalar(
        "SELECT t.code FROM things t JOIN datasets d ON d.id = t.dataset_id WHERE d.slug = ?"
        " ORDER BY t.code LIMIT 1", [DATASET])
    csv = tmp_path / "late-readings.csv"
    csv.write_text("station,variable,time,value,unit\n"
                   f"{code},pm25,2026-01-05T00:00:00Z,41.5,ug/m3\n"
                   f"{code},pm25,2026-01-05T01:00:00Z,not a number,ug/m3\n"
                   f"{code},pm25,2026-01-05T02:00:00Z,44.0,ug/m3\n"
                   f"{code},pm25,yesterday,45.0,ug/m3\n", encoding="utf-8")
    sign_in(page, demo_site.url, PUBLISHER)
    page.goto(f"{demo_site.url}/upload?lang=en")
    check_accessibility(page)
    page.get_by_label("Dataset").select_option(DATASET)
    page.locator("input[name=file]").set_input_files(str(csv))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/upload/runs/[0-9a-f]{24}$"))
    page.wait_for_selector("#run-report.status-done")
    counts = {name: page.locator(f"[data-count='{name}']").inner_text()
              for name in ("rows_in", "rows_accepted", "rows_rejected")}
    stored = demo_site.store.one(
        "SELECT rows_in, rows_accepted, rows_rejected FROM ingest_runs WHERE file_name LIKE ?"
        " ORDER BY id DESC LIMIT 1", ["%late-readings.csv"])
    assert (counts["rows_in"], counts["rows_accepted"], counts["rows_rejected"]) == \
        tuple(str(n) for n in stored) == ("4", "2", "2")
    rejects = page.locator("table.rejects tbody tr")
    assert rejects.count() == 2
    fields = {rejects.nth(i).locator("[data-field='field']").inner_text(): rejects.nth(i)
              .locator("[data-field='row']").inner_text() for i in range(2)}
    assert fields == {"value": "2", "time": "4"}
    assert "late-readings.csv" in rejects.first.inner_text()
    check_accessibility(page)


def test_create_and_revoke_an_api_token(page, demo_site):
    sign_in(page, demo_site.url, "demo-kaz-air-agency.admin")
    page.goto(f"{demo_site.url}/org?lang=en")
    check_accessibility(page)
    page.get_by_label("Token name").fill("browser test")
    page.get_by_role("button", name="Create a token").click()
    secret = page.locator("#new-token").inner_text().strip()
    assert secret.startswith("eb_")
    me = httpx.get(f"{demo_site.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "demo-kaz-air-agency.admin"
    page.goto(f"{demo_site.url}/org?lang=en")
    assert secret not in page.content()  # shown once
    token_id = demo_site.store.scalar(
        "SELECT id FROM api_tokens WHERE prefix = ?", [secret.split("_")[1]])
    row = page.locator(f"#token-{token_id}")
    row.get_by_role("button", name=f"Revoke token {token_id}").click()
    page.wait_for_load_state()
    assert page.locator(f"#token-{token_id} .token-status").inner_text() == "Revoked"
    assert httpx.get(f"{demo_site.url}/api/v1/me",
                     headers={"Authorization": f"Bearer {secret}"}).status_code == 401
