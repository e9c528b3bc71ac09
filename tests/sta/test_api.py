"""The SensorThings read API over HTTP (the app in-process through TestClient, real store):
service root, every entity set and navigation path, $ref, $value, links, paging by
$skiptoken, data arrays, errors, the access policy and the read audit."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecobridge.api.app import create_app
from ecobridge.governance.policy import ANONYMOUS
from ecobridge.monitoring.sta import service
from ecobridge.monitoring.sta.model import ENTITY_SETS
from ecobridge.monitoring.sta.responses import READ_CONFORMANCE, WRITE_CONFORMANCE

from .world import world_store

ROOT = "http://testserver/sta/v1.1"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings, store = world_store(tmp_path_factory, "sta-api")
    # a second, longer series on datastream 2 with repeated times and nulls, for paging
    store.execute(
        "INSERT INTO observations (id, datastream_id, phenomenon_time, result, quality_flag)"
        " SELECT 50 + i, 2, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_hours(i // 3),"
        " CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37) % 11 END, 1 FROM range(40) r(i)")
    with TestClient(create_app(settings, store)) as c:
        c.store = store
        yield c
    store.close()


def get(client, path: str, **params) -> dict:
    r = client.get(f"/sta/v1.1/{path}", params={f"${k}": v for k, v in params.items()})
    assert r.status_code == 200, r.text
    return r.json()


def walk(client, path: str, **params) -> tuple[list[int], int]:
    """Every id of a collection following nextLinks; and how many pages it took."""
    body = get(client, path, **params)
    ids, pages = [e["@iot.id"] for e in body["value"]], 1
    while "@iot.nextLink" in body:
        link = urlsplit(body["@iot.nextLink"])
        assert body["@iot.nextLink"].startswith(ROOT + "/")
        query = dict(parse_qsl(link.query))
        assert "$skip" not in query and "$skiptoken" in query
        r = client.get(link.path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [e["@iot.id"] for e in body["value"]]
        pages += 1
    return ids, pages


def test_service_root_lists_sets_and_conformance(client):
    body = get(client, "")
    assert body["value"] == [{"name": n, "url": f"{ROOT}/{n}"} for n in ENTITY_SETS]
    # the write API adds its classes to WRITE_CONFORMANCE when it is imported
    assert body["serverSettings"]["conformance"] == [*READ_CONFORMANCE, *WRITE_CONFORMANCE]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in READ_CONFORMANCE
    assert client.get("/sta/v1.1/").json() == body


@pytest.mark.parametrize("name", list(ENTITY_SETS))
def test_every_entity_set_has_links_on_every_entity(client, name):
    body = get(client, name)
    assert body["value"], name
    es = ENTITY_SETS[name]
    for e in body["value"]:
        assert e["@iot.selfLink"] == f"{ROOT}/{name}({e['@iot.id']})"
        for rel in es.relations:
            assert e[f"{rel.name}@iot.navigationLink"] == f"{e['@iot.selfLink']}/{rel.name}"
        one = get(client, f"{name}({e['@iot.id']})")
        assert one == e        # the database's JSON (lists) and Python's (entities) agree


@pytest.mark.parametrize("path, expected", [
    ("Things(1)/Datastreams", [1]),
    ("Datastreams(1)/Observations?$top=3", [1, 2, 3]),
    ("Datastreams(1)/Thing/Locations", [1]),
    ("Observations(4)/Datastream/Thing/Locations", [2]),
    ("Locations(1)/Things", [1]),
    ("Things(1)/HistoricalLocations(1)/Locations", [1]),
    ("FeaturesOfInterest(2)/Observations?$top=2", [4, 5]),
    ("Sensors(1)/Datastreams", [1, 2]),
    ("ObservedProperties(1)/Datastreams/Thing", None),
])
def test_navigation(client, path, expected):
    p, _, q = path.partition("?")
    r = client.get(f"/sta/v1.1/{p}", params=dict(parse_qsl(q)))
    if expected is None:       # to-one at the end of a to-many: a collection is needed first
        assert r.status_code == 404
        return
    assert [e["@iot.id"] for e in r.json()["value"]] == expected


def test_to_one_navigation_is_an_entity(client):
    thing = get(client, "Datastreams(1)/Thing")
    assert thing["@iot.id"] == 1 and thing["name"] == "Almaty station"


def test_properties_value_and_ref(client):
    assert get(client, "Things(1)/name") == {"name": "Almaty station"}
    assert get(client, "Things(1)/properties/owner") == {"owner": {"name": "Kazhydromet"}}
    assert get(client, "Datastreams(1)/unitOfMeasurement/symbol") == {"symbol": "µg/m³"}
    r = client.get("/sta/v1.1/Observations(2)/phenomenonTime/$value")
    assert (r.status_code, r.text) == (200, "2024-01-01T12:30:15.25Z")
    assert r.headers["content-type"].startswith("text/plain")
    assert client.get("/sta/v1.1/Observations(2)/resultTime").status_code == 204
    assert get(client, "Things(1)/Locations/$ref") == {
        "value": [{"@iot.selfLink": f"{ROOT}/Locations(1)"}]}
    assert get(client, "Datastreams(1)/Sensor/$ref") == {"@iot.selfLink": f"{ROOT}/Sensors(1)"}
    refs = get(client, "Observations/$ref", top="2", count="true")
    assert refs["@iot.count"] == 5 + 40
    assert [set(v) for v in refs["value"]] == [{"@iot.selfLink"}] * 2
    assert "@iot.nextLink" in refs


@pytest.mark.parametrize("orderby", [None, "result", "result desc", "phenomenonTime desc",
                                     "resultQuality,result desc", "Datastream/name desc"])
def test_keyset_pages_equal_one_big_page(client, orderby):
    opts = {"orderby": orderby} if orderby else {}
    whole = [e["@iot.id"] for e in get(client, "Observations", top="1000", **opts)["value"]]
    paged, pages = walk(client, "Observations", top="7", **opts)
    assert paged == whole and pages == -(-len(whole) // 7)
    # a client's $skip is honoured on the first page and never put in a nextLink
    skipped, _ = walk(client, "Observations", top="6", skip="4", **opts)
    assert skipped == whole[4:]


def test_paging_below_a_parent_and_count_on_every_page(client):
    whole = [e["@iot.id"] for e in get(client, "Datastreams(2)/Observations",
                                       top="100")["value"]]
    assert len(whole) == 42
    body = get(client, "Datastreams(2)/Observations", top="10", count="true",
               filter="result ne null")
    assert body["@iot.count"] == 42 - 6 - 1
    paged, pages = walk(client, "Datastreams(2)/Observations", top="10",
                        filter="result ne null")
    assert paged == [i for i in whole if i not in {5, *range(50, 90, 7)}] and pages == 4


def test_top_default_and_maximum(client):
    assert len(get(client, "Observations")["value"]) == min(service.DEFAULT_TOP, 45)
    many = get(client, "Observations", top=str(10 * service.MAX_TOP))
    assert len(many["value"]) == 45 and "@iot.nextLink" not in many


def test_expand_nested_with_options_links_and_counts(client):
    body = get(client, "Things(1)", expand="Datastreams($select=name;$expand=Observations("
                                           "$top=2;$count=true;$orderby=result desc))")
    (stream,) = body["Datastreams"]
    assert set(stream) == {"name", "Observations", "Observations@iot.count",
                           "Observations@iot.nextLink"}
    assert [o["result"] for o in stream["Observations"]] == [42.0, 12.5]
    assert stream["Observations@iot.count"] == 3
    link = stream["Observations@iot.nextLink"]
    assert link.startswith(f"{ROOT}/Datastreams(1)/Observations?")
    rest = client.get(urlsplit(link).path, params=dict(parse_qsl(urlsplit(link).query)))
    assert [o["result"] for o in rest.json()["value"]] == [5.0]
    assert get(client, "Observations(1)", expand="Datastream/Thing")["Datastream"]["Thing"][
        "name"] == "Almaty station"


def test_data_array(client):
    body = get(client, "Observations", resultFormat="dataArray", top="4",
               select="id,phenomenonTime,result", count="true")
    assert body["@iot.count"] == 45
    assert body["value"] == [
        {"Datastream@iot.navigationLink": f"{ROOT}/Datastreams(1)",
         "components": ["id", "phenomenonTime", "result"], "dataArray@iot.count": 3,
         "dataArray": [[1, "2024-01-01T00:00:00Z", 5.0], [2, "2024-01-01T12:30:15.25Z", 12.5],
                       [3, "2024-01-02T00:00:00Z", 42.0]]},
        {"Datastream@iot.navigationLink": f"{ROOT}/Datastreams(2)",
         "components": ["id", "phenomenonTime", "result"], "dataArray@iot.count": 1,
         "dataArray": [[4, "2024-02-01T00:00:00Z", 3.5]]}]
    assert "$resultFormat=dataArray" in body["@iot.nextLink"]
    whole = get(client, "Datastreams(1)/Observations", resultFormat="dataArray")["value"]
    assert whole[0]["components"][:4] == ["id", "phenomenonTime", "resultTime", "result"]


@pytest.mark.parametrize("path, params, status, option, position", [
    ("Things", {"$filter": "name eq 'a' and lengthx(name) eq 1"}, 400, "$filter", 16),
    ("Things", {"$filter": "name eq 1"}, 400, "$filter", 5),
    ("Things", {"$orderby": "name, nosuch"}, 400, "$orderby", 6),
    ("Things", {"$top": "-1"}, 400, "$top", None),
    ("Things", {"$count": "yes"}, 400, "$count", None),
    ("Things", {"$skiptoken": "not-a-token"}, 400, "$skiptoken", None),
    ("Things", {"$resultFormat": "dataArray"}, 400, "$resultFormat", None),
    ("Things", {"$search": "x"}, 501, "$search", None),
    ("Things", {"$select": "name,nosuch"}, 400, "$select", 5),
    ("Nothing", {}, 404, None, None),
    ("Things(1)/Nothing", {}, 404, None, None),
    ("Things(999)", {}, 404, None, None),
])
def test_errors_are_problem_json_naming_option_and_position(client, path, params, status,
                                                           option, position):
    r = client.get(f"/sta/v1.1/{path}", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["status"] == status
    if option:
        assert body["option"] == option and option in body["detail"]
    if position is not None:
        assert body["position"] == position


def test_hidden_is_missing_and_sensitive_is_generalised(client):
    for path in ("Things(3)", "Things(3)/Datastreams", "Datastreams(3)/Observations",
                 "Observations(6)", "Observations(6)/result/$value", "Locations(3)",
                 "Datastreams(3)/Observations/$ref"):
        r = client.get(f"/sta/v1.1/{path}")
        assert r.status_code == 404, path
    missing = client.get("/sta/v1.1/Things(99)/Datastreams").json()["detail"]
    hidden = client.get("/sta/v1.1/Things(3)/Datastreams").json()["detail"]
    assert missing.replace("99", "3") == hidden
    ridge = get(client, "Locations(4)")["location"]["coordinates"]
    assert ridge != [131.123, 43.456]
    expanded = get(client, "Things(4)", expand="Locations")["Locations"][0]["location"]
    assert expanded["coordinates"] == ridge
    assert "Hidden camera" not in client.get("/sta/v1.1/Things?$top=100").text


def test_reads_of_other_organisations_are_audited(client):
    store = client.store
    before = store.scalar("SELECT coalesce(max(id), 0) FROM audit_events")
    get(client, "Datastreams(1)/Observations", top="2")
    get(client, "Sensors(1)", expand="Datastreams($expand=Observations($top=1))")
    rows = store.rows("SELECT dataset_id, kind, record_count FROM audit_events WHERE id > ?"
                      " ORDER BY id", [before])
    assert rows == [(1, "sensorthings", 2), (1, "sensorthings", 4)]
    get(client, "ObservedProperties")                # shared vocabulary: nothing to audit
    assert store.scalar("SELECT count(*) FROM audit_events WHERE id > ?", [before]) == 2


def test_entity_json_for_the_write_api(client):
    one = service.entity_json(client.store, ANONYMOUS, "Things", 2, ROOT)
    assert one == get(client, "Things(2)")
    with pytest.raises(Exception, match="no Thing"):
        service.entity_json(client.store, ANONYMOUS, "Things", 3, ROOT)


WORDS = ["name", "eq", "ne", "and", "or", "not", "(", ")", "'x'", "1", "any(d:", "d/name", "in",
         "Datastreams/", "/", ",", "geo.distance(", "geography'POINT(1 2)'", "$", ";", "'; --",
         "2024-01-01T00:00:00Z", "duration'P1D'", "null", "-", "@iot.id", "properties/a"]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=4)), max_size=10),
       st.sampled_from(["$filter", "$orderby", "$select", "$expand", "$top", "$skiptoken"]))
def test_any_option_text_is_answered_never_a_server_error(client, words, option):
    r = client.get("/sta/v1.1/Things", params={option: " ".join(words)})
    assert r.status_code in (200, 400, 404, 501), r.text
    if r.status_code >= 400:
        assert r.json()["status"] == r.status_code


PATH_WORDS = ["Things", "Things(1)", "Datastreams(1)", "Observations", "Locations", "$ref",
              "$value", "name", "properties", "Thing", "Datastreams", "(", ")", "'1'", "@iot.id",
              "unitOfMeasurement", "symbol", "Observations(2)", "FeatureOfInterest", ""]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(PATH_WORDS), st.text(max_size=5)), max_size=6))
def test_any_resource_path_is_answered_never_a_server_error(client, words):
    r = client.get("/sta/v1.1/" + "/".join(quote(w, safe="()'$@,=") for w in words))
    assert r.status_code in (200, 204, 400, 404, 501), r.text
