"""$filter, $orderby, paths, $expand and governance compiled to SQL and run on a real store."""

from __future__ import annotations

import pytest

from ecobridge.errors import BadRequest
from ecobridge.governance.policy import ANONYMOUS, SYSTEM
from ecobridge.monitoring.sta.access import visibility
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.query import parse_query
from ecobridge.store.sta_sql import (
    Visibility,
    compile_expand,
    compile_query,
    fetch,
    fetch_expand,
)

from .world import PARK_VIEWER, ids, rows


@pytest.mark.parametrize("flt, expected", [
    ("result gt 5", [2, 3]),
    ("result ge 5", [1, 2, 3]),
    ("result lt 5", [4]),
    ("result le 3.5", [4]),
    ("result eq 12.5", [2]),
    ("result ne 12.5", [1, 3, 4]),
    ("result eq null", [5]),
    ("result ne null", [1, 2, 3, 4]),
    ("result gt 5 and result lt 40", [2]),
    ("result lt 4 or result gt 40", [3, 4]),
    ("not (result gt 5)", [1, 4]),
    ("result add 5 gt 40", [3]),
    ("result sub 5 eq 0", [1]),
    ("result mul 2 eq 25", [2]),
    ("result div 2 eq 6.25", [2]),
    ("result mod 2 eq 1", [1]),
    ("-result lt -40", [3]),
    ("(result sub 5) mul 2 gt 10", [2, 3]),
    ("resultQuality eq 3", [3]),
    ("id eq 2", [2]),
    ("round(result) eq 13", [2]),
    ("floor(result) eq 12", [2]),
    ("ceiling(result) eq 4", [4]),
])
def test_numeric_filters(sta, flt, expected):
    assert ids(sta, "/Observations", filter=flt) == expected


@pytest.mark.parametrize("flt, expected", [
    ("name eq 'Almaty station'", [1]),
    ("substringof('station', name)", [1, 2]),
    ("startswith(name, 'Ast')", [2]),
    ("endswith(name, 'trap')", [4]),
    ("not startswith(name, 'A')", [4]),
    ("length(name) eq 12", [4]),
    ("indexof(description, 'Sensor') eq 1", [1]),
    ("indexof(description, 'Things') eq 8", [1]),
    ("substring(description, 1) eq 'ensor Things'", [1]),
    ("substring(description, 2, 4) eq 'nsor'", [1]),
    ("tolower(description) eq 'sensor things'", [1]),
    ("toupper(description) eq 'SENSOR THINGS'", [1]),
    ("trim(description) eq 'roof'", [2]),
    ("concat(concat(name, ', '), description) eq 'Leopard trap, ridge'", [4]),
    ("name eq 'it''s'", []),
    ("properties/country eq 'KAZ'", [1, 2]),
    ("properties/height gt 5", [1]),
    ("properties/height add 0 lt 5", [2]),
    ("properties/owner/name eq 'Kazhydromet'", [1]),
    ("properties/height eq null", [4]),
])
def test_string_and_json_filters(sta, flt, expected):
    assert ids(sta, "/Things", filter=flt) == expected


@pytest.mark.parametrize("flt, expected", [
    ("phenomenonTime ge 2024-01-01T12:00:00Z", [2, 3, 4, 5]),
    ("phenomenonTime lt 2024-01-01T13:30:16+01:00", [1, 2]),
    ("phenomenonTime lt 2024-01-01T13:30:16+01:00 and phenomenonTime gt mindatetime()",
     [1, 2]),
    ("phenomenonTime lt maxdatetime() and phenomenonTime lt now()", [1, 2, 3, 4, 5]),
    ("resultTime eq null", [2, 3, 4, 5]),
    ("year(phenomenonTime) eq 2024 and month(phenomenonTime) eq 2", [4, 5]),
    ("day(phenomenonTime) eq 2", [3, 5]),
    ("hour(phenomenonTime) eq 12 and minute(phenomenonTime) eq 30", [2]),
    ("second(phenomenonTime) eq 15", [2]),
    ("fractionalseconds(phenomenonTime) eq 0.25", [2]),
    ("totaloffsetminutes(phenomenonTime) eq 0", [1, 2, 3, 4, 5]),
    ("date(phenomenonTime) eq date(2024-01-01T23:00:00Z)", [1, 2]),
    ("time(phenomenonTime) lt time(2000-01-01T12:00:00Z)", [1, 3, 4, 5]),
    ("phenomenonTime add duration'PT12H' gt 2024-01-02T00:00:00Z", [2, 3, 4, 5]),
    ("phenomenonTime sub duration'P1M' ge 2024-01-01T00:00:00Z", [4, 5]),
    ("phenomenonTime gt 2024-01-01T00:00:00Z sub duration'PT1S'", [1, 2, 3, 4, 5]),
    ("phenomenonTime sub resultTime lt duration'PT0S'", [1]),
    ("phenomenonTime eq 2024-01-01T00:00:00Z/2024-01-01T00:00:00Z", [1]),
    ("Datastream/phenomenonTime le 2024-01-02T00:00:00Z", [1, 2, 3]),
])
def test_time_filters(sta, flt, expected):
    assert ids(sta, "/Observations", filter=flt) == expected


