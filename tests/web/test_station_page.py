"""The station page: facts, datastreams with latest values, limit lines of the station's own
country and of WHO, the latest AQI, downloads, the JSON twin, 404 for hidden stations, and no
English left in Chinese or Russian."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from api.data import add_datastream, add_observations, add_thing, hourly  # tests/ on sys.path
from fastapi.testclient import TestClient

from ecobridge.air import standards
from ecobridge.air.aqi import aqi, standard_for
from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.governance.organisations import create_organisation
from web.i18n_check import assert_translated

T0 = datetime(2025, 3, 1, tzinfo=UTC)
PM25 = [30.0 + (i % 7) for i in range(30)]
NO2 = [20.0 + (i % 5) for i in range(30)]


@pytest.fixture
def site(settings, store):
    ids = {}
    cn = create_organisation(store, slug="cn-mee", name={"en": "China air agency",
                                                         "zh": "中国空气机构"}, country="CHN")
    ru = create_organisation(store, slug="ru-hydromet", name="Roshydromet", country="RUS")
    for slug, org, visibility, sensitive in (("cn-air", cn, "public", False),
                                             ("cn-hidden", cn, "private", False),
                                             ("ru-air", ru, "public", False),
                                             ("ru-secret-site", ru, "public", True)):
        ids[slug] = create_dataset(store, slug=slug, owner=org, domain="air",
                                   title={"en": f"Air {slug}", "zh": "空气", "ru": "Воздух"},
                                   licence="CC-BY-4.0", visibility=visibility,
                                   sensitive=sensitive, generalise_km=10.0)
    ids["beijing"] = add_thing(store, ids["cn-air"], "BJ-1", 116.417, 39.929, "Beijing Dongsi")
    ids["hidden"] = add_thing(store, ids["cn-hidden"], "BJ-X", 116.3, 39.9, "Secret HIDDEN")
    ids["moscow"] = add_thing(store, ids["ru-air"], "MSK-1", 37.572, 55.734, "Moscow")
    ids["sensitive"] = add_thing(store, ids["ru-secret-site"], "S-1", 131.3713, 43.2071,
                                 "Sensitive site")
    ids["pm25"] = add_datastream(store, ids["beijing"], "pm25")
    ids["no2"] = add_datastream(store, ids["beijing"], "no2")
    add_observations(store, ids["pm25"], hourly(30, T0), PM25)
    add_observations(store, ids["no2"], hourly(30, T0), NO2)
    ids["hidden_stream"] = add_datastream(store, ids["hidden"], "pm25")
    add_observations(store, ids["hidden_stream"], hourly(5, T0), [77.7] * 5)
    ids["moscow_pm10"] = add_datastream(store, ids["moscow"], "pm10")
    add_observations(store, ids["moscow_pm10"], hourly(5, T0), [20.0, 21.0, 22.0, 23.0, 24.0])
    with TestClient(create_app(settings, store=store)) as client:
        yield client, ids


def _config(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="station-config">(.*?)</script>',
                      page, re.S)
    assert match, "no chart configuration on the page"
    return json.loads(html_lib.unescape(match.group(1)))


def _limit_items(page: str, stream_id: int) -> list[tuple[str, float, str]]:
    block = re.search(rf'data-limits-for="{stream_id}".*?</ul>', page, re.S)
    assert block, f"no limit lines for datastream {stream_id}"
    return [(kind, float(value), avg) for kind, value, avg in re.findall(
        r'data-limit="(\w+)" data-value="([\d.]+)" data-averaging="(\w+)"', block.group(0))]


def test_station_page_shows_facts_latest_values_and_downloads(site):
    client, ids = site
    r = client.get(f"/stations/{ids['beijing']}", params={"lang": "en"})
    assert r.status_code == 200
    page = r.text
    assert "Beijing Dongsi" in page and "BJ-1" in page
    assert "China air agency" in page and 'href="/datasets/cn-air"' in page
    assert "39.929°\u00a0N, 116.417°\u00a0E" in page  # with its hemispheres (web/positions.py)
    row = re.search(rf'<tr id="stream-{ids["pm25"]}".*?</tr>', page, re.S).group(0)
    assert f"{PM25[-1]:.1f}" in row and "µg/m³" in row
    assert "2025-03-02 05:00 UTC" in row  # the 30th hour
    csv_link = f'/api/v1/datastreams/{ids["pm25"]}/observations?f=csv'
    parquet_link = f'/api/v1/datastreams/{ids["pm25"]}/observations?f=parquet'
    assert csv_link in row and parquet_link in row
    csv = client.get(csv_link)
    assert csv.status_code == 200 and csv.text.count("\n") == len(PM25) + 1
    assert client.get(parquet_link).content.startswith(b"PAR1")
    assert "Secret" not in page and "HIDDEN" not in page


def test_limit_lines_of_the_stations_country_and_who(site):
    client, ids = site
    page = client.get(f"/stations/{ids['beijing']}", params={"lang": "en"}).text
    day = (T0 + timedelta(hours=29)).date()
    # China sets no 1-h PM2.5 limit: the 24-h one is drawn, with the WHO 24-h guideline
    national = standards.limit_for("CHN", "pm25", "24h", day)
    who = standards.who_guideline("pm25", "24h")
    assert _limit_items(page, ids["pm25"]) == [("national", national.value_canonical, "24h"),
                                               ("who", who.value_canonical, "24h")]
    assert national.document in page
    assert "this limit applies to the 24-hour mean" in page
    # NO2 has a 1-h national limit in China, which matches hourly values; WHO only a 24-h one
    no2_national = standards.limit_for("CHN", "no2", "1h", day)
    assert _limit_items(page, ids["no2"])[0] == ("national", no2_national.value_canonical, "1h")
    # the chart draws the same lines
    config = _config(page)
    stream = next(s for s in config["streams"] if s["id"] == ids["pm25"])
    assert [(line["kind"], line["value"]) for line in stream["limits"]] == \
        [("national", national.value_canonical), ("who", who.value_canonical)]
    assert stream["series"] == f"/api/v1/datastreams/{ids['pm25']}/series"
    # daily means are set against the 24-hour limits
    no2 = next(s for s in config["streams"] if s["id"] == ids["no2"])
    assert [(line["kind"], line["value"], line["averaging"]) for line in no2["daily_limits"]] == [
        ("national", standards.limit_for("CHN", "no2", "24h", day).value_canonical, "24h"),
        ("who", standards.who_guideline("no2", "24h").value_canonical, "24h")]
    # a Russian station gets Russia's limit (maximum single concentration), not China's
    moscow = client.get(f"/stations/{ids['moscow']}", params={"lang": "en"}).text
    pdk = standards.limit_for("RUS", "pm10", "20min", T0.date())
    assert _limit_items(moscow, ids["moscow_pm10"])[0] == \
        ("national", pdk.value_canonical, "20min")
    assert "GB 3095" not in moscow


def test_latest_aqi_is_computed_from_the_last_hours(site):
    client, ids = site
    twin = client.get(f"/stations/{ids['beijing']}", params={"f": "json"}).json()
    end = T0 + timedelta(hours=29)
    expected = aqi(standard_for("CHN", end.date()),
                   {"pm25_24h": sum(PM25[-24:]) / 24, "no2_24h": sum(NO2[-24:]) / 24})
    assert twin["aqi"]["value"] == expected.aqi
    page = client.get(f"/stations/{ids['beijing']}").text
    assert f"data-aqi>{expected.aqi}<" in page
    # no AQI standard for Russia: none is shown
    assert client.get(f"/stations/{ids['moscow']}", params={"f": "json"}).json()["aqi"] is None


def test_json_twin_is_linked(site):
    client, ids = site
    r = client.get(f"/stations/{ids['beijing']}", params={"lang": "en"})
    href = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">',
                     r.text).group(1)
    assert 'rel="alternate"' in r.headers["link"]
    twin = client.get(html_lib.unescape(href))
    assert twin.status_code == 200
    body = twin.json()
    assert body["thing"]["code"] == "BJ-1" and body["country"] == "CHN"
    assert {s["code"] for s in body["datastreams"]} == {"pm25", "no2"}


def test_hidden_and_unknown_stations_are_404(site):
    client, ids = site
    for ref in (ids["hidden"], 999_999):
        r = client.get(f"/stations/{ref}", params={"lang": "en"})
        assert r.status_code == 404
        assert "Station not found" in r.text and "HIDDEN" not in r.text
        assert client.get(f"/stations/{ref}", params={"f": "json"}).status_code == 404


def test_sensitive_station_shows_only_the_generalised_position(site):
    client, ids = site
    page = client.get(f"/stations/{ids['sensitive']}", params={"lang": "en"}).text
    assert "131.371" not in page and "43.207" not in page
    assert "generalised" in page and "10 km grid cell" in page


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_page_is_translated(site, lang):
    client, ids = site
    for ref in (ids["beijing"], ids["moscow"], ids["sensitive"], ids["hidden"]):
        r = client.get(f"/stations/{ref}", params={"lang": lang})
        assert f'<html lang="{lang}">' in r.text
        assert_translated(r.text, f"/stations/{ref} in {lang}")
    config = _config(client.get(f"/stations/{ids['beijing']}", params={"lang": lang}).text)
    assert config["lang"] == lang and config["text"]["values"] != "Values"
