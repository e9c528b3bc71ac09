"""SensorThings built-in functions ($filter, $orderby) mapped to DuckDB and DuckDB spatial.

String positions follow FROST-Server, the reference implementation, and the examples of the
standard: substring() counts from 0 (`substring('Sensor Things', 1)` is 'ensor Things') while
indexof() counts from 1 (`indexof('Sensor Things', 'Sensor')` is 1) and is 0 when not found.
Times are stored in UTC, so totaloffsetminutes() of a stored time is 0.
st_relate() runs on shapely through a scalar function registered on the connection (DuckDB
spatial has no ST_Relate); the pattern must be a literal DE-9IM mask.
"""

from __future__ import annotations

import re

from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import ast
from ecobridge.store.sta_expr import (
    BOOL,
    DATE,
    GEOM,
    JSONV,
    MAX_STRING,
    NULL,
    NUM,
    PARTS,
    SPAN,
    SPATIAL,
    STR,
    TOD,
    TS,
    S,
    V,
    coerce,
)

_DE9IM = re.compile(r"[TF012*]{9}")
_STRING_FUNCS = {"tolower": "lower", "toupper": "upper", "trim": "trim"}
_MATH = {"round": "round", "floor": "floor", "ceiling": "ceil"}


def call(compiler, expr: ast.Call, args: list[V]) -> V:
    name = expr.name
    if name in ("substringof", "startswith", "endswith", "indexof", "concat", "length",
                "substring") or name in _STRING_FUNCS:
        return _string(compiler, name, args)
    if name in _MATH:
        return V(*S(f"{_MATH[name]}(CAST(", compiler.number(args[0], name).frag,
                    " AS DOUBLE))"), NUM)
    if name in ("now", "mindatetime", "maxdatetime"):
        return V({"now": "CAST(now() AS TIMESTAMPTZ)",
                  "mindatetime": "CAST('0001-01-01 00:00:00+00' AS TIMESTAMPTZ)",
                  "maxdatetime": "CAST('9999-12-31 23:59:59.999999+00' AS TIMESTAMPTZ)"}[name],
                 [], TS)
    if name in PARTS or name in ("fractionalseconds", "date", "time", "totaloffsetminutes"):
        return _time(name, args[0])
    if name in TIME_RELATIONS:
        return _time_relation(name, args[0], args[1])
    return _spatial(name, args)


TIME_RELATIONS = ("before", "after", "meets", "during", "overlaps", "starts", "finishes")


def _time_relation(name: str, a: V, b: V) -> V:
    """Relations of instants and half-open [start, end) intervals; an instant is a point."""
    for v in (a, b):
        if v.type not in (TS, SPAN, JSONV, NULL):
            raise BadRequest(f"$filter: {name}() expects times or intervals, found a {v.type}")
    a, b = (coerce(v, TS) if v.type in (JSONV, NULL) else v for v in (a, b))
    if name == "after":
        name, a, b = "before", b, a
    (a0, a1), (b0, b1) = _ends(a), _ends(b)
    if name == "before":
        # an interval ends before b when its (exclusive) end is at or before b's start
        return _bool("(", a1, " <= " if a.type == SPAN else " < ", b0, ")")
    if name == "meets":
        return _bool("(", a1, " = ", b0, " OR ", b1, " = ", a0, ")")
    if name == "during":
        if b.type == SPAN and a.type != SPAN:
            return _bool("(", b0, " <= ", a0, " AND ", a0, " < ", b1, ")")
        return _bool("(", b0, " <= ", a0, " AND ", a1, " <= ", b1, ")")
    if name == "overlaps":
        if a.type != SPAN and b.type != SPAN:
            return _bool("(", a0, " = ", b0, ")")
        if a.type != SPAN or b.type != SPAN:
            (p, _), (s0, s1) = (_ends(a), _ends(b)) if a.type != SPAN else (_ends(b), _ends(a))
            return _bool("(", s0, " <= ", p, " AND ", p, " < ", s1, ")")
        return _bool("(", a0, " < ", b1, " AND ", b0, " < ", a1, ")")
    if name == "starts":
        return _bool("(", a0, " = ", b0, ")")
    return _bool("(", a1, " = ", b1, ")")       # finishes