@pytest.mark.parametrize("flt, expected", [
    # Datastream 1 is [2024-01-01, 2024-01-02), Datastream 2 is [2024-02-01, 2024-02-02)
    ("phenomenonTime ge 2024-01-01T00:00:00Z", [1, 2]),
    ("phenomenonTime gt 2024-01-01T00:00:00Z", [2]),
    ("phenomenonTime le 2024-01-02T00:00:00Z", [1]),
    ("phenomenonTime lt 2024-01-01T12:00:00Z", []),
    ("phenomenonTime eq 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", [1]),
    ("phenomenonTime ne 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", [2]),
    ("phenomenonTime le 2024-01-01T00:00:00Z/2024-03-01T00:00:00Z", [1]),
    ("resultTime eq null", [2]),
    ("year(phenomenonTime) eq 2024", [1, 2]),
    ("phenomenonTime sub duration'P31D' eq 2024-01-01T00:00:00Z/2024-01-01T00:00:00Z", []),
    ("phenomenonTime sub duration'P31D' eq 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", [2]),
])
def test_interval_semantics(sta, flt, expected):
    assert ids(sta, "/Datastreams", filter=flt) == expected


@pytest.mark.parametrize("path, flt, expected", [
    ("/Locations", "geo.distance(location, geography'POINT(8 54.1)') lt 1", [5]),
    ("/Locations", "geo.length(location) eq 1", [6]),
    ("/Locations", "geo.intersects(location, geography'POLYGON((70 40, 80 40, 80 52, 70 52,"
                   " 70 40))')", [1, 2]),
    ("/Locations", "st_within(location, geography'POLYGON((76 43, 77 43, 77 44, 76 44,"
                   " 76 43))')", [1]),
    ("/Locations", "st_contains(geography'POLYGON((76 43, 77 43, 77 44, 76 44, 76 43))',"
                   " location)", [1]),
    ("/Locations", "st_intersects(location, geography'LINESTRING(4 52.5, 6 52.5)')", [6]),
    ("/Locations", "st_crosses(location, geography'LINESTRING(4 52.5, 6 52.5)')", [6]),
    ("/Locations", "st_touches(location, geography'LINESTRING(5 53, 6 53)')", [6]),
    ("/Locations", "st_equals(location, geography'POINT(8 54)')", [5]),
    ("/Locations", "st_overlaps(location, geography'LINESTRING(5 52.5, 5 60)')", [6]),
    ("/Locations", "st_disjoint(location, geography'POLYGON((0 0, 100 0, 100 50, 0 50, 0 0))')",
     [2, 4, 5, 6]),
    ("/Locations", "st_relate(location, geography'POLYGON((0 50, 10 50, 10 60, 0 60, 0 50))',"
                   " 'T*F**F***')", [5, 6]),
    ("/FeaturesOfInterest", "geo.distance(feature, geography'POINT(71 51)') lt 1", [2]),
    ("/Datastreams", "st_contains(observedArea, geography'POINT(77 43.5)')", [1]),
    ("/Observations", "st_within(FeatureOfInterest/feature, geography'POLYGON((70 40, 80 40,"
                      " 80 52, 70 52, 70 40))') and result gt 10", [2, 3]),
    ("/Things", "geo.distance(Locations/location, geography'POINT(71.4 51)') lt 1", [2]),
])
def test_geo_filters(sta, path, flt, expected):
    assert ids(sta, path, filter=flt) == expected


