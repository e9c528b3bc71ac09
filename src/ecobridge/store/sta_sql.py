"""SensorThings queries compiled to parameterised DuckDB SQL against the 0001 schema.

The only way in is `compile_query` / `compile_expand`, and both require a `Visibility`: the
governance predicate over `things.dataset_id` and the function that generalises sensitive
coordinates. Every entity reached - the rows asked for, the parents on the path, the rows a
filter navigates to, expanded rows - must be visible: a Thing through its dataset, a Datastream
or HistoricalLocation through its Thing, an Observation through its Datastream, a Location,
Sensor or FeatureOfInterest through any visible Thing that uses it (or through none, if nothing
uses it yet). ObservedProperties are the shared vocabulary and always visible. Geometries, in
filters and in results, are the generalised ones.
"""

from __future__ import annotations

import itertools
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.model import GEOMETRY, INTERVAL, JSON, EntitySet, entity_set
from ecobridge.store.sta_expr import ExprCompiler, Frag, S, composite, join_sql

Locate = Callable[[str, str], Frag]


@dataclass(frozen=True)
class Visibility:
    """What the principal may see. `things` is a condition over the `dataset_id` column of
    things, e.g. governance.dataset_filter_sql(principal); `locate(geometry_sql, alias)` is
    governance.location_sql bound to the principal, over `datasets AS alias`."""

    things: Frag
    locate: Locate


@dataclass(frozen=True)
class Column:
    name: str                      # SensorThings property name; "@iot.id" for the id
    kind: str                      # model kind; decides how `decode` reads the value(s)


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list
    columns: tuple[Column, ...]
    count_sql: str | None = None   # `$count=true`: one row (or one per parent for expands)
    count_params: list | None = None
    limit: int | None = None       # rows asked for; the SQL fetches one more to see a next page


_VISIBLE = {
    "Things": "{a}.id IN (SELECT id FROM vis_things)",
    "Datastreams": "{a}.thing_id IN (SELECT id FROM vis_things)",
    "HistoricalLocations": "{a}.thing_id IN (SELECT id FROM vis_things)",
    "Observations": "{a}.datastream_id IN (SELECT id FROM vis_datastreams)",
    "ObservedProperties": "TRUE",
    "Sensors": "({a}.id IN (SELECT sensor_id FROM datastreams WHERE thing_id IN"
               " (SELECT id FROM vis_things)) OR NOT EXISTS"
               " (SELECT 1 FROM datastreams WHERE sensor_id = {a}.id))",
    "Locations": "({a}.id IN (SELECT location_id FROM thing_locations WHERE thing_id IN"
                 " (SELECT id FROM vis_things) UNION ALL SELECT hll.location_id FROM"
                 " historical_location_locations hll JOIN historical_locations hl ON"
                 " hl.id = hll.historical_location_id WHERE hl.thing_id IN"
                 " (SELECT id FROM vis_things)) OR (NOT EXISTS (SELECT 1 FROM thing_locations"
                 " WHERE location_id = {a}.id) AND NOT EXISTS (SELECT 1 FROM"
                 " historical_location_locations WHERE location_id = {a}.id)))",
    "FeaturesOfInterest": "({a}.id IN (SELECT feature_of_interest_id FROM observations WHERE"
                          " datastream_id IN (SELECT id FROM vis_datastreams)) OR NOT EXISTS"
                          " (SELECT 1 FROM observations WHERE feature_of_interest_id = {a}.id))",
}

# The datasets a geometry belongs to, for generalising it.
_GEOMETRY_DATASETS = {
    "Locations": "SELECT gt.dataset_id FROM thing_locations gl JOIN things gt ON"
                 " gt.id = gl.thing_id WHERE gl.location_id = {a}.id UNION ALL SELECT"
                 " gt.dataset_id FROM historical_location_locations gl JOIN"
                 " historical_locations gh ON gh.id = gl.historical_location_id JOIN things gt"
                 " ON gt.id = gh.thing_id WHERE gl.location_id = {a}.id",
    "FeaturesOfInterest": "SELECT gt.dataset_id FROM observations go JOIN datastreams gs ON"
                          " gs.id = go.datastream_id JOIN things gt ON gt.id = gs.thing_id"
                          " WHERE go.feature_of_interest_id = {a}.id",
    "Datastreams": "SELECT gt.dataset_id FROM things gt WHERE gt.id = {a}.thing_id",
}