def _ends(v: V) -> tuple[tuple[str, list], tuple[str, list]]:
    return v.frag, (v.end if v.end is not None else v.frag)


def _bool(*parts) -> V:
    return V(*S(*parts), BOOL)


def _string(compiler, name: str, args: list[V]) -> V:
    if name == "substring":
        s = compiler.string(args[0], name)
        start = compiler.number(args[1], name)
        parts = ["substring(", s.frag, ", ", _bounded(start), " + 1"]
        if len(args) == 3:
            parts += [", ", _bounded(compiler.number(args[2], name))]
        return V(*S(*parts, ")"), STR)
    strs = [compiler.string(a, name) for a in args]
    if name in _STRING_FUNCS:
        return V(*S(f"{_STRING_FUNCS[name]}(", strs[0].frag, ")"), STR)
    if name == "length":
        return V(*S("length(", strs[0].frag, ")"), NUM)
    a, b = strs[0].frag, strs[1].frag
    if name == "substringof":
        return V(*S("contains(", b, ", ", a, ")"), BOOL)
    if name == "startswith":
        return V(*S("starts_with(", a, ", ", b, ")"), BOOL)
    if name == "endswith":
        return V(*S("ends_with(", a, ", ", b, ")"), BOOL)
    if name == "indexof":
        return V(*S("strpos(", a, ", ", b, ")"), NUM)
    return V(*S("concat(", a, ", ", b, ")"), STR)


def _bounded(v: V) -> tuple[str, list]:
    """An integer argument clamped to what DuckDB's string functions accept."""
    return S("LEAST(GREATEST(TRY_CAST(", v.frag, f" AS BIGINT), 0), {MAX_STRING})")


def _time(name: str, arg: V) -> V:
    allowed = {TS, SPAN, JSONV, NULL} | ({DATE} if name in ("year", "month", "day") else set())
    allowed |= {TOD} if name in ("hour", "minute", "second", "fractionalseconds") else set()
    if arg.type not in allowed:
        raise BadRequest(f"$filter: {name}() expects a time, found a {arg.type}")
    value = coerce(arg, TS).frag
    if name in PARTS:
        return V(*S(f"date_part('{PARTS[name]}', ", value, ")"), NUM)
    if name == "fractionalseconds":
        return V(*S("((date_part('microsecond', ", value, ") % 1000000) / 1000000.0)"), NUM)
    if name == "totaloffsetminutes":
        return V(*S("(date_part('timezone', ", value, ") // 60)"), NUM)
    if name == "date":
        return V(*S("CAST(", value, " AS DATE)"), DATE)
    return V(*S("CAST(CAST(", value, " AS TIMESTAMP) AS TIME)"), TOD)


def _spatial(name: str, args: list[V]) -> V:
    geoms = args[:2] if name == "st_relate" else args
    for g in geoms:
        if g.type not in (GEOM, NULL):
            raise BadRequest(f"$filter: {name}() expects geometries, found a {g.type}")
    frags = [g.frag if g.type == GEOM else ("CAST(NULL AS GEOMETRY)", []) for g in geoms]
    if name == "geo.distance":
        return V(*S("ST_Distance(", frags[0], ", ", frags[1], ")"), NUM)
    if name == "geo.length":
        return V(*S("ST_Length(", frags[0], ")"), NUM)
    if name == "st_relate":
        pattern = args[2]
        value = pattern.params[0] if pattern.type == STR and len(pattern.params) == 1 else None
        if not (isinstance(value, str) and pattern.sql == "CAST(? AS VARCHAR)"
                and _DE9IM.fullmatch(value.upper())):
            raise BadRequest("$filter: st_relate() needs a DE-9IM pattern literal such as "
                             "'T********'")
        return V(*S("sta_relate(ST_AsWKB(", frags[0], "), ST_AsWKB(", frags[1], "), ",
                    ("CAST(? AS VARCHAR)", [value.upper()]), ")"), BOOL)
    return V(*S(f"{SPATIAL[name]}(", frags[0], ", ", frags[1], ")"), BOOL)
