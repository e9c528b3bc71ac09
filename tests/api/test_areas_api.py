"""The areas API: list (JSON, GeoJSON, paging), one area, and what lies inside it, through the
access policy with sensitive positions generalised (in the output and in the spatial match)."""

from __future__ import annotations

import pytest

from ecobridge.governance import accounts, tokens

from .areas_data import GENERALISED_TIGER, add_areas
from .data import SENSITIVE_POINT


@pytest.fixture
def areas(store, world):
    return add_areas(store, world)


def _token(store, org_id: int, name: str) -> dict:
    accounts.create_user(store, username=name)
    accounts.set_membership(store, user=name, org=org_id, role="viewer")
    return {"Authorization": f"Bearer {tokens.create_token(store, user=name)['token']}"}


def test_list_shows_only_areas_of_visible_datasets(client, areas):
    body = client.get("/api/v1/areas").json()
    assert [a["code"] for a in body["items"]] == ["STEPPE", "TIGER-P", "TIGER-C"]
    steppe = body["items"][0]
    assert steppe["kind"] == "protected_area" and steppe["country"] == "KAZ"
    assert steppe["approximate"] is True and steppe["dataset"] == "test-areas"
    assert steppe["bbox"] == [69.0, 42.0, 78.0, 46.0]
    assert "geometry" not in steppe
    assert "HIDDEN" not in client.get("/api/v1/areas").text


def test_list_filters_names_languages_and_pages(client, areas):
    zh = client.get("/api/v1/areas", params={"lang": "zh", "kind": "protected_area",
                                             "country": "KAZ"}).json()
    assert [a["name"] for a in zh["items"]] == ["草原保护区"]
    assert [a["code"] for a in client.get("/api/v1/areas", params={"q": "степн"}).json()[
        "items"]] == ["STEPPE"]
    first = client.get("/api/v1/areas", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert [a["code"] for a in second["items"]] == ["TIGER-C"] and second["next"] is None
    assert client.get("/api/v1/areas", params={"kind": "volcano"}).status_code == 422


def test_geojson_list_and_feature(client, areas):
    collection = client.get("/api/v1/areas", params={"f": "geojson"})
    assert collection.headers["content-type"].startswith("application/geo+json")
    features = collection.json()["features"]
    assert features[0]["geometry"]["type"] == "Polygon"
    assert features[0]["properties"]["code"] == "STEPPE"
    one = client.get(f"/api/v1/areas/{areas['steppe']}", params={"f": "geojson"}).json()
    assert one["type"] == "Feature" and one["geometry"]["coordinates"][0][0] == [69.0, 42.0]
    assert one["properties"]["name"] == "Steppe reserve"


def test_hidden_area_is_missing_for_outsiders_and_found_by_its_owner(client, store, world,
                                                                      areas):
    path = f"/api/v1/areas/{areas['secret-park']}"
    assert client.get(path).status_code == 404
    assert client.get("/api/v1/areas/999999").status_code == 404
    assert client.get(path + "/contents").status_code == 404
    owner = _token(store, world.org_ids["kz"], "kz-viewer")
    assert client.get(path, headers=owner).json()["name"] == "HIDDEN park"


def test_contents_list_visible_sites_and_latest_values(client, store, world, areas):
    body = client.get(f"/api/v1/areas/{areas['steppe']}/contents").json()
    assert [s["code"] for s in body["sites"]] == ["ALA-1"]  # not Astana, not the hidden one
    assert [d["slug"] for d in body["datasets"]] == ["kz-air"]
    latest = body["latest"]
    assert [(v["thing_name"], v["property_code"], v["last_result"]) for v in latest] == \
        [("Almaty", "pm25", 49.0)]
    owner = _token(store, world.org_ids["kz"], "kz-viewer")
    mine = client.get(f"/api/v1/areas/{areas['steppe']}/contents", headers=owner).json()
    assert sorted(s["code"] for s in mine["sites"]) == ["ALA-1", "HIDDEN-1"]


def test_sensitive_sites_are_matched_and_shown_generalised(client, store, world, areas):
    precise_box = client.get(f"/api/v1/areas/{areas['tiger-precise']}/contents")
    cell_box = client.get(f"/api/v1/areas/{areas['tiger-cell']}/contents").json()
    assert precise_box.json()["sites"] == []  # the precise position is not revealed by an area
    [site] = cell_box["sites"]
    assert site["code"] == "CAM-7" and site["generalised"] is True
    lon, lat = site["location"]["coordinates"]
    assert (round(lon, 4), round(lat, 4)) == GENERALISED_TIGER
    for text in (precise_box.text, client.get(f"/api/v1/areas/{areas['tiger-cell']}/contents")
                 .text):
        assert f"{SENSITIVE_POINT[0]:.3f}" not in text and f"{SENSITIVE_POINT[1]:.3f}" not in text
    owner = _token(store, world.org_ids["ru"], "ru-viewer")
    mine = client.get(f"/api/v1/areas/{areas['tiger-precise']}/contents", headers=owner).json()
    assert [s["code"] for s in mine["sites"]] == ["CAM-7"] and not mine["sites"][0]["generalised"]
    assert client.get(f"/api/v1/areas/{areas['tiger-cell']}/contents",
                      headers=owner).json()["sites"] == []


def test_reading_contents_is_audited_for_the_owner(client, store, world, areas):
    before = store.scalar("SELECT count(*) FROM audit_events WHERE dataset_id = ?",
                          [world.datasets["kz-air"]])
    client.get(f"/api/v1/areas/{areas['steppe']}/contents")
    after = store.scalar("SELECT count(*) FROM audit_events WHERE dataset_id = ?"
                         " AND kind = 'things'", [world.datasets["kz-air"]])
    assert after == before + 1