class _QueryCompiler:
    def __init__(self, visibility: Visibility):
        if not isinstance(visibility, Visibility):
            raise TypeError("visibility must be a sta_sql.Visibility")
        self.visibility = visibility
        counter = itertools.count(1)
        self.new_alias = lambda: f"n{next(counter)}"
        self.expr = ExprCompiler(self.visible, self.geometry, self.new_alias)

    def cte(self) -> Frag:
        return S("WITH vis_things AS (SELECT id FROM things WHERE ", self.visibility.things,
                 "), vis_datastreams AS (SELECT id FROM datastreams WHERE thing_id IN"
                 " (SELECT id FROM vis_things)) ")

    def visible(self, entity: str, alias: str) -> str:
        return _VISIBLE[entity].format(a=alias)

    def geometry(self, entity: str, alias: str, column: str) -> Frag:
        geom = f"{alias}.{column}"
        located = self.visibility.locate(geom, "gd")
        if located[0] == geom:
            return geom, list(located[1])
        source = _GEOMETRY_DATASETS[entity].format(a=alias)
        return S("COALESCE((SELECT ", located, f" FROM datasets gd WHERE gd.id IN ({source})"
                 " ORDER BY gd.sensitive DESC, gd.generalise_km DESC LIMIT 1), ", geom, ")")

    def select_list(self, es: EntitySet, alias: str, select: tuple[str, ...] | None
                    ) -> tuple[Frag, tuple[Column, ...]]:
        parts: list[str | Frag] = [f"{alias}.id"]
        columns = [Column("@iot.id", "id")]
        for prop in es.printed_props:
            if select is not None and prop.name not in select:
                continue
            cols = [f"{alias}.{c}" for c in prop.columns]
            if prop.kind == JSON and len(cols) > 1:
                parts += [", ", composite(es, alias)]
            elif prop.kind == INTERVAL:
                parts += [", ", cols[0], ", ", cols[1]]
            elif prop.kind == GEOMETRY:
                parts += [", ST_AsGeoJSON(", self.geometry(es.name, alias, prop.columns[0]), ")"]
            else:
                parts += [", ", cols[0]]
            columns.append(Column(prop.name, prop.kind))
        return S(*parts), tuple(columns)

    def where(self, query: ast.Query, alias: str, extra: Sequence[Frag] = ()) -> Frag:
        conds: list[Frag] = [(self.visible(query.entity_set, alias), []), *extra]
        if query.filter is not None:
            conds.append(self.expr.predicate(query.filter, query.entity_set, alias))
        return S(*itertools.chain.from_iterable(
            (" AND " if i else "", c) for i, c in enumerate(conds)))

    def order(self, query: ast.Query, alias: str) -> Frag:
        parts: list[str | Frag] = []
        for item in query.orderby:
            key = self.expr.order_key(item.expr, query.entity_set, alias)
            parts += [key, " DESC NULLS LAST, " if item.descending else " ASC NULLS FIRST, "]
        return S(*parts, f"{alias}.id")

    def path(self, path: ast.ResourcePath, alias: str) -> list[Frag]:
        """Conditions tying the target rows to the entities named along the path."""
        segments = path.segments
        conds: list[Frag] = []
        if segments[-1].id is not None:
            conds.append((f"{alias}.id = ?", [segments[-1].id]))
        if len(segments) > 1:
            conds.append(self._parent(segments, len(segments) - 2, alias))
        return conds

    def _parent(self, segments: tuple[ast.Segment, ...], i: int, child: str) -> Frag:
        parent = segments[i]
        es = entity_set(parent.entity_set)
        relation = es.relation(segments[i + 1].name)
        alias = self.new_alias()
        body: list[str | Frag] = [
            f"EXISTS (SELECT 1 FROM {es.table} {alias} WHERE ",
            join_sql(relation, alias, child, self.new_alias), " AND ",
            self.visible(parent.entity_set, alias)]
        if parent.id is not None:
            body += [" AND ", (f"{alias}.id = ?", [parent.id])]
        if i > 0:
            body += [" AND ", self._parent(segments, i - 1, alias)]
        return S(*body, ")")


def _limit(query: ast.Query, default_top: int, max_top: int) -> int:
    return min(query.top if query.top is not None else default_top, max_top)


def compile_query(path: ast.ResourcePath, query: ast.Query, *, visibility: Visibility,
                  default_top: int = 100, max_top: int = 10_000) -> Compiled:
    """SQL for the entities a path names (a set, or one entity), under `query`'s options.

    The SQL returns at most limit + 1 rows, ordered; the extra row means a next page exists.
    """
    if path.entity_set != query.entity_set:
        raise ValueError(f"query for {query.entity_set} does not fit path {path}")
    qc = _QueryCompiler(visibility)
    es = entity_set(query.entity_set)
    alias = "e0"
    select, columns = qc.select_list(es, alias, query.select)
    where = qc.where(query, alias, qc.path(path, alias))
    limit = _limit(query, default_top, max_top)
    cte = qc.cte()
    sql, params = S(cte, "SELECT ", select, f" FROM {es.table} {alias} WHERE ", where,
                    " ORDER BY ", qc.order(query, alias),
                    (" LIMIT ? OFFSET ?", [limit + 1, query.skip]))
    count_sql = count_params = None
    if query.count:
        count_sql, count_params = S(cte, f"SELECT count(*) FROM {es.table} {alias} WHERE ",
                                    where)
    return Compiled(sql, params, columns, count_sql, count_params, limit)


