"""Property tests: printed filter trees parse back to themselves, and no text a client sends
reaches the SQL other than as a parameter, nor changes the database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecobridge.errors import BadRequest, NotFound
from ecobridge.governance.policy import ANONYMOUS
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.access import visibility
from ecobridge.monitoring.sta.filter import FUNCTIONS, parse_filter
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.query import OptionNotImplemented, parse_query
from ecobridge.store.sta_sql import compile_expand, compile_query, fetch, fetch_expand

ENTITY = "Observations"
PROPERTIES = [
    ast.Property((), "id"), ast.Property((), "result"), ast.Property((), "phenomenonTime"),
    ast.Property((), "resultTime"), ast.Property((), "resultQuality"),
    ast.Property((), "parameters"), ast.Property(("Datastream",), "name"),
    ast.Property(("Datastream",), "unitOfMeasurement/symbol"),
    ast.Property(("Datastream", "Thing"), "properties", ("owner", "name")),
    ast.Property(("FeatureOfInterest",), "feature"),
    ast.Property(("Datastream", "Thing", "Locations"), "location"),
]
JSON_KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
datetimes = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                         timezones=st.one_of(st.just(UTC), offsets))
durations = st.tuples(*[st.integers(0, 999)] * 7, st.booleans()).map(
    lambda t: "P" + "".join(f"{v}{u}" for v, u in zip(t[:4], "YMWD", strict=True))
    + ("T" + "".join(f"{v}{u}" for v, u in zip(t[4:7], "HMS", strict=True)) if t[7] else ""))
geographies = st.one_of(
    st.tuples(st.floats(-180, 180), st.floats(-90, 90)).map(lambda p: f"POINT ({p[0]} {p[1]})"),
    st.just("POLYGON ((30 10, 10 20, 20 40, 40 40, 30 10))"),
    st.just("LINESTRING(5 52, 5 53)"))

literals = st.one_of(
    st.text().map(lambda s: ast.Literal(ast.STRING, s)),
    st.integers(-(2**63) + 1, 2**63 - 1).map(lambda n: ast.Literal(ast.NUMBER, n)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: ast.Literal(ast.NUMBER, x)),
    st.booleans().map(lambda b: ast.Literal(ast.BOOL, b)),
    st.just(ast.Literal(ast.NULL, None)),
    datetimes.map(lambda d: ast.Literal(ast.DATETIME, d)),
    st.tuples(datetimes, datetimes).map(
        lambda p: ast.Literal(ast.INTERVAL, tuple(sorted(p)))),
    durations.map(lambda d: ast.Literal(ast.DURATION, d)),
    geographies.map(lambda g: ast.Literal(ast.GEOGRAPHY, g)),
)
properties = st.one_of(
    st.sampled_from(PROPERTIES),
    st.lists(JSON_KEY, min_size=1, max_size=3).map(
        lambda keys: ast.Property((), "parameters", tuple(keys))))


def _extend(children):
    calls = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda name: st.integers(*FUNCTIONS[name]).flatmap(
            lambda n: st.lists(children, min_size=n, max_size=n).map(
                lambda args: ast.Call(name, tuple(args)))))
    ops = st.sampled_from([*ast.LOGICAL, *ast.COMPARISON, *ast.ARITHMETIC])
    return st.one_of(
        st.tuples(ops, children, children).map(lambda t: ast.Binary(*t)),
        st.tuples(st.sampled_from(["not", "-"]), children).map(lambda t: ast.Unary(*t)),
        calls)


trees = st.recursive(st.one_of(literals, properties), _extend, max_leaves=12)

# `in` lists and any/all lambdas: the body's paths start at the variable (over Datastream's
# Thing's Datastreams), or are the outer entity's own properties
LAMBDA_PROPS = [ast.Property((), "name", var="d"), ast.Property(("Thing",), "name", var="d"),
                ast.Property((), "properties", ("threshold",), var="d")]
lambda_bodies = st.recursive(
    st.one_of(literals, st.sampled_from(LAMBDA_PROPS), properties), _extend, max_leaves=6)
extended = st.one_of(
    trees,
    st.tuples(trees, st.lists(literals, min_size=1, max_size=4)).map(
        lambda t: ast.Binary("in", t[0], ast.Collection(tuple(t[1])))),
    st.tuples(st.sampled_from(["any", "all"]), lambda_bodies).map(
        lambda t: ast.Lambda(t[0], ("Datastream", "Thing", "Datastreams"), "d", t[1])),
    st.just(ast.Lambda("any", ("Datastream", "Thing", "Datastreams"))),
)


@settings(max_examples=400, deadline=None)
@given(extended)
def test_printed_trees_parse_back_to_the_same_tree(tree):
    assert parse_filter(ast.to_text(tree), ENTITY) == tree


# -- injection ---------------------------------------------------------------------------------

NASTY = ["'; DROP TABLE things; --", "' OR 1=1 --", "/*", "*/", "--", ";", "''", "\\",
         "\"things\"", "'); DELETE FROM observations; --", "%27", "$1", "?", "\n", "\x00",
         "things", "DROP TABLE things", "e0.id", ") OR (1=1"]
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=5).map("".join),
    st.text())
TABLES = ["things", "observations", "datastreams", "locations", "datasets", "sensors"]


def _counts(store) -> list[int]:
    return [store.scalar(f"SELECT count(*) FROM {t}") for t in TABLES]


@contextmanager
def _unchanged(store) -> Iterator[None]:
    """Whatever runs inside leaves every table's row count as it was: checked once around an
    example's attempts rather than around each (counting was most of the test's time)."""
    before = _counts(store)
    yield
    assert _counts(store) == before


def _strings(tree) -> list[str]:
    """Every string value held in the tree's literals."""
    if isinstance(tree, ast.Literal):
        return [tree.value] if tree.kind in (ast.STRING, ast.GEOGRAPHY) else []
    if isinstance(tree, tuple):
        return [s for item in tree for s in _strings(item)]
    if dataclasses.is_dataclass(tree):
        return [s for f in dataclasses.fields(tree) for s in _strings(getattr(tree, f.name))]
    return []


