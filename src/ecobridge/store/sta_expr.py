"""SensorThings $filter / $orderby expressions compiled to DuckDB SQL.

Every literal becomes a `?` parameter and every name comes from the model, so a client's text
never reaches the SQL. Expressions are typed while they compile: a comparison of a string with a
number is a 400 here rather than a conversion error in the database. Values inside JSON
(properties/x) take the type of whatever they are compared with.

Navigation (Datastream/Thing/name) is resolved per predicate: each comparison or boolean
function that walks links becomes EXISTS (SELECT 1 FROM <linked rows> WHERE <links> AND <it>),
which is the "any" reading of SensorThings for to-many links; every linked row must itself be
visible to the principal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.filter import duration_parts
from ecobridge.monitoring.sta.model import (
    GEOMETRY,
    ID,
    INTERVAL,
    JSON,
    NUMBER,
    STRING,
    TIME,
    EntitySet,
    Relation,
    entity_set,
)

Frag = tuple[str, list]
# value types
NUM, STR, BOOL, TS, SPAN, DUR, DATE, TOD, GEOM, JSONV, NULL, OBJ = (
    "number", "string", "boolean", "datetime", "interval", "duration", "date", "time",
    "geometry", "json", "null", "object")
_KIND_TYPE = {ID: NUM, STRING: STR, NUMBER: NUM, TIME: TS, INTERVAL: SPAN, GEOMETRY: GEOM}
_CMP = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}
_CAST = {NUM: "DOUBLE", STR: "VARCHAR", BOOL: "BOOLEAN", TS: "TIMESTAMPTZ"}
SPATIAL = {"geo.intersects": "ST_Intersects", "st_equals": "ST_Equals",
            "st_disjoint": "ST_Disjoint", "st_touches": "ST_Touches", "st_within": "ST_Within",
            "st_overlaps": "ST_Overlaps", "st_crosses": "ST_Crosses",
            "st_intersects": "ST_Intersects", "st_contains": "ST_Contains"}
PARTS = {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute",
          "second": "second"}
MAX_STRING = 4294967295


def S(*parts: str | Frag) -> Frag:
    """Concatenate SQL text and (sql, params) fragments, keeping params in text order."""
    text: list[str] = []
    params: list = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            text.append(part[0])
            params.extend(part[1])
    return "".join(text), params


@dataclass
class V:
    """A compiled value: SQL, its params, its type; `end` for the end of an interval; `path`
    for a JSON value (the column is `sql`, the JSON path is a parameter)."""

    sql: str
    params: list
    type: str
    end: Frag | None = None
    path: str | None = None

    @property
    def frag(self) -> Frag:
        return self.sql, self.params


@dataclass
class Scope:
    """Where names resolve: the entity set and alias of the row being tested, and the linked
    rows a predicate has reached (nav prefix -> alias), collected for its EXISTS."""

    entity: str
    alias: str
    vars: dict[str, tuple[str, str]] = field(default_factory=dict)   # lambda var -> (set, alias)
    links: dict[tuple[str, ...], str] = field(default_factory=dict)
    joins: list[Frag] = field(default_factory=list)
    froms: list[str] = field(default_factory=list)


class ExprCompiler:
    """Compiles expressions for one query; `visible(entity, alias)` and `geometry(entity,
    alias, column)` come from the query compiler so governance applies to every row reached."""

    def __init__(self, visible: Callable[[str, str], str],
                 geometry: Callable[[str, str, str], Frag], new_alias: Callable[[], str]):
        self.visible, self.geometry, self.new_alias = visible, geometry, new_alias
        self.option = "$filter"        # named in errors; order_key switches it

    # -- boolean context -------------------------------------------------------------------------
    def predicate(self, expr: ast.Expr, entity: str, alias: str,
                  vars: dict[str, tuple[str, str]] | None = None) -> Frag:
        vars = vars or {}
        if isinstance(expr, ast.Binary) and expr.op in ast.LOGICAL:
            return S("(", self.predicate(expr.left, entity, alias, vars), f" {expr.op.upper()} ",
                     self.predicate(expr.right, entity, alias, vars), ")")
        if isinstance(expr, ast.Unary) and expr.op == "not":
            return S("(NOT ", self.predicate(expr.operand, entity, alias, vars), ")")
        scope = Scope(entity, alias, dict(vars))
        value = self.boolean(self.value(expr, scope), "$filter")
        return self.wrap(scope, value.frag)

    def wrap(self, scope: Scope, frag: Frag) -> Frag:
        if not scope.froms:
            return frag
        conds = " AND ".join(j[0] for j in scope.joins)
        return S(f"EXISTS (SELECT 1 FROM {', '.join(scope.froms)} WHERE ",
                 (conds, [p for j in scope.joins for p in j[1]]), " AND ", frag, ")")

    def order_key(self, expr: ast.Expr, entity: str, alias: str) -> Frag:
        return self.typed_order_key(expr, entity, alias)[0]

    def typed_order_key(self, expr: ast.Expr, entity: str, alias: str) -> tuple[Frag, str]:
        """The key and its value type (TS for times and intervals, which order by start)."""
        scope = Scope(entity, alias)
        self.option = "$orderby"
        try:
            value = self.value(expr, scope)
        finally:
            self.option = "$filter"
        if value.type in (GEOM, OBJ, NULL):
            raise BadRequest(f"$orderby: cannot order by a {value.type}", option="$orderby")
        frag = self.coerce(value, STR).frag if value.type == JSONV else value.frag
        kind = TS if value.type == SPAN else STR if value.type == JSONV else value.type
        if not scope.froms:
            return frag, kind
        if _through_many(scope):
            raise BadRequest("$orderby: a path through a to-many link has no single value",
                             option="$orderby")
        conds = " AND ".join(j[0] for j in scope.joins)
        return S("(SELECT ", frag, f" FROM {', '.join(scope.froms)} WHERE ",
                 (conds, [p for j in scope.joins for p in j[1]]), " LIMIT 1)"), kind

    # -- values ----------------------------------------------------------------------------------
    def value(self, expr: ast.Expr, scope: Scope) -> V:
        try:
            return self._value(expr, scope)
        except BadRequest as exc:
            pos = getattr(expr, "pos", None)
            if pos is None or "position" in exc.extra:
                raise
            raise BadRequest(f"{exc.detail} (at position {pos})",
                             **{"option": self.option, **exc.extra, "position": pos}) from None

    def _value(self, expr: ast.Expr, scope: Scope) -> V:
        if isinstance(expr, ast.Literal):
            return literal(expr)
        if isinstance(expr, ast.Property):
            return self.prop(expr, scope)
        if isinstance(expr, ast.Unary):
            inner = self.value(expr.operand, scope)
            if expr.op == "not":
                return V(*S("(NOT ", self.boolean(inner, "not").frag, ")"), BOOL)
            if inner.type == DUR:
                return V(*S("(-", inner.frag, ")"), DUR)
            return V(*S("(-", self.number(inner, "-").frag, ")"), NUM)
        if isinstance(expr, ast.Lambda):
            return self.lambda_(expr, scope)
        if isinstance(expr, ast.Collection):
            raise BadRequest("$filter: a list (a, b) only follows `in`")
        if isinstance(expr, ast.Binary) and expr.op == "in":
            return self.in_(expr, scope)
        if isinstance(expr, ast.Binary):
            left, right = self.value(expr.left, scope), self.value(expr.right, scope)
            if expr.op in ast.LOGICAL:
                return V(*S("(", self.boolean(left, expr.op).frag, f" {expr.op.upper()} ",
                            self.boolean(right, expr.op).frag, ")"), BOOL)
            if expr.op in ast.COMPARISON:
                return compare(expr.op, left, right)
            return arithmetic(expr.op, left, right)
        if isinstance(expr, ast.Call):
            from ecobridge.store.sta_functions import call

            return call(self, expr, [self.value(a, scope) for a in expr.args])
        raise BadRequest(f"$filter: unsupported expression {expr!r}")

    def in_(self, expr: ast.Binary, scope: Scope) -> V:
        """x in (a, b): any of the equalities; 'tag' in properties/tags: JSON array membership."""
        left = self.value(expr.left, scope)
        if isinstance(expr.right, ast.Collection):
            parts: list[str | Frag] = []
            for i, item in enumerate(expr.right.items):
                parts += [" OR " if i else "", compare("eq", left, self.value(item, scope)).frag]
            return V(*S("(", *parts, ")"), BOOL)
        right = self.value(expr.right, scope)
        if right.type != JSONV or left.type not in (STR, NUM, BOOL):
            raise BadRequest("$filter: `in` takes a list (a, b) or a JSON array property")
        return V(*S("COALESCE(json_contains(json_extract(", right.frag, ", ",
                    ("CAST(? AS VARCHAR)", [right.path]), "), to_json(", left.frag, ")), FALSE)"),
                 BOOL)

    def lambda_(self, expr: ast.Lambda, scope: Scope) -> V:
        """any/all over linked rows, each of them visible to the principal."""
        entity, alias = scope.vars[expr.source] if expr.source else (scope.entity, scope.alias)
        es, froms, conds = entity_set(entity), [], []
        for name in expr.nav:
            relation = es.relation(name)
            target = entity_set(relation.target)
            new = self.new_alias()
            froms.append(f"{target.table} {new}")
            conds += [join_sql(relation, alias, new, self.new_alias),
                      self.visible(target.name, new)]
            alias, es = new, target
        head = f"SELECT 1 FROM {', '.join(froms)} WHERE {' AND '.join(conds)}"
        if expr.body is None:
            return V(f"EXISTS ({head})", [], BOOL)
        body = self.predicate(expr.body, scope.entity, scope.alias,
                              {**scope.vars, expr.var: (es.name, alias)})
        if expr.op == "any":
            return V(*S(f"EXISTS ({head} AND ", body, ")"), BOOL)
        return V(*S(f"NOT EXISTS ({head} AND NOT COALESCE(", body, ", FALSE))"), BOOL)

    def prop(self, expr: ast.Property, scope: Scope) -> V:
        es, alias = entity_set(scope.entity), scope.alias
        start: tuple[str, ...] = ()
        if expr.var is not None:
            entity, alias = scope.vars[expr.var]
            es, start = entity_set(entity), (f"${expr.var}",)
        for i, name in enumerate(expr.nav):
            relation = es.relation(name)
            if relation is None:
                raise BadRequest(f"{es.singular} has no navigation link {name!r}")
            prefix = start + expr.nav[:i + 1]
            if prefix not in scope.links:
                target = entity_set(relation.target)
                new = self.new_alias()
                scope.links[prefix] = new
                scope.froms.append(f"{target.table} {new}")
                scope.joins.append((join_sql(relation, alias, new, self.new_alias), []))
                scope.joins.append((self.visible(target.name, new), []))
            alias, es = scope.links[prefix], entity_set(relation.target)
        return column(es, alias, expr.name, expr.json, self.geometry)

    # -- coercions -------------------------------------------------------------------------------
    def boolean(self, v: V, where: str) -> V:
        if v.type in (BOOL, NULL):
            return v
        if v.type == JSONV:
            return self.coerce(v, BOOL)
        raise BadRequest(f"{where}: expected a boolean expression, found a {v.type}")

    def number(self, v: V, where: str) -> V:
        if v.type == NUM:
            return v
        if v.type in (JSONV, NULL):
            return self.coerce(v, NUM)
        raise BadRequest(f"{where}: expected a number, found a {v.type}")

    def string(self, v: V, where: str) -> V:
        if v.type == STR:
            return v
        if v.type in (JSONV, NULL):
            return self.coerce(v, STR)
        raise BadRequest(f"{where}: expected a string, found a {v.type}")

    def coerce(self, v: V, want: str) -> V:
        return coerce(v, want)


def coerce(v: V, want: str) -> V:
    if v.type == NULL:
        return V(f"CAST(NULL AS {_CAST.get(want, 'VARCHAR')})", [], want)
    if v.type != JSONV:
        return v
    text = S("json_extract_string(", v.frag, ", CAST(? AS VARCHAR))")
    text = (text[0], text[1] + [v.path])
    if want == STR:
        return V(*text, STR)
    return V(*S("TRY_CAST(", text, f" AS {_CAST[want]})"), want)


def literal(lit: ast.Literal) -> V:
    k, value = lit.kind, lit.value
    if k == ast.STRING:
        return V("CAST(? AS VARCHAR)", [value], STR)
    if k == ast.NUMBER:
        cast = "BIGINT" if isinstance(value, int) and -2**63 <= value < 2**63 else "DOUBLE"
        return V(f"CAST(? AS {cast})", [value if cast == "BIGINT" else float(value)], NUM)
    if k == ast.BOOL:
        return V("CAST(? AS BOOLEAN)", [value], BOOL)
    if k == ast.NULL:
        return V("NULL", [], NULL)
    if k == ast.DATETIME:
        return V("CAST(? AS TIMESTAMPTZ)", [value], TS)
    if k == ast.INTERVAL:
        return V("CAST(? AS TIMESTAMPTZ)", [value[0]], SPAN, end=("CAST(? AS TIMESTAMPTZ)",
                                                                 [value[1]]))
    if k == ast.DURATION:
        months, days, micros = duration_parts(value)
        return V("(to_months(CAST(? AS INTEGER)) + to_days(CAST(? AS INTEGER))"
                 " + to_microseconds(CAST(? AS BIGINT)))", [months, days, micros], DUR)
    if k == ast.GEOGRAPHY:
        return V("ST_GeomFromText(CAST(? AS VARCHAR))", [value], GEOM)
    raise BadRequest(f"unsupported literal {k}")


def column(es: EntitySet, alias: str, name: str, keys: tuple[str, ...],
           geometry: Callable[[str, str, str], Frag]) -> V:
    prop = es.prop(name)
    if prop is None:
        raise BadRequest(f"{es.singular} has no property {name!r}")
    cols = [f"{alias}.{c}" for c in prop.columns]
    if prop.kind == JSON and len(cols) > 1:
        return V(composite(es, alias), [], OBJ)
    if prop.kind == JSON:
        return V(cols[0], [], JSONV, path="$" + "".join(f'."{k}"' for k in keys))
    if prop.kind == INTERVAL:
        return V(cols[0], [], SPAN, end=(cols[1], []))
    if prop.kind == GEOMETRY:
        return V(*geometry(es.name, alias, prop.columns[0]), GEOM)
    return V(cols[0], [], _KIND_TYPE[prop.kind])


def composite(es: EntitySet, alias: str) -> str:
    """A composite property (unitOfMeasurement) as a JSON object of its members."""
    members = [p for p in es.props if p.parent is not None]
    pairs = ", ".join(f"'{p.name.split('/')[1]}', {alias}.{p.columns[0]}" for p in members)
    return f"json_object({pairs})"


def join_sql(relation: Relation, source: str, target: str, new_alias: Callable[[], str]) -> str:
    """The condition linking a source row (alias `source`) to a target row (`target`)."""
    if relation.bridge == "target":
        return f"{target}.{relation.source_col} = {source}.id"
    if relation.bridge == "source":
        return f"{source}.{relation.target_col} = {target}.id"
    link = new_alias()
    return (f"EXISTS (SELECT 1 FROM {relation.bridge} {link} WHERE "
            f"{link}.{relation.source_col} = {source}.id AND "
            f"{link}.{relation.target_col} = {target}.id)")


def _span(v: V) -> tuple[Frag, Frag]:
    """(start, end) of a time value; an instant is an interval of length zero."""
    return v.frag, (v.end if v.end is not None else v.frag)


def compare(op: str, left: V, right: V) -> V:
    if NULL in (left.type, right.type):
        if op not in ("eq", "ne"):
            raise BadRequest(f"$filter: {op} with null is never true; use eq or ne")
        other = right if left.type == NULL else left
        if other.type == NULL:
            return V("TRUE" if op == "eq" else "FALSE", [], BOOL)
        start = other.frag if other.type != JSONV else coerce(other, STR).frag
        return V(*S("(", start, " IS NULL)" if op == "eq" else " IS NOT NULL)"), BOOL)
    if left.type == JSONV and right.type == JSONV:
        left, right = coerce(left, STR), coerce(right, STR)
    elif JSONV in (left.type, right.type):
        other = right if left.type == JSONV else left
        want = TS if other.type == SPAN else other.type
        if want not in _CAST:
            raise BadRequest(f"$filter: cannot compare a JSON value with a {other.type}")
        left, right = coerce(left, want), coerce(right, want)
    types = {left.type, right.type}
    if types <= {TS, SPAN} and SPAN in types:
        return _compare_spans(op, left, right)
    if left.type != right.type or left.type in (GEOM, OBJ):
        raise BadRequest(f"$filter: cannot compare a {left.type} with a {right.type}"
                         + (" (use st_equals)" if GEOM in types else ""))
    return V(*S("(", left.frag, f" {_CMP[op]} ", right.frag, ")"), BOOL)


def _compare_spans(op: str, left: V, right: V) -> V:
    """Intervals are half-open [start, end); X le Y when both ends of X are <= those of Y."""
    if op in ("gt", "ge"):
        op, left, right = {"gt": "lt", "ge": "le"}[op], right, left
    (ls, le), (rs, re_) = _span(left), _span(right)
    if op == "eq":
        return V(*S("(", ls, " = ", rs, " AND ", le, " = ", re_, ")"), BOOL)
    if op == "ne":
        return V(*S("(", ls, " <> ", rs, " OR ", le, " <> ", re_, ")"), BOOL)
    first = "<" if op == "lt" else "<="
    return V(*S("(", ls, f" {first} ", rs, " AND ", le, " <= ", re_, ")"), BOOL)


def arithmetic(op: str, left: V, right: V) -> V:
    sym = _ARITH[op]
    lt, rt = left.type, right.type
    if lt in (TS, SPAN) and rt == DUR and op in ("add", "sub"):
        start = S("(", left.frag, f" {sym} ", right.frag, ")")
        end = S("(", left.end, f" {sym} ", right.frag, ")") if left.end else None
        return V(*start, lt, end=end)
    if lt == DUR and rt == TS and op == "add":
        return V(*S("(", right.frag, " + ", left.frag, ")"), TS)
    if lt == TS and rt == TS and op == "sub":
        return V(*S("(", left.frag, " - ", right.frag, ")"), DUR)
    if lt == DUR and rt == DUR and op in ("add", "sub"):
        return V(*S("(", left.frag, f" {sym} ", right.frag, ")"), DUR)
    nums = []
    for v in (left, right):
        if v.type not in (NUM, JSONV, NULL):
            raise BadRequest(f"$filter: cannot {op} a {lt} and a {rt}")
        nums.append(coerce(v, NUM))
    return V(*S("(CAST(", nums[0].frag, f" AS DOUBLE) {sym} CAST(", nums[1].frag,
                " AS DOUBLE))"), NUM)


def _through_many(scope: Scope) -> bool:
    for prefix in scope.links:
        es = entity_set(scope.entity)
        if prefix[0].startswith("$"):
            es = entity_set(scope.vars[prefix[0][1:]][0])
            prefix = prefix[1:]
        for name in prefix:
            relation = es.relation(name)
            if relation.many:
                return True
            es = entity_set(relation.target)
    return False