@pytest.mark.parametrize("path, flt, expected", [
    ("/Observations", "Datastream/id eq 2", [4, 5]),
    ("/Observations", "Datastream/@iot.id eq 2", [4, 5]),
    ("/Observations", "Datastream/Thing/name eq 'Almaty station'", [1, 2, 3]),
    ("/Observations", "Datastream/Thing/properties/country eq 'KAZ' and result gt 10", [2, 3]),
    ("/Observations", "result gt Datastream/properties/threshold", [3]),
    ("/Observations", "Datastream/unitOfMeasurement/symbol eq 'µg/m³' and id lt 3", [1, 2]),
    ("/Observations", "Datastream/ObservedProperty/name eq 'Nitrogen dioxide'", [4, 5]),
    ("/Observations", "FeatureOfInterest/name eq 'Astana air'", [4, 5]),
    ("/Things", "Datastreams/Observations/result gt 40", [1]),
    ("/Things", "Datastreams/Observations/FeatureOfInterest/id eq 1"
                " and Datastreams/Observations/resultTime ge 2024-01-01T00:00:00Z", [1]),
    ("/Things", "Locations/name eq 'Astana'", [2]),
    ("/Locations", "Things/name eq 'Almaty station'", [1]),
    ("/Sensors", "Datastreams/Thing/id eq 2", [1]),
    ("/HistoricalLocations", "Thing/name eq 'Almaty station'", [1]),
    ("/Datastreams", "Observations/result eq null", [2]),
])
def test_navigation_filters(sta, path, flt, expected):
    assert ids(sta, path, filter=flt) == expected


def test_orderby_nulls_and_paths(sta):
    assert ids(sta, "/Observations", orderby="result") == [5, 4, 1, 2, 3]
    assert ids(sta, "/Observations", orderby="result desc") == [3, 2, 1, 4, 5]
    assert ids(sta, "/Observations", orderby="Datastream/name, phenomenonTime desc") == [
        3, 2, 1, 5, 4]
    assert ids(sta, "/Things", orderby="properties/country desc, length(name)") == [1, 2, 4]
    assert ids(sta, "/Things", orderby="properties/country, id desc") == [4, 2, 1]
    with pytest.raises(BadRequest):
        ids(sta, "/Things", orderby="Datastreams/name")


def test_paging_and_count(sta):
    path = parse_path("/Observations")
    query = parse_query({"$top": "2", "$skip": "1", "$count": "true",
                         "$filter": "result ne null"}, "Observations")
    found, more, count = fetch(sta, compile_query(path, query, visibility=visibility(SYSTEM)))
    assert ([r["@iot.id"] for r in found], more, count) == ([2, 3], True, 5)
    query = parse_query({"$top": "2", "$skip": "4"}, "Observations")
    found, more, count = fetch(sta, compile_query(path, query, visibility=visibility(SYSTEM)))
    assert ([r["@iot.id"] for r in found], more, count) == ([5, 6], False, None)
    query = parse_query({"$top": "50000"}, "Observations")
    assert compile_query(path, query, visibility=visibility(SYSTEM), max_top=3).limit == 3


@pytest.mark.parametrize("path, expected", [
    ("/Things(1)/Datastreams", [1]),
    ("/Things(1)/Datastreams(2)", []),
    ("/Things(1)/Datastreams(1)/Observations", [1, 2, 3]),
    ("/Datastreams(1)/Thing", [1]),
    ("/Observations(4)/Datastream/Thing/Locations", [2]),
    ("/Locations(1)/Things", [1]),
    ("/Things(1)/HistoricalLocations(1)/Locations", [1]),
    ("/FeaturesOfInterest(2)/Observations", [4, 5]),
    ("/Sensors(1)/Datastreams", [1, 2]),
    ("/Datastreams(1)/Sensor", [1]),
    ("/Datastreams(3)/Sensor", []),
])
def test_paths(sta, path, expected):
    assert ids(sta, path) == expected


