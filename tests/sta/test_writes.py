"""SensorThings 1.1 writes through the real app: create (deep insert, navigation), update
(merge, JSON Patch, PUT), delete with cascades, CreateObservations, and who may do which."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ecobridge.alerts import service as alerts
from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import SYSTEM

STA = "/sta/v1.1"
PM25 = "urn:ecobridge:def:observed-property:pm25"


@dataclass
class Env:
    client: TestClient
    store: object
    auth: dict[str, dict[str, str]]

    def post(self, path: str, body, who: str | None = "pub", headers=None):
        return self.client.post(f"{STA}/{path}", json=body,
                                headers={**self.auth.get(who, {}), **(headers or {})})

    def patch(self, path: str, body, who: str | None = "pub", content_type=None):
        headers = dict(self.auth.get(who, {}))
        if content_type:
            headers["Content-Type"] = content_type
        return self.client.patch(f"{STA}/{path}", content=json.dumps(body), headers=headers)

    def put(self, path: str, body, who: str | None = "pub"):
        return self.client.put(f"{STA}/{path}", json=body, headers=self.auth.get(who, {}))

    def delete(self, path: str, who: str | None = "pub"):
        return self.client.delete(f"{STA}/{path}", headers=self.auth.get(who, {}))

    def get(self, path: str, who: str | None = "pub"):
        return self.client.get(f"{STA}/{path}", headers=self.auth.get(who, {}))

    def scalar(self, sql: str, params=None):
        return self.store.scalar(sql, params or [])


@pytest.fixture
def env(settings, store):
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_organisation(store, slug="mn-agency", name="Mongolia", country="MNG")
    for slug, owner, visibility in (("kz-air", "kz-hydromet", "public"),
                                    ("kz-closed", "kz-hydromet", "private"),
                                    ("mn-air", "mn-agency", "public")):
        create_dataset(store, slug=slug, owner=owner, domain="air", title=slug,
                       licence="CC-BY-4.0", visibility=visibility)
    auth = {}
    for name, org, role in (("pub", "kz-hydromet", "publisher"),
                            ("analyst", "kz-hydromet", "analyst"),
                            ("mnpub", "mn-agency", "publisher")):
        accounts.create_user(store, username=name)
        accounts.set_membership(store, user=name, org=org, role=role)
        token = tokens.create_token(store, user=name)["token"]
        auth[name] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, store=store)) as client:
        yield Env(client, store, auth)


def _thing(dataset="kz-air", name="Almaty station", **extra) -> dict:
    return {"name": name, "description": "roof", "properties": {"dataset": dataset},
            "Locations": [{"name": "Almaty", "description": "city",
                           "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [76.9, 43.2]}}],
            **extra}


def _datastream(**extra) -> dict:
    return {"name": "PM2.5", "description": "hourly",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                               "OM_Measurement",
            "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "µg/m³",
                                  "definition": "ug/m3"},
            "Sensor": {"name": "BAM-1020", "description": "beta attenuation",
                       "encodingType": "text/plain", "metadata": "https://example.org/bam"},
            "ObservedProperty": {"name": "PM2.5", "definition": PM25, "description": ""},
            **extra}


def _id(response) -> int:
    location = response.headers["location"]
    return int(location[location.rindex("(") + 1:-1])


def _hours_ago(n: float) -> str:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (now - timedelta(hours=n)).isoformat()


def _station(env: Env) -> tuple[int, int]:
    r = env.post("Things", _thing(Datastreams=[_datastream()]))
    assert r.status_code == 201, r.text
    thing = _id(r)
    ds = env.scalar("SELECT id FROM datastreams WHERE thing_id = ?", [thing])
    return thing, ds


# -- create -----------------------------------------------------------------------------------
def test_deep_insert_thing_with_location_and_datastream(env):
    r = env.post("Things", _thing(Datastreams=[_datastream()]))
    assert r.status_code == 201, r.text
    thing = _id(r)
    assert r.headers["location"] == f"http://testserver{STA}/Things({thing})"
    assert r.json()["@iot.id"] == thing and r.json()["name"] == "Almaty station"
    assert env.scalar("SELECT d.slug FROM things t JOIN datasets d ON d.id = t.dataset_id"
                      " WHERE t.id = ?", [thing]) == "kz-air"
    # linked by its definition to the seeded pm25 property, in its canonical unit
    row = env.store.one("SELECT p.code, s.unit_code, sn.name FROM datastreams s"
                        " JOIN observed_properties p ON p.id = s.observed_property_id"
                        " JOIN sensors sn ON sn.id = s.sensor_id WHERE s.thing_id = ?", [thing])
    assert row == ("pm25", "ug/m3", "BAM-1020")
    # the Location became the current one and a HistoricalLocation records it
    assert env.scalar("SELECT count(*) FROM thing_locations WHERE thing_id = ?", [thing]) == 1
    assert env.scalar("SELECT count(*) FROM historical_locations WHERE thing_id = ?",
                      [thing]) == 1
    got = env.get(f"Things({thing})/Locations").json()["value"]
    assert got[0]["location"]["coordinates"] == [76.9, 43.2]
    # and the plain REST API sees the station
    assert env.client.get(f"/api/v1/things/{thing}").json()["name"] == "Almaty station"


def test_failed_deep_insert_leaves_nothing(env):
    before = {t: env.scalar(f"SELECT count(*) FROM {t}")
              for t in ("things", "locations", "sensors", "datastreams")}
    bad = _datastream(unitOfMeasurement={"symbol": "mg/m3", "definition": "mg/m3"})
    r = env.post("Things", _thing(Datastreams=[_datastream(), bad]))
    assert r.status_code == 400
    assert r.json()["field"] == "Datastreams[1].unitOfMeasurement"
    assert "canonical unit" in r.json()["detail"]
    assert {t: env.scalar(f"SELECT count(*) FROM {t}") for t in before} == before


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "properties": {}}, "properties.dataset"),
    ({"properties": {"dataset": "kz-air"}}, "name"),
    ({"name": "x", "properties": {"dataset": "kz-air"}, "colour": "red"}, "colour"),
    (_thing(Locations=[{"name": "p", "location": {"type": "Point", "coordinates": [500, 1]}}]),
     "Locations[0].location"),
])
def test_bad_input_is_400_naming_the_field(env, body, field):
    r = env.post("Things", body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field


def test_navigation_posts_link_to_the_parent(env):
    thing = _id(env.post("Things", _thing()))
    r = env.post(f"Things({thing})/Datastreams", _datastream())
    assert r.status_code == 201, r.text
    ds = _id(r)
    assert env.scalar("SELECT thing_id FROM datastreams WHERE id = ?", [ds]) == thing
    r = env.post(f"Datastreams({ds})/Observations",
                 {"phenomenonTime": "2024-05-01T10:00:00+00:00", "result": 12.5})
    assert r.status_code == 201, r.text
    obs = _id(r)
    assert r.json()["result"] == 12.5
    assert env.scalar("SELECT datastream_id FROM observations WHERE id = ?", [obs]) == ds
    # a new Location posted below the Thing becomes its current one, with history
    r = env.post(f"Things({thing})/Locations",
                 {"name": "Moved", "encodingType": "application/geo+json",
                  "location": {"type": "Point", "coordinates": [77.0, 43.3]}})
    assert r.status_code == 201, r.text
    assert env.store.rows("SELECT location_id FROM thing_locations WHERE thing_id = ?",
                          [thing]) == [(_id(r),)]
    assert env.scalar("SELECT count(*) FROM historical_locations WHERE thing_id = ?",
                      [thing]) == 2
    assert env.post(f"Things({thing + 999})/Datastreams", _datastream()).status_code == 404


def test_observations_take_the_ingest_path(env):
    thing, ds = _station(env)
    post = env.post("Observations", {"Datastream": {"@iot.id": ds},
                                     "phenomenonTime": "2024-05-01T10:00:00Z", "result": 0.02,
                                     "parameters": {"unit": "mg/m3"}})
    assert post.status_code == 201, post.text
    first = _id(post)
    # converted to the canonical unit as ingest converts
    assert env.scalar("SELECT result FROM observations WHERE id = ?", [first]) == \
        pytest.approx(20.0)
    # QARTOD gross range: pm25 fails above 2000 ug/m3
    bad = _id(env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 5000,
                                        "phenomenonTime": "2024-05-01T11:00:00Z"}))
    assert env.scalar("SELECT quality_flag FROM observations WHERE id = ?", [bad]) == 4
    assert env.scalar("SELECT quality_flag FROM observations WHERE id = ?", [first]) == 1
    summary = env.store.one("SELECT observation_count, last_result, last_quality_flag"
                            " FROM datastreams WHERE id = ?", [ds])
    assert summary == (2, 5000.0, 4)
    # a FeatureOfInterest made once from the Thing's Location, then reused
    fois = env.store.rows("SELECT DISTINCT feature_of_interest_id FROM observations"
                          " WHERE datastream_id = ?", [ds])
    assert len(fois) == 1 and fois[0][0] is not None
    # an unconvertible unit is refused, naming the field
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 1,
                                  "phenomenonTime": "2024-05-01T12:00:00Z",
                                  "parameters": {"unit": "degC"}})
    assert r.status_code == 400 and r.json()["field"] == "parameters.unit"
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": "high"})
    assert r.status_code == 400 and r.json()["field"] == "result"
    # the observations were recorded as an ingest run of the writer
    runs = env.store.rows("SELECT file_name, user_id FROM ingest_runs ORDER BY id")
    assert runs and all(name.startswith("SensorThings POST") for name, _ in runs)
    assert {uid for _, uid in runs} == {env.scalar("SELECT id FROM users WHERE username='pub'")}


def test_alert_rules_run_on_sta_observations(env):
    _thing_id, ds = _station(env)
    alerts.create_rule(env.store, SYSTEM, name="pm25 above 100", kind="threshold",
                       params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                       observed_property="pm25", dataset="kz-air")
    quiet = [[_hours_ago(h), 20.0] for h in (8, 7, 6)]
    r = env.post("CreateObservations", [{"Datastream": {"@iot.id": ds},
                                         "components": ["phenomenonTime", "result"],
                                         "dataArray": quiet}])
    assert r.status_code == 201
    assert env.scalar("SELECT count(*) FROM alerts WHERE datastream_id = ?", [ds]) == 0
    loud = [[_hours_ago(h), 180.0] for h in (5, 4, 3)]
    env.post("CreateObservations", [{"Datastream": {"@iot.id": ds},
                                     "components": ["phenomenonTime", "result"],
                                     "dataArray": loud}])
    assert env.scalar("SELECT count(*) FROM alerts WHERE datastream_id = ?", [ds]) >= 1


# -- CreateObservations -----------------------------------------------------------------------
def test_create_observations_reports_each_row(env):
    _thing_id, ds = _station(env)
    body = [{"Datastream": {"@iot.id": ds},
             "components": ["result", "phenomenonTime", "parameters"],
             "dataArray": [[1.5, "2024-05-01T10:00:00Z", None],
                           [2.5, "2024-05-01T11:00:00-0700", {"method": "beta"}],
                           [3.5, "yesterday", None],
                           [4.5, "2024-05-01T10:00:00Z", None],
                           ["x", "2024-05-01T13:00:00Z", None]]}]
    r = env.post("CreateObservations", body)
    assert r.status_code == 201, r.text
    links = r.json()
    assert [link == "error" for link in links] == [False, False, True, True, True]
    ids = [int(link[link.rindex("(") + 1:-1]) for link in links[:2]]
    assert links[0] == f"http://testserver{STA}/Observations({ids[0]})"
    stored = env.store.rows("SELECT id, result, parameters FROM observations"
                            " WHERE datastream_id = ? ORDER BY phenomenon_time", [ds])
    assert [(i, v) for i, v, _ in stored] == [(ids[0], 1.5), (ids[1], 2.5)]
    assert json.loads(stored[1][2]) == {"method": "beta"}
    # the rows not stored are in the quarantine of the run, with field and reason
    rejects = env.store.rows("SELECT row_number, field, value, reason FROM quarantine"
                             " ORDER BY row_number")
    assert [r[:3] for r in rejects] == [(3, "phenomenonTime", "yesterday"),
                                        (4, "phenomenonTime", "2024-05-01T10:00:00Z"),
                                        (5, "result", "x")]
    assert "same time" in rejects[1][3] and "not an ISO 8601 time" in rejects[0][3]
    assert env.store.one("SELECT rows_in, rows_accepted, rows_rejected FROM ingest_runs") == \
        (5, 2, 3)


def test_create_observations_structure_errors_write_nothing(env):
    _thing_id, ds = _station(env)
    rows = {"components": ["phenomenonTime", "result"],
            "dataArray": [["2024-05-01T10:00:00Z", 1.0]]}
    for body, status in (({"Datastream": {"@iot.id": ds}, **rows}, 400),
                         ([{"Datastream": {"@iot.id": ds}, **rows},
                           {"Datastream": {"@iot.id": ds + 999}, **rows}], 404),
                         ([{"Datastream": {"@iot.id": ds}, "components": ["colour"],
                            "dataArray": []}], 400)):
        assert env.post("CreateObservations", body).status_code == status
    assert env.scalar("SELECT count(*) FROM observations") == 0


# -- update -----------------------------------------------------------------------------------
def test_patch_merge_json_patch_and_put(env):
    thing, ds = _station(env)
    r = env.patch(f"Things({thing})", {"name": "Almaty centre"})
    assert r.status_code == 200 and r.json()["name"] == "Almaty centre"
    r = env.patch(f"Things({thing})", [{"op": "replace", "path": "/description", "value": "mast"},
                                       {"op": "add", "path": "/properties/height", "value": 12}],
                  content_type="application/json-patch+json")
    assert r.status_code == 200, r.text
    assert env.store.one("SELECT description, properties->>'height' FROM things WHERE id = ?",
                         [thing]) == ("mast", "12")
    r = env.patch(f"Things({thing})", [{"op": "test", "path": "/name", "value": "other"}],
                  content_type="application/json-patch+json")
    assert r.status_code == 400
    sensor = env.scalar("SELECT sensor_id FROM datastreams WHERE id = ?", [ds])
    r = env.put(f"Sensors({sensor})", {"name": "BAM-1022", "encodingType": "text/plain",
                                       "metadata": "m"})
    assert r.status_code == 200, r.text
    assert env.store.one("SELECT name, description FROM sensors WHERE id = ?",
                         [sensor]) == ("BAM-1022", "")
    assert env.put(f"Sensors({sensor})", {"description": "no name"}).json()["field"] == "name"


def test_patch_observation_reruns_qc_and_latest_value(env):
    _thing_id, ds = _station(env)
    ids = [_id(env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": v,
                                         "phenomenonTime": t}))
           for v, t in ((10, "2024-05-01T10:00:00Z"), (12, "2024-05-01T11:00:00Z"))]
    r = env.patch(f"Observations({ids[1]})", {"result": 3000})
    assert r.status_code == 200, r.text
    assert env.store.one("SELECT result, quality_flag FROM observations WHERE id = ?",
                         [ids[1]]) == (3000.0, 4)
    assert env.store.one("SELECT observation_count, last_result FROM datastreams WHERE id = ?",
                         [ds]) == (2, 3000.0)
    r = env.patch(f"Observations({ids[1]})", {"phenomenonTime": "2024-05-01T10:00:00Z"})
    assert r.status_code == 409


# -- delete -----------------------------------------------------------------------------------
def test_delete_cascades(env):
    thing, ds = _station(env)
    env.post("CreateObservations", [{"Datastream": {"@iot.id": ds},
                                     "components": ["phenomenonTime", "result"],
                                     "dataArray": [["2024-05-01T10:00:00Z", 1.0],
                                                   ["2024-05-01T11:00:00Z", 2.0]]}])
    obs = env.scalar("SELECT min(id) FROM observations")
    assert env.delete(f"Observations({obs})").status_code == 204
    assert env.store.one("SELECT observation_count, last_result FROM datastreams WHERE id = ?",
                         [ds]) == (1, 2.0)
    assert env.delete(f"Datastreams({ds})").status_code == 204
    assert env.scalar("SELECT count(*) FROM observations") == 0
    assert env.get(f"Datastreams({ds})").status_code == 404
    ds2 = _id(env.post(f"Things({thing})/Datastreams", _datastream()))
    env.post(f"Datastreams({ds2})/Observations", {"result": 1.0})
    assert env.delete(f"Things({thing})").status_code == 204
    for table, column in (("things", "id"), ("datastreams", "thing_id"),
                          ("historical_locations", "thing_id"), ("thing_locations", "thing_id")):
        assert env.scalar(f"SELECT count(*) FROM {table} WHERE {column} = ?", [thing]) == 0
    assert env.scalar("SELECT count(*) FROM observations") == 0
    assert env.delete(f"Things({thing})").status_code == 404


# -- who may write ----------------------------------------------------------------------------
def test_only_publishers_of_the_owner_write(env):
    thing, ds = _station(env)
    hidden = _id(env.post("Things", _thing(dataset="kz-closed", name="Closed")))
    cases = [
        (None, env.post("Things", _thing(), who=None), 401),
        ("analyst", env.post("Things", _thing(name="A2"), who="analyst"), 403),
        ("mnpub", env.post("Things", _thing(name="M2"), who="mnpub"), 403),
        ("mnpub", env.post("Things", _thing(dataset="kz-closed", name="M3"), who="mnpub"), 404),
        ("mnpub", env.patch(f"Things({thing})", {"name": "x"}, who="mnpub"), 403),
        ("mnpub", env.patch(f"Things({hidden})", {"name": "x"}, who="mnpub"), 404),
        ("mnpub", env.delete(f"Things({hidden})", who="mnpub"), 404),
        ("analyst", env.delete(f"Datastreams({ds})", who="analyst"), 403),
        (None, env.delete(f"Datastreams({ds})", who=None), 401),
        ("mnpub", env.post("CreateObservations", [
            {"Datastream": {"@iot.id": ds}, "components": ["result"], "dataArray": [[1]]}],
            who="mnpub"), 403),
        ("mnpub", env.post(f"Datastreams({ds})/Observations", {"result": 1}, who="mnpub"), 403),
    ]
    for who, response, status in cases:
        assert response.status_code == status, (who, response.request.url, response.text)
    assert env.scalar("SELECT name FROM things WHERE id = ?", [hidden]) == "Closed"
    assert env.scalar("SELECT count(*) FROM observations") == 0
    # the publisher of the other organisation writes to its own dataset
    assert env.post("Things", _thing(dataset="mn-air", name="Ulaanbaatar"),
                    who="mnpub").status_code == 201


def test_historical_locations_by_hand(env):
    thing = _id(env.post("Things", _thing()))
    current = env.scalar("SELECT location_id FROM thing_locations WHERE thing_id = ?", [thing])
    spot = {"name": "Camp", "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [77.5, 43.5]}}
    older = env.post("HistoricalLocations", {"time": "2020-01-01T00:00:00Z",
                                             "Thing": {"@iot.id": thing}, "Locations": [spot]})
    assert older.status_code == 201, older.text
    # an entry older than the newest one is history only
    assert env.scalar("SELECT location_id FROM thing_locations WHERE thing_id = ?",
                      [thing]) == current
    camp = env.scalar("SELECT id FROM locations WHERE name = 'Camp'")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    newer = env.post(f"Things({thing})/HistoricalLocations",
                     {"time": later, "Locations": [{"@iot.id": camp}]})
    assert newer.status_code == 201, newer.text
    # the newest entry says where the Thing is now
    assert env.scalar("SELECT location_id FROM thing_locations WHERE thing_id = ?",
                      [thing]) == camp
    assert env.scalar("SELECT count(*) FROM historical_locations WHERE thing_id = ?",
                      [thing]) == 3
    assert env.post("HistoricalLocations", {"Thing": {"@iot.id": thing}}).json()["field"] == \
        "time"


def test_deep_insert_variants(env):
    thing, ds = _station(env)
    sensor = env.scalar("SELECT sensor_id FROM datastreams WHERE id = ?", [ds])
    temperature = env.scalar("SELECT id FROM observed_properties WHERE code = 'air_temperature'")
    # a Datastream linking Thing, Sensor and ObservedProperty by id, with Observations inline
    r = env.post("Datastreams", {
        "name": "Air temperature", "unitOfMeasurement": {"symbol": "°C", "definition": "Cel"},
        "Thing": {"@iot.id": thing, "name": "ignored"}, "Sensor": {"@iot.id": sensor},
        "ObservedProperty": {"@iot.id": temperature},
        "Observations": [{"phenomenonTime": "2024-05-01T10:00:00Z", "result": 21.5},
                         {"phenomenonTime": "2024-05-01T11:00:00Z", "result": 23.0}]})
    assert r.status_code == 201, r.text
    temp_ds = _id(r)
    assert env.store.one("SELECT observation_count, last_result, sensor_id FROM datastreams"
                         " WHERE id = ?", [temp_ds]) == (2, 23.0, sensor)
    # an Observation with its FeatureOfInterest inline
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 7,
                                  "phenomenonTime": "2024-05-01T10:00:00Z",
                                  "FeatureOfInterest": {
                                      "name": "Street canyon", "encodingType":
                                      "application/geo+json",
                                      "feature": {"type": "Point", "coordinates": [76.9, 43.2]}}})
    assert r.status_code == 201, r.text
    assert env.scalar("SELECT f.name FROM observations o JOIN features_of_interest f"
                      " ON f.id = o.feature_of_interest_id WHERE o.id = ?",
                      [_id(r)]) == "Street canyon"
    # a FeatureOfInterest with Observations inline
    r = env.post("FeaturesOfInterest", {
        "name": "Park", "encodingType": "application/geo+json",
        "feature": {"type": "Point", "coordinates": [76.8, 43.1]},
        "Observations": [{"Datastream": {"@iot.id": ds}, "result": 9,
                          "phenomenonTime": "2024-05-01T12:00:00Z"}]})
    assert r.status_code == 201, r.text
    assert env.scalar("SELECT result FROM observations WHERE feature_of_interest_id = ?",
                      [_id(r)]) == 9.0
    # a new ObservedProperty made inline takes its canonical unit from the Datastream
    r = env.post(f"Things({thing})/Datastreams", {
        "name": "Soil moisture", "unitOfMeasurement": {"symbol": "%", "definition": "%"},
        "ObservedProperty": {"name": "Soil moisture", "definition": "urn:example:soil"}})
    assert r.status_code == 201, r.text
    assert env.store.one("SELECT code, canonical_unit FROM observed_properties"
                         " WHERE definition = 'urn:example:soil'") == ("soil_moisture", "%")
    # a second Datastream of the same property on the same Thing is a conflict
    r = env.post(f"Things({thing})/Datastreams", _datastream())
    assert r.status_code == 409 and r.json()["field"] == "ObservedProperty"


def test_links_to_hidden_entities_are_404(env):
    hidden = _id(env.post("Things", _thing(dataset="kz-closed", name="Closed",
                                           Datastreams=[_datastream()])))
    hidden_ds = env.scalar("SELECT id FROM datastreams WHERE thing_id = ?", [hidden])
    hidden_sensor = env.scalar("SELECT sensor_id FROM datastreams WHERE id = ?", [hidden_ds])
    mine = _id(env.post("Things", _thing(dataset="mn-air", name="UB"), who="mnpub"))
    r = env.post(f"Things({mine})/Datastreams",
                 _datastream(Sensor={"@iot.id": hidden_sensor}), who="mnpub")
    assert r.status_code == 404 and r.json()["field"] == "Sensor"
    r = env.post("CreateObservations", [{"Datastream": {"@iot.id": hidden_ds},
                                         "components": ["result"], "dataArray": [[1]]}],
                 who="mnpub")
    assert r.status_code == 404
    assert env.scalar("SELECT count(*) FROM datastreams WHERE thing_id = ?", [mine]) == 0


def test_session_writes_need_the_csrf_token(env):
    from ecobridge.governance.sessions import (
        CSRF_HEADER,
        SESSION_COOKIE,
        csrf_for_session,
        login,
    )

    accounts.set_password(env.store, "pub", "a long enough secret")
    secret, _principal = login(env.store, username="pub", password="a long enough secret",
                               address="127.0.0.1")
    env.client.cookies.set(SESSION_COOKIE, secret)
    try:
        r = env.post("Things", _thing(name="Via session"), who=None)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = env.post("Things", _thing(name="Via session"), who=None,
                     headers={CSRF_HEADER: csrf_for_session(secret)})
        assert r.status_code == 201, r.text
    finally:
        env.client.cookies.clear()
    assert env.scalar("SELECT count(*) FROM things WHERE name = 'Via session'") == 1
