"""The $filter / $orderby / path / query-option parsers, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ecobridge.errors import BadRequest, NotFound
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.filter import FUNCTIONS, duration_parts, parse_filter, parse_orderby
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.query import OptionNotImplemented, parse_query

P = ast.Property
L = ast.Literal


def num(v):
    return L(ast.NUMBER, v)


def f(text: str, entity: str = "Observations") -> ast.Expr:
    return parse_filter(text, entity)


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_comparisons(op):
    assert f(f"result {op} 5") == ast.Binary(op, P((), "result"), num(5))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "mod"])
def test_arithmetic(op):
    assert f(f"result {op} 2 eq 1") == ast.Binary(
        "eq", ast.Binary(op, P((), "result"), num(2)), num(1))


def test_precedence_or_and_not_comparison_arithmetic():
    tree = f("not result gt 1 add 2 mul 3 or result eq 1 and id ne 2")
    r, i = P((), "result"), P((), "id")
    assert tree == ast.Binary(
        "or",
        ast.Unary("not", ast.Binary("gt", r, ast.Binary(
            "add", num(1), ast.Binary("mul", num(2), num(3))))),
        ast.Binary("and", ast.Binary("eq", r, num(1)), ast.Binary("ne", i, num(2))))


def test_parentheses_override_precedence_and_arithmetic_is_left_associative():
    assert f("(result sub 5) mul 2 gt 10") == ast.Binary(
        "gt", ast.Binary("mul", ast.Binary("sub", P((), "result"), num(5)), num(2)), num(10))
    assert f("result sub 1 sub 2 eq 0").left == ast.Binary(
        "sub", ast.Binary("sub", P((), "result"), num(1)), num(2))


def test_unary_minus_folds_into_number_literals_only():
    assert f("result gt -2.5").right == num(-2.5)
    assert f("-result lt 0").left == ast.Unary("-", P((), "result"))
    assert f("-(2) lt 0").left == ast.Unary("-", num(2))


@pytest.mark.parametrize("text, expected", [
    ("'Hylke''s Thing'", L(ast.STRING, "Hylke's Thing")),
    ("''", L(ast.STRING, "")),
    ("42", num(42)),
    ("2.5e1", num(25.0)),
    ("0.125", num(0.125)),
    ("true", L(ast.BOOL, True)),
    ("false", L(ast.BOOL, False)),
    ("null", L(ast.NULL, None)),
    ("2022-12-23T13:21:31+01:00", L(ast.DATETIME, datetime(
        2022, 12, 23, 13, 21, 31, tzinfo=timezone(timedelta(hours=1))))),
    ("2022-12-23T13:21:31Z", L(ast.DATETIME, datetime(2022, 12, 23, 13, 21, 31, tzinfo=UTC))),
    ("2010-12-23T10:20:00-0700", L(ast.DATETIME, datetime(
        2010, 12, 23, 10, 20, tzinfo=timezone(timedelta(hours=-7))))),
    ("2022-01-01T00:00:00.123Z", L(ast.DATETIME, datetime(2022, 1, 1, 0, 0, 0, 123000, UTC))),
    ("2017-10-10T07:00:00Z/2017-10-11T07:00:00Z", L(ast.INTERVAL, (
        datetime(2017, 10, 10, 7, tzinfo=UTC), datetime(2017, 10, 11, 7, tzinfo=UTC)))),
    ("duration'P1D'", L(ast.DURATION, "P1D")),
    ("duration'PT1H30M'", L(ast.DURATION, "PT1H30M")),
    ("geography'POINT(-122 43)'", L(ast.GEOGRAPHY, "POINT(-122 43)")),
    ("geography'POLYGON ((30 10, 10 20, 20 40, 40 40, 30 10))'",
     L(ast.GEOGRAPHY, "POLYGON ((30 10, 10 20, 20 40, 40 40, 30 10))")),
    ("geography'LINESTRING  (30 10, 10 30)'", L(ast.GEOGRAPHY, "LINESTRING  (30 10, 10 30)")),
])
def test_literals(text, expected):
    assert f(f"result eq {text}").right == expected


def test_durations_split_into_months_days_microseconds():
    assert duration_parts("P1Y2M3W4DT5H6M7.5S") == (14, 25, ((5 * 60 + 6) * 60 + 7.5) * 10**6)
    assert duration_parts("PT0.000001S") == (0, 0, 1)


@pytest.mark.parametrize("text, expected", [
    ("Datastream/id", P(("Datastream",), "id")),
    ("Datastream/@iot.id", P(("Datastream",), "id")),
    ("@iot.id", P((), "id")),
    ("Datastream/Thing/properties/owner/name", P(("Datastream", "Thing"), "properties",
                                                 ("owner", "name"))),
    ("parameters/method", P((), "parameters", ("method",))),
    ("Datastream/unitOfMeasurement/symbol", P(("Datastream",), "unitOfMeasurement/symbol")),
    ("FeatureOfInterest/feature", P(("FeatureOfInterest",), "feature")),
])
def test_property_paths(text, expected):
    assert f(f"{text} eq 1").left == expected


def test_every_function_parses():
    args = {0: "", 1: "name", 2: "name, 'x'", 3: "name, 'x', 'T********'"}
    for name, (low, high) in FUNCTIONS.items():
        for n in {low, high}:
            tree = parse_filter(f"{name}({args[n]}) eq 1", "Things")
            assert tree.left.name == name and len(tree.left.args) == n


def test_function_names_are_case_insensitive():
    assert f("Year(phenomenonTime) eq 2024").left.name == "year"


@pytest.mark.parametrize("text, position, message", [
    ("result gt", 9, "expected a value"),
    ("foo eq 1", 0, "has no property or link 'foo'"),
    ("Datastream/foo eq 1", 11, "has no property or link 'foo'"),
    ("name eq 'abc", 8, "unterminated string"),
    ("substringof('a')", 0, "takes 2 arguments"),
    ("frobnicate(result)", 0, "unknown function"),
    ("Datastream eq 1", 0, "expected a property after Datastream"),
    ("result gt 5 5", 12, "expected an operator or the end"),
    ("(result gt 5", 12, "expected ')'"),
    ("result # 5", 7, "unexpected character"),
    ("result eq geography'POINT(a b)'", 10, "not valid WKT"),
    ("result eq geography'DROP TABLE'", 10, "expected WKT"),
    ("result eq duration'P1X'", 10, "bad duration"),
    ("result eq 2024-13-01T00:00:00Z", 10, "bad datetime literal"),
    ("result eq 2024-01-02T00:00:00Z/2024-01-01T00:00:00Z", 10, "ends before it starts"),
    ("result/x eq 1", 7, "has no member 'x'"),
    ("", 0, "expected an expression"),
    ("result eq and", 10, "expected a value before 'and'"),
    ("(" * 70 + "1" + ")" * 70, 64, "nested deeper"),
])
def test_errors_name_position_and_expectation(text, position, message):
    with pytest.raises(BadRequest) as err:
        parse_filter(text, "Observations")
    assert err.value.extra["position"] == position
    assert message in err.value.detail


def test_orderby():
    assert parse_orderby("phenomenonTime desc, result, Datastream/name asc", "Observations") == (
        ast.OrderBy(P((), "phenomenonTime"), True), ast.OrderBy(P((), "result"), False),
        ast.OrderBy(P(("Datastream",), "name"), False))
    with pytest.raises(BadRequest):
        parse_orderby("result sideways", "Observations")


def test_to_text_round_trips_the_examples():
    for text in ["result le 3.5 and FeatureOfInterest/id eq 1",
                 "not startswith(description,'test')",
                 "substringof('room', name)",
                 "geo.distance(Locations/location, geography'POINT(-122 43)') gt 1",
                 "Datastreams/Observations/resultTime ge 2010-06-01T00:00:00Z",
                 "phenomenonTime gt now() sub duration'P1D'",
                 "-(1) eq -1 and - - 2 eq 2 and -result lt 0"]:
        entity = "Observations" if "FeatureOfInterest" in text else "Things"
        if "phenomenonTime" in text or "-result" in text:
            entity = "Observations"
        tree = parse_filter(text, entity)
        assert parse_filter(ast.to_text(tree), entity) == tree


# -- paths ---------------------------------------------------------------------------------------

def seg(name, entity=None, id=None, many=True):
    return ast.Segment(name, entity or name, id, many)


@pytest.mark.parametrize("path, expected", [
    ("/", ast.ResourcePath()),
    ("/Things", ast.ResourcePath((seg("Things"),))),
    ("/Things(1)", ast.ResourcePath((seg("Things", id=1),))),
    ("/Things('1')", ast.ResourcePath((seg("Things", id=1),))),
    ("/Things(1)/Datastreams", ast.ResourcePath((seg("Things", id=1), seg("Datastreams")))),
    ("/Datastreams(5)/Observations/$ref",
     ast.ResourcePath((seg("Datastreams", id=5), seg("Observations")), ref=True)),
    ("/Datastreams(5)/Thing/$ref",
     ast.ResourcePath((seg("Datastreams", id=5), seg("Thing", "Things", many=False)), ref=True)),
    ("/Observations(3)/result/$value",
     ast.ResourcePath((seg("Observations", id=3),), prop="result", value=True)),
    ("/Observations(3)/resultTime",
     ast.ResourcePath((seg("Observations", id=3),), prop="resultTime")),
    ("/Things(1)/properties/owner/name",
     ast.ResourcePath((seg("Things", id=1),), prop="properties", json=("owner", "name"))),
    ("/Datastreams(1)/Observations(2)/FeatureOfInterest",
     ast.ResourcePath((seg("Datastreams", id=1), seg("Observations", id=2),
                       seg("FeatureOfInterest", "FeaturesOfInterest", many=False)))),
    ("Locations(4)/HistoricalLocations",
     ast.ResourcePath((seg("Locations", id=4), seg("HistoricalLocations")))),
])
def test_paths(path, expected):
    assert parse_path(path) == expected


def test_collection_or_entity():
    assert parse_path("/Things").is_collection
    assert parse_path("/Things(1)/Datastreams").is_collection
    assert not parse_path("/Things(1)").is_collection
    assert not parse_path("/Datastreams(1)/Thing").is_collection
    assert not parse_path("/Things(1)/name").is_collection


@pytest.mark.parametrize("path", [
    "/Nothing", "/Things(x)", "/Things(1.5)", "/Things/Datastreams", "/Things(1)/foo",
    "/Things(1)/name/x", "/Datastreams(1)/Thing(2)", "/Things(1)/$value/name",
    "/Things(1)/Datastreams/$ref/x", "/Things(1)'; DROP TABLE things; --",
])
def test_paths_that_name_nothing_are_not_found(path):
    with pytest.raises(NotFound):
        parse_path(path)


def test_ref_on_one_entity_is_a_bad_request():
    with pytest.raises(BadRequest):
        parse_path("/Things(1)/$ref")


# -- query options -------------------------------------------------------------------------------

def test_nested_expand_with_options():
    q = parse_query({"$expand": "Datastreams($select=name;$expand=Observations($top=3;"
                                "$orderby=phenomenonTime desc;$filter=result gt 1;$count=true))"
                                ",Locations", "$select": "name,@iot.id,Datastreams"}, "Things")
    assert q.select == ("name", "id", "Datastreams")
    ds, loc = q.expand
    assert (ds.relation, ds.query.select, loc.relation) == ("Datastreams", ("name",), "Locations")
    obs = ds.query.expand[0]
    assert obs.query == ast.Query(
        "Observations", filter=ast.Binary("gt", P((), "result"), num(1)),
        orderby=(ast.OrderBy(P((), "phenomenonTime"), True),), top=3, count=True)


def test_expand_paths_nest_and_merge():
    q = parse_query({"$expand": "Datastreams,Datastreams/Observations/FeatureOfInterest"},
                    "Things")
    (ds,) = q.expand
    (obs,) = ds.query.expand
    assert (obs.relation, obs.query.expand[0].relation) == ("Observations", "FeatureOfInterest")
    assert obs.query.expand[0].query.entity_set == "FeaturesOfInterest"


def test_semicolons_and_parentheses_inside_strings_do_not_split_options():
    q = parse_query({"$expand": "Datastreams($filter=name eq 'a;b)(''c';$top=1)"}, "Things")
    assert q.expand[0].query.filter.right == L(ast.STRING, "a;b)('c")
    assert q.expand[0].query.top == 1


def test_paging_count_and_result_format():
    q = parse_query({"$top": "5", "$skip": "10", "$count": "true",
                     "$resultFormat": "dataArray", "other": "ignored"}, "Observations")
    assert (q.top, q.skip, q.count, q.result_format) == (5, 10, True, "dataArray")


@pytest.mark.parametrize("params", [
    {"$top": "-1"}, {"$top": "x"}, {"$skip": "1.5"}, {"$count": "yes"},
    {"$select": "nothing"}, {"$select": "unitOfMeasurement/name"}, {"$expand": "Nothing"},
    {"$expand": "Datastreams($top=1"}, {"$expand": "Datastreams($top)"},
    {"$expand": "Datastreams($filter=nothing eq 1)"}, {"$orderby": "nothing"},
    {"$expand": "Datastreams($resultFormat=dataArray)"},
])
def test_bad_options(params):
    with pytest.raises((BadRequest, OptionNotImplemented)):
        parse_query(params, "Things")


def test_unknown_system_option_is_501():
    with pytest.raises(OptionNotImplemented) as err:
        parse_query({"$search": "x"}, "Things")
    assert err.value.status == 501
    with pytest.raises(OptionNotImplemented):
        parse_query({"$resultFormat": "CSV"}, "Things")