def test_select_and_property_values(sta):
    (row,) = rows(sta, "/Datastreams(1)", select="unitOfMeasurement,phenomenonTime,name")
    assert set(row) == {"@iot.id", "name", "unitOfMeasurement", "phenomenonTime"}
    assert row["unitOfMeasurement"] == {"name": "microgram per cubic metre", "symbol": "µg/m³",
                                        "definition": "ug/m3"}
    assert row["phenomenonTime"] == ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
    (thing,) = rows(sta, "/Things(1)")
    assert thing["properties"]["owner"] == {"name": "Kazhydromet"}


# -- governance ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, anonymous, park", [
    ("/Things", [1, 2, 4], [1, 2, 3, 4]),
    ("/Datastreams", [1, 2], [1, 2, 3]),
    ("/Observations", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]),
    ("/Locations", [1, 2, 4, 5, 6], [1, 2, 3, 4, 5, 6]),
    ("/HistoricalLocations", [1], [1, 2]),
    ("/Sensors", [1, 3], [1, 2, 3]),
    ("/FeaturesOfInterest", [1, 2, 4], [1, 2, 3, 4]),
    ("/Things(3)", [], [3]),
    ("/Things(3)/Datastreams", [], [3]),
    ("/Sensors(2)/Datastreams", [], [3]),
    ("/Datastreams(3)/Observations", [], [6]),
])
def test_hidden_rows_stay_hidden(sta, path, anonymous, park):
    assert ids(sta, path) == anonymous
    assert ids(sta, path, PARK_VIEWER) == park


@pytest.mark.parametrize("path, flt", [
    ("/Locations", "Things/name eq 'Hidden camera'"),
    ("/Locations", "HistoricalLocations/Thing/properties/secret eq 'den'"),
    ("/Sensors", "Datastreams/Thing/name eq 'Hidden camera'"),
    ("/ObservedProperties", "Datastreams/Observations/result eq 99"),
    ("/FeaturesOfInterest", "Observations/result eq 99"),
])
def test_filters_cannot_probe_hidden_rows(sta, path, flt):
    assert ids(sta, path, filter=flt) == []
    assert ids(sta, path, PARK_VIEWER, filter=flt) != []


def test_sensitive_coordinates_are_generalised_in_results_and_filters(sta):
    ridge = "geo.distance(location, geography'POINT(131.123 43.456)') lt 0.0001"
    assert ids(sta, "/Locations", filter=ridge) == []
    assert ids(sta, "/Locations", PARK_VIEWER, filter=ridge) == [4]
    (public,) = rows(sta, "/Locations(4)")
    (precise,) = rows(sta, "/Locations(4)", PARK_VIEWER)
    assert precise["location"]["coordinates"] == [131.123, 43.456]
    assert public["location"]["coordinates"] != [131.123, 43.456]


def test_visibility_is_required(sta):
    path, query = parse_path("/Things"), parse_query({}, "Things")
    with pytest.raises(TypeError):
        compile_query(path, query)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        compile_query(path, query, visibility=("true", []))  # type: ignore[arg-type]
    nobody = Visibility(things=("false", []), locate=lambda geom, alias: (geom, []))
    assert fetch(sta, compile_query(path, query, visibility=nobody))[0] == []


# -- $expand -----------------------------------------------------------------------------------

def expand(store, parent: str, options: str, parent_ids, principal=SYSTEM):
    q = parse_query({"$expand": options}, parent)
    (item,) = q.expand
    compiled = compile_expand(parent, item, parent_ids, visibility=visibility(principal))
    return {k: ([r["@iot.id"] for r in v.rows], v.more, v.count)
            for k, v in fetch_expand(store, compiled).items()}


def test_expand_to_many_with_options_per_parent(sta):
    got = expand(sta, "Datastreams", "Observations($top=2;$orderby=phenomenonTime desc;"
                                     "$count=true)", [1, 2, 3])
    assert got == {1: ([3, 2], True, 3), 2: ([5, 4], False, 2), 3: ([6], False, 1)}
    got = expand(sta, "Datastreams", "Observations($filter=result gt 10;$skip=1)", [1, 2])
    assert got == {1: ([3], False, None)}