def _blank_strings(tree):
    if isinstance(tree, ast.Literal) and tree.kind == ast.STRING:
        return ast.Literal(ast.STRING, "x")
    if isinstance(tree, tuple):
        return tuple(_blank_strings(item) for item in tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return dataclasses.replace(tree, **{f.name: _blank_strings(getattr(tree, f.name))
                                            for f in dataclasses.fields(tree)})
    return tree


def _compile_all(parsed, query) -> list:
    """The query and every level of its $expand, compiled."""
    vis = visibility(ANONYMOUS)
    out = [compile_query(parsed, query, visibility=vis)]
    pending = [(query.entity_set, e) for e in query.expand]
    while pending:
        parent, item = pending.pop()
        out.append(compile_expand(parent, item, [1, 2, 3], visibility=vis))
        pending += [(item.query.entity_set, e) for e in item.query.expand]
    return out


def _attempt(store, path: str, options: dict[str, str]) -> None:
    try:
        parsed = parse_path(path)
        if parsed.entity_set is None:
            return      # the service root: no query
        query = parse_query(options, parsed.entity_set)
        compiled = _compile_all(parsed, query)
    except (BadRequest, NotFound, OptionNotImplemented):
        return
    # The SQL text does not depend on the values of string literals: they are all parameters.
    blank = _compile_all(parsed, _blank_strings(query))
    assert [c.sql for c in blank] == [c.sql for c in compiled]
    params = [p for c in compiled for p in c.params]
    for value in _strings(query):
        assert value in params
    for c in compiled:
        assert "DROP" not in c.sql and "DELETE" not in c.sql
        try:
            fetch(store, c) if c is compiled[0] else fetch_expand(store, c)
        except BadRequest:
            pass    # a value the database cannot evaluate, e.g. a date out of range


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=nasty_text)
def test_values_in_string_literals_stay_parameters(sta, text):
    quoted = text.replace("'", "''")
    with _unchanged(sta):
        _attempt(sta, "/Things", {"$filter": f"name eq '{quoted}' or substringof('{quoted}', "
                                             f"description) or properties/owner/name eq "
                                             f"'{quoted}'"})
        _attempt(sta, "/Observations", {"$filter": f"Datastream/Thing/name ne '{quoted}'",
                                        "$orderby": f"concat(Datastream/name, '{quoted}')"})
        _attempt(sta, "/Things", {"$expand": f"Datastreams($filter=name eq '{quoted}')"})
        _attempt(sta, "/Things", {"$filter": f"Datastreams/any(d: d/name eq '{quoted}') or "
                                             f"name in ('{quoted}', 'x') or '{quoted}' in "
                                             "properties/tags"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=nasty_text)
def test_raw_text_anywhere_is_rejected_or_harmless(sta, text):
    with _unchanged(sta):
        _attempt(sta, "/Things", {"$filter": text})
        _attempt(sta, "/Things", {"$filter": f"{text} eq 1"})
        _attempt(sta, "/Things", {"$filter": f"properties/{text} eq 'a'"})
        _attempt(sta, "/Things", {"$orderby": text})
        _attempt(sta, "/Things", {"$select": text})
        _attempt(sta, "/Things", {"$expand": text})
        _attempt(sta, "/Things", {"$top": text, "$skip": text, "$count": text})
        _attempt(sta, f"/Things({text})", {})
        _attempt(sta, f"/{text}", {})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=extended)
def test_random_trees_compile_to_running_sql_or_are_rejected(sta, tree):
    with _unchanged(sta):
        _attempt(sta, "/Observations", {"$filter": ast.to_text(tree)})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=nasty_text, number=st.integers(-(2**63), 2**63 - 1))
def test_service_root_and_continuation_values_stay_parameters(sta, text, number):
    """The service root (from the Host header) and a $skiptoken's values are client text too."""
    before = _counts(sta)
    path, query = parse_path("/Observations"), parse_query({"$orderby": "result desc"},
                                                            "Observations")
    vis = visibility(ANONYMOUS)
    for after in ([text, number], [number, number], [None, text]):
        compiled = compile_query(path, query, visibility=vis, extras=True, json_root=text,
                                 after=after)
        plain = compile_query(path, query, visibility=vis, extras=True, json_root="r",
                              after=[None if v is None else 1 for v in after])
        assert compiled.sql == plain.sql
        assert text in compiled.params
        try:
            fetch(sta, compiled)
        except BadRequest:
            pass        # a text compared with a number: the database cannot evaluate it
    assert _counts(sta) == before
