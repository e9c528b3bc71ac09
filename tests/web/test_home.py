"""The home page and the map endpoints: what is shared by country and domain, open alerts on
visible data only, nothing hidden on the page or the map, sensitive sites generalised, and a
valid, cacheable base map."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime

import pytest
from api.data import SENSITIVE_POINT, build  # tests/ is on sys.path
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.biodiversity import service as bio
from ecobridge.governance import accounts, tokens
from web.alert_rows import insert_alert
from web.i18n_check import assert_translated

CAMERA = (131.3001, 43.4409)  # a camera-trap deployment of the sensitive dataset


def _area(store, dataset_id: int, code: str, name: str, kind: str = "protected_area") -> int:
    with store.transaction() as cur:
        return cur.execute(
            "INSERT INTO areas (dataset_id, code, kind, name, country, geom)"
            " VALUES (?, ?, ?, ?, 'KAZ', ST_GeomFromText(?)) RETURNING id",
            [dataset_id, code, kind, json.dumps({"en": name}),
             "POLYGON((76 43, 77.5 43, 77.5 44, 76 44, 76 43))"]).fetchone()[0]


@pytest.fixture
def site(settings, store):
    world = build(store)
    bio.add_deployments(store, dataset="ru-tigers", rows=[{
        "deployment_id": "CAM-DEP-1", "location_name": "Ridge camera", "longitude": CAMERA[0],
        "latitude": CAMERA[1], "deployment_start": datetime(2024, 1, 1, tzinfo=UTC),
        "deployment_end": datetime(2024, 3, 1, tzinfo=UTC), "country": "RUS"}])
    # a station that declares its own country, unlike the others
    store.execute("UPDATE things SET properties = ? WHERE id = ?",
                  [json.dumps({"code": "AST-1", "country": "chn"}), world.things["astana"]])
    world.alerts = {
        "almaty": insert_alert(store, world.datasets["kz-air"], world.things["almaty"], "severe"),
        "old": insert_alert(store, world.datasets["kz-air"], world.things["astana"], "extreme",
                            status="resolved"),
        "secret": insert_alert(store, world.datasets["kz-secret"], world.things["secret"],
                               "extreme"),
        "embargo": insert_alert(store, world.datasets["ru-embargo"], world.things["embargo"],
                                "minor"),
    }
    world.areas = {"park": _area(store, world.datasets["kz-air"], "PARK-1", "Ile-Alatau park"),
                   "hidden": _area(store, world.datasets["kz-secret"], "HIDDEN-A", "HIDDEN park"),
                   "border": _area(store, world.datasets["kz-air"], "KAZ-B", "Border",
                                   kind="admin_boundary")}
    with TestClient(create_app(settings, store=store)) as client:
        yield client, world


def _token(store, org_id: int, name: str = "kz-viewer") -> dict:
    accounts.create_user(store, username=name)
    accounts.set_membership(store, user=name, org=org_id, role="viewer")
    return {"Authorization": f"Bearer {tokens.create_token(store, user=name)['token']}"}


def _country_row(html: str, code: str) -> str:
    match = re.search(rf'<tr data-country="{code}">.*?</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def _cell(row: str, attr: str, name: str) -> str:
    return re.search(rf'{attr}="{name}"[^>]*>([^<]*)<', row).group(1).strip()


def _sites(client, headers=None, **params) -> dict:
    response = client.get("/api/v1/map/sites", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def _by_name(collection: dict) -> dict:
    return {f["properties"]["name"]: f for f in collection["features"]}


# -- the page ----------------------------------------------------------------------------------
def test_home_shows_what_is_shared_by_country_and_domain(site):
    client, _ = site
    html = client.get("/", params={"lang": "en"}).text
    kaz, rus = _country_row(html, "KAZ"), _country_row(html, "RUS")
    assert "Kazakhstan" in kaz and "Russia" in rus
    assert (_cell(kaz, "data-domain", "air"), _cell(kaz, "data-domain", "wildlife")) == ("1", "")
    assert (_cell(rus, "data-domain", "air"), _cell(rus, "data-domain", "wildlife")) == ("", "1")
    assert (_cell(kaz, "data-count", "datasets"), _cell(kaz, "data-count", "sites")) == ("1", "2")
    # the sensitive dataset's station and its camera trap
    assert (_cell(rus, "data-count", "datasets"), _cell(rus, "data-count", "sites")) == ("1", "2")
    header = html[html.index('class="country-table"'):html.index("</thead>")]
    assert re.findall(r'data-domain="(\w+)"', header) == ["air", "wildlife"]
    totals = html[html.index('class="totals"'):html.index("</dl>")]
    assert (_cell(totals, "data-count", "countries"), _cell(totals, "data-count", "deployments"),
            _cell(totals, "data-count", "things")) == ("2", "1", "3")


def test_home_shows_the_map_with_its_note(site):
    client, _ = site
    html = client.get("/", params={"lang": "en"}).text
    assert 'data-map-sites="/api/v1/map/sites?lang=en"' in html
    assert 'id="home-map"' in html and "/static/js/map.js" in html
    # MapLibre's CSP build, whose worker the page's head starts (partials/map.html)
    assert "/static/vendor/maplibre-gl/maplibre-gl-csp.js" in html
    assert "/static/vendor/maplibre-gl/maplibre-gl-csp-worker.js" in html
    assert "Borders are shown de facto (Natural Earth)." in html
    messages = re.search(r'id="ecobridge-map-messages">(.*?)</script>', html, re.S).group(1)
    assert json.loads(messages)["Map.Title"] == "Map"
    # the base map part (basemap.js) runs after MapLibre and before map.js, which uses it
    scripts = re.findall(r'<script src="([^"]+)" defer>', html)
    order = [scripts.index(s) for s in ("/static/vendor/maplibre-gl/maplibre-gl-csp.js",
                                        "/static/js/basemap.js", "/static/js/map.js")]
    assert order == sorted(order)
    for script in ("/static/js/basemap.js", "/static/js/map.js"):
        assert client.get(script).status_code == 200


def test_nothing_private_is_shown_to_anonymous_visitors(site):
    client, world = site
    html = client.get("/").text
    assert "HIDDEN" not in html and "kz-secret" not in html and "ru-embargo" not in html
    for alert in ("secret", "embargo"):
        assert f'data-alert="{world.alerts[alert]}"' not in html
    assert str(SENSITIVE_POINT[0]) not in html


def test_open_alerts_are_those_of_visible_datasets(site, store):
    client, world = site
    html = client.get("/", params={"lang": "en"}).text
    attention = html[html.index('class="home-alerts"'):html.index('class="by-country"')]
    assert _cell(html, "data-count", "open-alerts") == "1"
    assert re.findall(r'data-severity-count="(\w+)"[^>]*>(\d+)<', attention) == [("severe", "1")]
    assert re.findall(r'data-alert="(\d+)"', attention) == [str(world.alerts["almaty"])]
    assert f'href="/stations/{world.things["almaty"]}"' in attention
    assert "Almaty" in attention and "187.5" in attention and "PM2.5" in attention
    # the resolved alert is not open
    assert f'data-alert="{world.alerts["old"]}"' not in html
    # a member of the owner sees the private dataset's alert too, most severe first
    member = client.get("/", params={"lang": "en"},
                        headers=_token(store, world.org_ids["kz"])).text
    attention = member[member.index('class="home-alerts"'):member.index('class="by-country"')]
    assert _cell(member, "data-count", "open-alerts") == "2"
    assert re.findall(r'data-alert="(\d+)"', attention) == [
        str(world.alerts["secret"]), str(world.alerts["almaty"])]
    # the home page's read of another organisation's alert is audited
    assert store.scalar("SELECT count(*) FROM audit_events WHERE kind = 'alerts'"
                        " AND dataset_id = ?", [world.datasets["kz-air"]]) >= 1


def test_no_open_alerts_says_so(site, store):
    client, _ = site
    store.execute("UPDATE alerts SET status = 'resolved'")
    html = client.get("/", params={"lang": "en"}).text
    assert "No open alerts on the data you may see." in html
    assert _cell(html, "data-count", "open-alerts") == "0"


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_home_is_translated(site, store, lang):
    client, world = site
    for headers in ({}, _token(store, world.org_ids["kz"], f"viewer-{lang}")):
        response = client.get("/", params={"lang": lang}, headers=headers)
        assert response.status_code == 200
        assert f'<html lang="{lang}">' in response.text
        assert_translated(response.text, f"/ in {lang}")
    zh_country = {"zh": "哈萨克斯坦", "ru": "Казахстан"}[lang]
    assert zh_country in _country_row(response.text, "KAZ")


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_empty_home_is_translated(settings, store, lang):
    with TestClient(create_app(settings, store=store)) as client:
        html = client.get("/", params={"lang": lang}).text
    assert_translated(html, f"empty / in {lang}")
    assert "home-map" not in html


# -- the map endpoints -------------------------------------------------------------------------
def test_sites_generalise_sensitive_positions_and_hide_private_ones(site, store):
    client, world = site
    body = client.get("/api/v1/map/sites").text
    assert "HIDDEN" not in body and "ru-embargo" not in body and "kz-secret" not in body
    assert str(SENSITIVE_POINT[0]) not in body and str(CAMERA[0]) not in body
    sites = _by_name(json.loads(body))
    assert set(sites) == {"Almaty", "Astana", "Camera 7", "Ridge camera"}
    tiger, camera = sites["Camera 7"], sites["Ridge camera"]
    assert tiger["properties"]["generalised"] is True
    assert camera["properties"] | {"id": 0} == {
        "id": 0, "kind": "deployment", "name": "Ridge camera", "dataset": "ru-tigers",
        "domain": "wildlife", "country": "RUS", "generalised": True}
    for feature, precise in ((tiger, SENSITIVE_POINT), (camera, CAMERA)):
        x, y = feature["geometry"]["coordinates"]
        assert (x, y) != pytest.approx(precise, abs=1e-4)
        assert abs(x - precise[0]) < 0.2 and abs(y - precise[1]) < 0.1  # same 10 km cell
    almaty = sites["Almaty"]["properties"]
    assert "generalised" not in almaty and almaty["kind"] == "station"
    assert almaty["id"] == world.things["almaty"] and almaty["alert"] == "severe"
    assert sites["Almaty"]["geometry"]["coordinates"] == [76.95, 43.25]
    # the country a station declares, else the owner's (no boundary holds these points)
    assert (almaty["country"], sites["Astana"]["properties"]["country"]) == ("KAZ", "CHN")
    # the secret station's open alert does not show through a visible site
    assert "alert" not in sites["Astana"]["properties"]
    assert json.loads(body)["datasets"]["kz-air"]["title"] == "Almaty air quality"
    # anonymous reads of another organisation's sites are audited
    assert store.scalar("SELECT count(DISTINCT dataset_id) FROM audit_events"
                        " WHERE kind = 'sites'") == 2


def test_sites_for_owners_and_filters(site, store):
    client, world = site
    owner = _by_name(_sites(client, _token(store, world.org_ids["ru"], "ru-viewer")))
    assert owner["Camera 7"]["geometry"]["coordinates"] == list(SENSITIVE_POINT)
    assert "generalised" not in owner["Camera 7"]["properties"]
    member = _by_name(_sites(client, _token(store, world.org_ids["kz"])))
    assert member["HIDDEN station"]["properties"]["alert"] == "extreme"
    assert set(_by_name(_sites(client, dataset="kz-air"))) == {"Almaty", "Astana"}
    assert set(_by_name(_sites(client, domain="wildlife"))) == {"Camera 7", "Ridge camera"}
    ru = _sites(client, lang="ru")
    assert ru["datasets"]["kz-air"]["title"] == "Качество воздуха Алматы"
    for hidden in ("kz-secret", str(world.datasets["kz-secret"]), "no-such"):
        response = client.get("/api/v1/map/sites", params={"dataset": hidden})
        assert response.status_code == 404 and "HIDDEN" not in response.text
    assert client.get("/api/v1/map/sites", params={"domain": "A B"}).status_code == 422


def test_sites_country_comes_from_a_visible_boundary(site, store):
    client, world = site
    store.execute("UPDATE areas SET country = 'UZB' WHERE id = ?", [world.areas["border"]])
    sites = _by_name(_sites(client))
    assert sites["Almaty"]["properties"]["country"] == "UZB"   # inside the boundary polygon
    assert sites["Astana"]["properties"]["country"] == "CHN"   # declared wins


def test_areas_of_visible_datasets(site):
    client, world = site
    response = client.get("/api/v1/map/areas")
    assert response.status_code == 200 and "HIDDEN" not in response.text
    features = response.json()["features"]
    assert [f["properties"]["id"] for f in features] == [world.areas["park"]]
    park = features[0]
    assert park["properties"]["name"] == "Ile-Alatau park"
    assert park["geometry"]["type"] == "Polygon"
    borders = client.get("/api/v1/map/areas", params={"kind": "admin_boundary"}).json()
    assert [f["properties"]["code"] for f in borders["features"]] == ["KAZ-B"]
    one = client.get("/api/v1/map/areas", params={"area": world.areas["hidden"]}).json()
    assert one["features"] == []
    assert client.get("/api/v1/map/areas", params={"kind": "lake"}).status_code == 422


def test_basemap_is_valid_cached_geojson(site):
    client, _ = site
    response = client.get("/api/v1/map/basemap", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert "public" in response.headers["cache-control"]
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 177
    assert body["borders"] == "de facto" and "Natural Earth" in body["attribution"]
    codes = {f["properties"]["code"] for f in body["features"]}
    assert {"CHN", "RUS", "KAZ", "KGZ", "IND", "PAK"} <= codes
    for feature in body["features"]:
        geometry = feature["geometry"]
        polygons = ([geometry["coordinates"]] if geometry["type"] == "Polygon"
                    else geometry["coordinates"])
        assert geometry["type"] in ("Polygon", "MultiPolygon") and polygons
        for ring in (r for p in polygons for r in p):
            assert len(ring) >= 4 and ring[0] == ring[-1], feature["properties"]
            assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    etag = response.headers["etag"]
    again = client.get("/api/v1/map/basemap", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    packed = client.get("/api/v1/map/basemap", headers={"Accept-Encoding": "gzip"})
    assert packed.json() == body  # the client undoes Content-Encoding: gzip
    raw = client.get("/api/v1/map/basemap", headers={"Accept-Encoding": "gzip"}).headers
    assert raw["content-encoding"] == "gzip"
    assert len(gzip.compress(response.content)) < 100_000


def test_map_endpoints_are_in_the_openapi(site):
    client, _ = site
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/map/basemap", "/api/v1/map/sites", "/api/v1/map/areas"):
        assert paths[path]["get"]["tags"] == ["map"]
        assert "application/geo+json" in paths[path]["get"]["responses"]["200"]["content"]