def test_expand_to_one_and_through_link_tables(sta):
    assert expand(sta, "Observations", "Datastream", [1, 4]) == {
        1: ([1], False, None), 4: ([2], False, None)}
    assert expand(sta, "Things", "Locations", [1, 2, 3]) == {
        1: ([1], False, None), 2: ([2], False, None), 3: ([3], False, None)}
    assert expand(sta, "Sensors", "Datastreams($select=name)", [1, 2], PARK_VIEWER) == {
        1: ([1, 2], False, None), 2: ([3], False, None)}


def test_expand_never_shows_hidden_rows(sta):
    assert expand(sta, "Sensors", "Datastreams", [1, 2], principal=ANONYMOUS) == {
        1: ([1, 2], False, None)}
    assert expand(sta, "Things", "Locations", [3, 4], principal=ANONYMOUS) == {
        4: ([4], False, None)}


# -- in, lambdas, time relations ----------------------------------------------------------------

@pytest.mark.parametrize("path, flt, anonymous, park", [
    ("/Things", "Datastreams/any(d: d/ObservedProperty/name eq 'Nitrogen dioxide')", [2], [2]),
    ("/Things", "Datastreams/any()", [1, 2], [1, 2, 3]),
    ("/Things", "not Datastreams/any()", [4], [4]),
    # all() over no links is true (Leopard trap has no datastream)
    ("/Things", "Datastreams/all(d: d/unitOfMeasurement/symbol eq 'µg/m³')", [1, 2, 4],
     [1, 2, 3, 4]),
    ("/Things", "Datastreams/all(d: d/name eq 'Almaty PM2.5')", [1, 4], [1, 4]),
    ("/Things", "Datastreams/any(d: d/Observations/any(o: o/result gt d/properties/threshold))",
     [1], [1]),
    ("/Datastreams", "Thing/Datastreams/any(x: x/name eq 'Den PM2.5')", [], [3]),
    ("/Sensors", "Datastreams/any(d: d/Thing/name eq 'Hidden camera')", [], [2]),
    ("/Things", "properties/country in ('KAZ', 'RUS')", [1, 2], [1, 2]),
    ("/Things", "id in (1, 4, 99)", [1, 4], [1, 4]),
    ("/Things", "name in ('Leopard trap')", [4], [4]),
    ("/Observations", "overlaps(phenomenonTime, 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z)",
     [1, 2], [1, 2]),
    ("/Observations", "before(phenomenonTime, 2024-01-01T12:30:15.25Z)", [1], [1]),
    ("/Observations", "after(phenomenonTime, 2024-02-01T00:00:00Z)", [5], [5, 6]),
    ("/Datastreams", "during(phenomenonTime, 2023-12-01T00:00:00Z/2024-01-03T00:00:00Z)", [1],
     [1]),
    ("/Datastreams", "meets(phenomenonTime, 2024-01-02T00:00:00Z/2024-01-05T00:00:00Z)", [1],
     [1]),
    ("/Datastreams", "starts(phenomenonTime, 2024-02-01T00:00:00Z/2024-02-05T00:00:00Z)", [2],
     [2]),
    ("/Datastreams", "finishes(phenomenonTime, 2024-01-01T00:00:00Z/2024-02-02T00:00:00Z)", [2],
     [2]),
])
def test_in_lambdas_and_time_relations(sta, path, flt, anonymous, park):
    assert ids(sta, path, filter=flt) == anonymous
    assert ids(sta, path, PARK_VIEWER, filter=flt) == park


@pytest.mark.parametrize("flt", [
    "Datastreams/any(d: x/name eq 'a')",          # unknown variable: a property of Thing
    "Datastreams/any(name: name eq 'a')",         # a variable may not shadow a property
    "name/any(d: d eq 'a')",                      # not a navigation link
    "Datastreams/all()",
    "name in 'a'",
    "(1, 2) eq 1",
    "before(name, 2024-01-01T00:00:00Z)",
])
def test_bad_lambdas_and_lists_are_400(sta, flt):
    with pytest.raises(BadRequest):
        ids(sta, "/Things", filter=flt)
