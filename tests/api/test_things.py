"""Things and datastreams: locations (generalised where sensitive), GeoJSON, CSV, last values,
and nothing of a hidden dataset in any list or by id."""

from __future__ import annotations

import io

import pyarrow.csv as pacsv

from ecobridge.governance.policy import Principal
from ecobridge.monitoring import service

from .data import SENSITIVE_POINT


def test_things_list_only_visible_datasets(client, world):
    body = client.get("/api/v1/things").json()
    codes = [t["code"] for t in body["items"]]
    assert codes == ["ALA-1", "AST-1", "CAM-7"]
    assert body["count"] == 3 and body["next"] is None
    almaty = body["items"][0]
    assert almaty["location"] == {"type": "Point", "coordinates": [76.95, 43.25]}
    assert almaty["dataset"] == "kz-air" and almaty["properties"] == {"code": "ALA-1"}
    assert almaty["location_generalised"] is False
    assert {link["rel"] for link in almaty["links"]} == {"self", "datastreams", "dataset"}


def test_sensitive_location_is_generalised_in_every_format(client, world):
    lon, lat = SENSITIVE_POINT
    tiger = world.things["tiger"]
    thing = client.get(f"/api/v1/things/{tiger}").json()
    glon, glat = thing["location"]["coordinates"]
    assert thing["location_generalised"] is True
    assert (glon, glat) != (lon, lat)
    assert abs(glon - lon) < 0.2 and abs(glat - lat) < 0.1  # within its 10 km cell
    geo = client.get("/api/v1/things", params={"f": "geojson"}).json()
    feature = next(f for f in geo["features"] if f["id"] == tiger)
    assert feature["geometry"]["coordinates"] == [glon, glat]
    csv = client.get("/api/v1/things", params={"f": "csv"}).text
    assert str(lon) not in csv and str(lat) not in csv
    # a bbox around the precise point but outside the grid cell's centre finds nothing
    box = f"{lon - 0.0005},{lat - 0.0005},{lon + 0.0005},{lat + 0.0005}"
    assert client.get("/api/v1/things", params={"bbox": box}).json()["items"] == []


def test_owner_sees_precise_location(store, world):
    owner = Principal(user_id=1, username="ranger", roles={world.org_ids["ru"]: "viewer"},
                      countries=frozenset({"RUS"}))
    thing = service.get_thing(store, owner, world.things["tiger"])
    assert thing["location"]["coordinates"] == list(SENSITIVE_POINT)
    assert thing["location_generalised"] is False
    hidden = service.get_thing(store, owner, world.things["embargo"])  # owner sees embargoed
    assert hidden["code"] == "HIDDEN-2"


def test_geojson_feature_collection(client, world):
    response = client.get("/api/v1/things", params={"f": "geojson"})
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 3
    feature = body["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    assert feature["properties"]["code"] == "ALA-1" and "location" not in feature["properties"]
    one = client.get(f"/api/v1/things/{world.things['almaty']}",
                     headers={"Accept": "application/geo+json"}).json()
    assert one["type"] == "Feature" and one["geometry"]["coordinates"] == [76.95, 43.25]


def test_bbox_and_dataset_filters(client, world):
    kz = client.get("/api/v1/things", params={"bbox": "70,40,80,50"}).json()
    assert [t["code"] for t in kz["items"]] == ["ALA-1"]  # the hidden station at 70,45 is not
    assert client.get("/api/v1/things", params={"dataset": "ru-tigers"}).json()["count"] == 1
    assert client.get("/api/v1/things", params={"dataset": "kz-secret"}).status_code == 404
    assert client.get("/api/v1/things", params={"bbox": "1,2,3"}).status_code == 422
    assert client.get("/api/v1/things", params={"bbox": "10,50,0,60"}).status_code == 422


def test_things_paging(client, world):
    first = client.get("/api/v1/things", params={"limit": 2})
    body = first.json()
    assert [t["code"] for t in body["items"]] == ["ALA-1", "AST-1"]
    assert first.headers["link"] == f'<{body["next"]}>; rel="next"'
    second = client.get(body["next"]).json()
    assert [t["code"] for t in second["items"]] == ["CAM-7"] and second["next"] is None


def test_things_csv(client, world):
    response = client.get("/api/v1/things", params={"f": "csv"})
    table = pacsv.read_csv(io.BytesIO(response.content))
    assert table["code"].to_pylist() == ["ALA-1", "AST-1", "CAM-7"]
    assert table["longitude"][0].as_py() == 76.95 and table["latitude"][0].as_py() == 43.25


def test_hidden_things_and_datastreams_are_404(client, world):
    for name in ("secret", "embargo"):
        for url in (f"/api/v1/things/{world.things[name]}",
                    f"/api/v1/things/{world.things[name]}/datastreams",
                    f"/api/v1/datastreams/{world.streams[name]}"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "HIDDEN" not in response.text
            assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/things/987654").status_code == 404
    for url in ("/api/v1/things", "/api/v1/datastreams", "/api/v1/things?f=geojson",
                "/api/v1/datastreams?f=csv", "/api/v1/things?f=csv"):
        assert "HIDDEN" not in client.get(url).text, url


def test_datastream_has_unit_extent_and_last_value(client, world):
    body = client.get(f"/api/v1/datastreams/{world.streams['almaty']}").json()
    assert body["unit_of_measurement"] == {"name": "microgram per cubic metre",
                                           "symbol": "µg/m³", "definition": "ug/m3"}
    assert body["observed_property"]["code"] == "pm25"
    assert body["phenomenon_time_start"] == "2024-01-01T00:00:00Z"
    assert body["phenomenon_time_end"] == "2024-01-03T01:00:00Z"
    assert body["last_phenomenon_time"] == "2024-01-03T01:00:00Z"
    assert body["last_result"] == 49.0 and body["last_quality_flag"] == 4
    assert body["observation_count"] == 50
    assert any(link["rel"] == "observations" for link in body["links"])


def test_datastream_summary_comes_from_the_datastream_row(client, store, world):
    """The last value is the datastream's column, not a scan: change the column and see it."""
    store.execute("UPDATE datastreams SET last_result = 123.5 WHERE id = ?",
                  [world.streams["almaty"]])
    body = client.get(f"/api/v1/datastreams/{world.streams['almaty']}").json()
    assert body["last_result"] == 123.5


def test_datastream_lists(client, world):
    body = client.get("/api/v1/datastreams").json()
    assert [s["id"] for s in body["items"]] == [world.streams["almaty"], world.streams["astana"]]
    no2 = client.get("/api/v1/datastreams", params={"observed_property": "no2"}).json()
    assert [s["thing_code"] for s in no2["items"]] == ["AST-1"]
    of_thing = client.get(f"/api/v1/things/{world.things['almaty']}/datastreams").json()
    assert [s["id"] for s in of_thing["items"]] == [world.streams["almaty"]]
    paged = client.get("/api/v1/datastreams", params={"limit": 1}).json()
    assert len(paged["items"]) == 1 and client.get(paged["next"]).json()["next"] is None
    csv = pacsv.read_csv(io.BytesIO(client.get("/api/v1/datastreams?f=csv").content))
    assert csv["unit_code"].to_pylist() == ["ug/m3", "ug/m3"]
    assert csv["last_result"].to_pylist() == [49.0, 14.0]