def compile_expand(parent_entity: str, expand: ast.Expand, parent_ids: Sequence[int], *,
                   visibility: Visibility, default_top: int = 100, max_top: int = 10_000
                   ) -> Compiled:
    """SQL for the entities linked to `parent_ids` through `expand.relation`, with the expand's
    own options applied per parent. Each row starts with the parent id; then come `columns`."""
    relation = entity_set(parent_entity).relation(expand.relation)
    if relation is None:
        raise BadRequest(f"{parent_entity} has no navigation link {expand.relation!r}")
    query = expand.query
    qc = _QueryCompiler(visibility)
    es = entity_set(relation.target)
    alias = "e0"
    ids = ("(SELECT unnest(CAST(? AS BIGINT[])))", [list(parent_ids)])
    if relation.bridge == "target":
        source = f"{es.table} {alias}"
        parent_key = f"{alias}.{relation.source_col}"
    else:
        bridge = (entity_set(parent_entity).table if relation.bridge == "source"
                  else relation.bridge)
        source = (f"{bridge} b0 JOIN {es.table} {alias} ON {alias}.id = b0.{relation.target_col}")
        parent_key = f"b0.{relation.source_col}"
    select, columns = qc.select_list(es, alias, query.select)
    where = qc.where(query, alias, [S(f"{parent_key} IN ", ids)])
    limit = _limit(query, default_top, max_top)
    cte = qc.cte()
    sql, params = S(cte, "SELECT * EXCLUDE (__rn) FROM (SELECT ", parent_key, " AS __parent, ",
                    select, f", row_number() OVER (PARTITION BY {parent_key} ORDER BY ",
                    qc.order(query, alias), f") AS __rn FROM {source} WHERE ", where,
                    ") WHERE __rn > ? AND __rn <= ? ORDER BY __parent, __rn")
    params += [query.skip, query.skip + limit + 1]
    count_sql = count_params = None
    if query.count:
        count_sql, count_params = S(cte, f"SELECT {parent_key}, count(*) FROM {source} WHERE ",
                                    where, f" GROUP BY {parent_key}")
    return Compiled(sql, params, columns, count_sql, count_params, limit)


def decode(compiled: Compiled, row: Sequence) -> dict:
    """A result row as {property: value}: JSON and GeoJSON parsed, an interval as a
    (start, end) pair. For an expand row the parent id is under "@parent"."""
    out: dict = {}
    values = iter(row)
    if len(row) > sum(2 if c.kind == INTERVAL else 1 for c in compiled.columns):
        out["@parent"] = next(values)
    for col in compiled.columns:
        value = next(values)
        if col.kind == INTERVAL:
            end = next(values)
            value = None if value is None else (value, end)
        elif col.kind in (JSON, GEOMETRY) and isinstance(value, str):
            value = json.loads(value)
        out[col.name] = value
    return out


_FUNCTIONS_READY: weakref.WeakSet = weakref.WeakSet()


def _ensure_functions(store) -> None:
    """Register sta_relate (DE-9IM via shapely) once per store; DuckDB spatial lacks it."""
    if store in _FUNCTIONS_READY:
        return
    import shapely

    def relate(a: bytes | None, b: bytes | None, pattern: str | None) -> bool | None:
        if a is None or b is None or pattern is None:
            return None
        return bool(shapely.from_wkb(a).relate_pattern(shapely.from_wkb(b), pattern))

    try:
        store.cursor().create_function("sta_relate", relate, ["BLOB", "BLOB", "VARCHAR"],
                                       "BOOLEAN", null_handling="special")
    except duckdb.NotImplementedException:
        pass                       # registered earlier on this database
    _FUNCTIONS_READY.add(store)


def _run(store, sql: str, params: list) -> list[tuple]:
    _ensure_functions(store)
    try:
        return store.rows(sql, params)
    except (duckdb.ConversionException, duckdb.OutOfRangeException,
            duckdb.InvalidInputException) as exc:
        raise BadRequest(f"the query cannot be evaluated: {str(exc).splitlines()[0]}") from None


def fetch(store, compiled: Compiled) -> tuple[list[dict], bool, int | None]:
    """Run a `compile_query` result: (rows decoded, whether a next page exists, the count
    when $count=true, else None)."""
    rows = _run(store, compiled.sql, compiled.params)
    count = None
    if compiled.count_sql is not None:
        count = _run(store, compiled.count_sql, compiled.count_params)[0][0]
    return [decode(compiled, r) for r in rows[:compiled.limit]], len(rows) > compiled.limit, count


@dataclass
class Expanded:
    rows: list[dict]
    more: bool = False
    count: int | None = None


def fetch_expand(store, compiled: Compiled) -> dict[int, Expanded]:
    """Run a `compile_expand` result: per parent id, its linked rows, whether there are more
    and (with $count=true) how many; parents with nothing linked are absent."""
    out: dict[int, Expanded] = {}
    for row in _run(store, compiled.sql, compiled.params):
        item = decode(compiled, row)
        group = out.setdefault(item.pop("@parent"), Expanded([]))
        if len(group.rows) < compiled.limit:
            group.rows.append(item)
        else:
            group.more = True
    if compiled.count_sql is not None:
        for parent, n in _run(store, compiled.count_sql, compiled.count_params):
            out.setdefault(parent, Expanded([])).count = n
    return out
