"""Rejection reasons in the reader's language: every reason code has a Chinese and a Russian
template with the same placeholders, every code the ingest paths use is known, the ingest
report shows the reasons translated (values as data) while the API and the stored text stay
English, rejects stored before there were codes still show, and the upload page says what each
kind of dataset takes and takes it (Camtrap DP packages and Darwin Core Archives too)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from alerts.helpers import world
from babel.messages.pofile import read_po
from dwca_meta import meta_xml
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.monitoring.reasons import PLACEHOLDER, REASONS, reason
from ecobridge.web.i18n import catalogue_files
from ecobridge.web.ingest_report import reject_reason
from web.i18n_check import assert_translated

SRC = Path(__file__).resolve().parents[2] / "src" / "ecobridge"
EXAMPLE = SRC / "demo" / "data" / "camtrap-dp-example"
PASSWORD = "a long password 123"
HASH = accounts.hash_password(PASSWORD)
# one good row, then one row for each reason an observation file can give
CSV = (b"station,variable,time,value,unit\n"
       b"BJ1,pm25,2025-01-01T00:00:00Z,12.5,ug/m3\n"
       b"BJ1,pm25,not a time,13.0,ug/m3\n"
       b"BJ1,pm25,2025-01-01T00:00:00Z,12.5,ug/m3\n"
       b"BJ1,pm25,2025-01-01T03:00:00Z,abc,ug/m3\n"
       b"BJ1,pm25,2025-01-01T04:00:00Z,1.0,zorkmid\n"
       b"ZZ9,pm25,2025-01-01T05:00:00Z,1.0,ug/m3\n"
       b",pm25,2025-01-01T06:00:00Z,1.0,ug/m3\n"
       b"BJ1,nonsense,2025-01-01T07:00:00Z,1.0,ug/m3\n"
       b"BJ1,pm25,,1.0,ug/m3\n")
OCCURRENCE = "http://rs.tdwg.org/dwc/terms/"
META = meta_xml((OCCURRENCE + "Occurrence", "occurrence.txt", [OCCURRENCE + t for t in (
    "occurrenceID", "basisOfRecord", "scientificName", "decimalLatitude",
    "decimalLongitude")]), metadata=None)
OCCURRENCES = ("occurrenceID,basisOfRecord,scientificName,decimalLatitude,decimalLongitude\n"
               "o1,HumanObservation,Panthera tigris altaica,43.1,131.2\n"
               "o2,Guesswork,Panthera pardus orientalis,43.2,131.3\n"
               "o3,HumanObservation,Panthera pardus orientalis,95.0,131.3\n")


# -- the catalogues ----------------------------------------------------------------------------
def _catalogue(lang: str) -> dict[str, str]:
    merged = {}
    for path in catalogue_files(lang):
        with path.open("rb") as fh:
            merged |= {m.id: m.string for m in read_po(fh, locale=lang) if m.id and not m.fuzzy}
    return merged


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_every_reason_has_a_translation_with_its_placeholders(lang):
    catalogue = _catalogue(lang)
    missing = [code for code, template in REASONS.items() if not catalogue.get(template)]
    assert not missing, f"reasons without a {lang} translation: {missing}"
    wrong = [code for code, template in REASONS.items()
             if sorted(PLACEHOLDER.findall(template)) !=
             sorted(PLACEHOLDER.findall(catalogue[template]))]
    assert not wrong, f"{lang} reasons that drop or add placeholders: {wrong}"


def test_the_ingest_paths_use_known_codes_and_every_code_is_used():
    """Codes named in the source (reason("x"), UnitError("x"), the tables of codes) are all in
    REASONS, and no code of REASONS is left unused."""
    used: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "reasons.py":
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:reason|Reason|UnitError)\(\s*"([a-z0-9-]+)"', text))
        used |= {s for s in re.findall(r'"([a-z0-9-]+)"', text) if s in REASONS}
    assert used - set(REASONS) == set()
    assert set(REASONS) - used == set()


def test_a_reason_keeps_its_english_text_and_is_translated_with_values_as_data():
    nested = reason("unit-for-property", property="pm25",
                    problem=reason("unit-unknown", unit="furlong"))
    assert nested.text == "unknown unit 'furlong' (pm25)"
    stored = {"reason": nested.text, "reason_code": nested.code,
              "reason_params": nested.as_dict()["params"]}
    html = str(reject_reason("zh", stored))
    assert html == ('未知单位 <span translate="no">&#39;furlong&#39;</span>'
                    '（<span translate="no">pm25</span>）')
    assert "неизвестная единица измерения" in str(reject_reason("ru", stored))
    # values are escaped, and a reject stored without a code shows its text as English data
    evil = {"reason_code": "unknown-station", "reason_params": {"station": "<b>x</b>"}}
    assert "<b>" not in str(reject_reason("ru", evil))
    old = {"reason": "not a valid time", "reason_code": None, "reason_params": None}
    assert str(reject_reason("zh", old)) == \
        '<span translate="no" lang="en">not a valid time</span>'


# -- the pages ---------------------------------------------------------------------------------
@pytest.fixture
def client(settings, store, tmp_path):
    world(store, tmp_path, slug="open-air")  # organisation "agency", stations BJ1, BJ2, MSK
    common = {"owner": "agency", "licence": "CC-BY-4.0"}
    create_dataset(store, slug="tiger-traps", domain="wildlife", title="Tiger traps",
                   keywords=["camera trap", "tiger"], **common)
    create_dataset(store, slug="bird-records", domain="biodiversity", title="Bird records",
                   **common)
    create_dataset(store, slug="parks", domain="areas", title="Parks", **common)
    accounts.create_user(store, username="pub", password_hash=HASH)
    accounts.set_membership(store, user="pub", org="agency", role="publisher")
    with TestClient(create_app(settings, store=store)) as c:
        r = c.post("/api/v1/auth/login", json={"username": "pub", "password": PASSWORD})
        c.csrf = r.json()["csrf_token"]
        yield c


def _upload(client, dataset: str, name: str, data: bytes, kind: str = "") -> str:
    response = client.post("/upload", data={"csrf_token": client.csrf, "dataset": dataset,
                                            "kind": kind},
                           files={"file": (name, data, "application/octet-stream")},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    for _ in range(300):
        if "hx-trigger" not in client.get(location, headers={"HX-Request": "true"}).text:
            return location
    raise AssertionError("the ingest job did not finish")


def _rejects(html: str) -> list[tuple[str, str]]:
    """(reason code, reason cell) of each reject row."""
    return re.findall(r'<td data-field="reason" data-reason="([^"]*)">(.*?)</td>', html, re.S)


EXPECTED = {  # a part of each reason's translation, in zh and ru
    "time-invalid": ("不是有效的时间", "недопустимое время"),
    "duplicate-observation": ("行重复（站点、变量和时间均相同）", "(та же станция, переменная"),
    "value-not-number": ("数值不是数字", "значение не является числом"),
    "unit-for-property": ("未知单位", "неизвестная единица измерения"),
    "unknown-station": ("未知站点", "неизвестная станция"),
    "missing-station": ("缺少站点", "нет станции"),
    "unknown-property": ("未知的观测要素", "неизвестный наблюдаемый параметр"),
    "time-missing": ("缺少时间", "нет времени"),
}


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_the_ingest_report_shows_each_reason_translated(client, store, lang):
    location = _upload(client, "open-air", "obs.csv", CSV)
    html = client.get(location, params={"lang": lang}).text
    assert_translated(html, f"the ingest report in {lang}")
    stored = store.rows("SELECT reason_code, reason FROM quarantine ORDER BY row_number")
    shown = _rejects(html)
    assert [code for code, _ in shown] == [code for code, _ in stored]
    assert {code for code, _ in stored} == set(EXPECTED)
    for (code, cell), (_, english) in zip(shown, stored, strict=True):
        assert EXPECTED[code][lang == "ru"] in cell
        assert english not in cell
    assert "<span translate=\"no\">&#39;ZZ9&#39;</span>" in html
    # the API and the stored text stay English; the code and its values come with them
    run_id = store.scalar("SELECT max(id) FROM ingest_runs")
    body = client.get(f"/api/v1/ingest-runs/{run_id}").json()
    assert [(r["reason_code"], r["reason"]) for r in body["rejects"]] == stored
    unit = next(r for r in body["rejects"] if r["reason_code"] == "unit-for-property")
    assert unit["reason"] == "unknown unit 'zorkmid' (pm25)"
    assert unit["reason_params"] == {"property": "pm25", "problem": {
        "code": "unit-unknown", "params": {"unit": "zorkmid"}}}


def test_rejects_stored_before_reason_codes_still_show(client, store):
    _upload(client, "open-air", "obs.csv", CSV)
    run_id = store.scalar("SELECT max(id) FROM ingest_runs")
    store.execute("UPDATE quarantine SET reason_code = NULL, reason_params = NULL"
                  " WHERE run_id = ? AND row_number = 2", [run_id])
    html = client.get(f"/upload/runs/{run_id}", params={"lang": "zh"}).text
    assert_translated(html, "an old ingest report in zh")
    cells = dict((int(n), cell) for n, cell in re.findall(
        r'data-field="row" translate="no">(\d+)<.*?data-field="reason"[^>]*>(.*?)</td>', html,
        re.S))
    assert cells[2] == '<span translate="no" lang="en">not a valid time</span>'
    assert "不是数字" in cells[4]


def _takes(html: str) -> list[str]:
    """The help paragraphs shown (not hidden) on the upload page."""
    return re.findall(r'<p data-takes="(\w+)">', html)


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_the_upload_page_says_what_each_dataset_takes(client, lang):
    for slug, takes in (("open-air", "observations"), ("tiger-traps", "camtrap"),
                        ("bird-records", "dwca"), ("parks", "areas")):
        html = client.get("/upload", params={"dataset": slug, "lang": lang}).text
        assert _takes(html) == [takes], slug
        assert f'<option value="{slug}" data-takes="{takes}" selected' in html
        assert_translated(html, f"/upload for {slug} in {lang}")
    html = client.get("/upload", params={"dataset": "tiger-traps", "lang": lang}).text
    assert "Camtrap DP" in html.split('<p data-takes="camtrap">')[1].split("</p>")[0]
    assert 'value="camtrap-dp"' in html and 'value="dwca"' in html


def _zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_a_camtrap_dp_package_is_taken_through_the_upload_page(client, store):
    package = _zip({p.name: p.read_bytes() for p in EXAMPLE.iterdir() if p.is_file()})
    location = _upload(client, "tiger-traps", "mica.zip", package)
    assert re.fullmatch(r"/upload/runs/\d+", location)
    html = client.get(location, params={"lang": "zh"}).text
    assert 'data-status="done"' in html and "Camtrap DP 数据包" in html
    assert_translated(html, "a Camtrap DP report in zh")
    deployments = store.scalar("SELECT count(*) FROM camtrap_deployments c JOIN datasets d"
                               " ON d.id = c.dataset_id WHERE d.slug = 'tiger-traps'")
    assert deployments == sum(1 for _ in (EXAMPLE / "deployments.csv").open()) - 1


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_a_darwin_core_archive_reports_its_rejects_by_file_translated(client, store, lang):
    archive = _zip({"meta.xml": META, "occurrence.txt": OCCURRENCES})
    location = _upload(client, "bird-records", "birds.zip", archive)
    html = client.get(location, params={"lang": lang}).text
    assert_translated(html, f"a Darwin Core report in {lang}")
    rows = re.findall(r'<tr class="reject"><td translate="no">([^<]*)</td>', html)
    assert rows == ["occurrence.txt", "occurrence.txt"]
    codes = [code for code, _ in _rejects(html)]
    assert codes == ["dwca-basis-of-record", "dwca-latitude"]
    words = {"zh": ("必须是以下之一", "纬度"), "ru": ("должно быть одним из", "не широта")}
    for (_, cell), word in zip(_rejects(html), words[lang], strict=True):
        assert word in cell
    assert store.scalar("SELECT count(*) FROM occurrences") == 1


def test_a_package_that_fails_its_check_is_refused_on_the_page(client, store):
    broken = _zip({"datapackage.json": '{"resources": []}'})
    response = client.post("/upload", params={"lang": "ru"},
                           data={"csrf_token": client.csrf, "dataset": "tiger-traps"},
                           files={"file": ("broken.zip", broken, "application/zip")})
    assert response.status_code == 422 and 'id="refusal"' in response.text
    assert_translated(response.text, "a refused package in ru")
    assert store.scalar("SELECT status FROM ingest_runs WHERE kind = 'camtrap-dp'") == "failed"
    assert store.scalar("SELECT count(*) FROM camtrap_deployments") == 0


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_sensorthings_rows_not_stored_show_their_reasons_translated(client, store, lang):
    _upload(client, "open-air", "obs.csv", CSV)  # makes BJ1's pm25 datastream
    ds = store.scalar("SELECT s.id FROM datastreams s JOIN things t ON t.id = s.thing_id"
                      " WHERE t.code = 'BJ1'")
    token = tokens.create_token(store, user="pub")["token"]
    rows = [[1.5, "2024-05-01T10:00:00Z", None], [2.5, "yesterday", None],
            [3.5, "2024-05-01T10:00:00Z", None], ["x", "2024-05-01T12:00:00Z", None],
            [4.5, "2024-05-01T13:00:00", None], [5.5, "2024-05-01T14:00:00Z", {"unit": "zork"}],
            [6.5, "2024-05-01T15:00:00Z"]]
    r = client.post("/sta/v1.1/CreateObservations", headers={"Authorization": f"Bearer {token}"},
                    json=[{"Datastream": {"@iot.id": ds},
                           "components": ["result", "phenomenonTime", "parameters"],
                           "dataArray": rows}])
    assert r.status_code == 201, r.text
    run_id = store.scalar("SELECT max(run_id) FROM quarantine")
    stored = store.rows("SELECT reason_code, reason FROM quarantine WHERE run_id = ?"
                        " ORDER BY row_number", [run_id])
    assert [code for code, _ in stored] == ["sta-member", "sta-same-time", "sta-member",
                                            "sta-member", "sta-member", "sta-member"]
    assert stored[0][1] == "[0].dataArray[1].phenomenonTime: 'yesterday' is not an ISO 8601 time"
    html = client.get(f"/upload/runs/{run_id}", params={"lang": lang}).text
    assert_translated(html, f"a SensorThings report in {lang}")
    cells = [cell for _, cell in _rejects(html)]
    assert len(cells) == len(stored)
    assert not any(english in cell for cell, (_, english) in zip(cells, stored, strict=True))
    words = {"zh": ("不是 ISO 8601 时间", "同一时间", "不是数字", "没有 UTC 偏移", "未知单位",
                    "个值的列表"),
             "ru": ("не время в формате ISO 8601", "на то же время", "не число",
                    "нет смещения от UTC", "неизвестная единица", "список значений")}
    for cell, word in zip(cells, words[lang], strict=True):
        assert word in cell
