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
from datetime import UTC, datetime, timedelta
from functools import cached_property

import duckdb

from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.model import GEOMETRY, INTERVAL, JSON, TIME, EntitySet, entity_set
from ecobridge.store.sta_expr import TS, ExprCompiler, Frag, S, composite, join_sql
from ecobridge.store.sta_json import entity_json_sql

Locate = Callable[[str, str], Frag]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


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
    keys: int = 0                  # trailing order-key columns "@k0".. (with extras=True)

    @cached_property
    def width(self) -> int:
        return sum(2 if c.kind == INTERVAL else 1 for c in self.columns)

    @cached_property
    def layout(self) -> tuple[tuple[str, str | None], ...]:
        """(name, TIME | INTERVAL | "json" (text to parse) | None) per column, for `decode`."""
        return tuple((c.name, c.kind if c.kind in (TIME, INTERVAL) else
                      "json" if c.kind in (JSON, GEOMETRY) else None) for c in self.columns)


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
    # A feature is hidden when it is used, and used by no visible datastream; the links
    # (migration 0006) stand in for a scan of the observations.
    "FeaturesOfInterest": "{a}.id NOT IN (SELECT fd.feature_of_interest_id FROM"
                          " feature_datastreams fd JOIN datastreams fds ON"
                          " fds.id = fd.datastream_id GROUP BY fd.feature_of_interest_id"
                          " HAVING NOT bool_or(fd.datastream_id IN"
                          " (SELECT id FROM vis_datastreams)))",
}

# The dataset an entity belongs to, for the read audit ("@audit" with extras=True).
AUDIT_DATASET = {
    "Things": "{a}.dataset_id",
    "Datastreams": "(SELECT au.dataset_id FROM things au WHERE au.id = {a}.thing_id)",
    "HistoricalLocations": "(SELECT au.dataset_id FROM things au WHERE au.id = {a}.thing_id)",
    "Observations": "(SELECT au.dataset_id FROM datastreams ad JOIN things au ON"
                    " au.id = ad.thing_id WHERE ad.id = {a}.datastream_id)",
}
# (parent set, link) whose targets are visible exactly when the parent is: an observation
# through its datastream, a datastream or historical location through its thing.
_OWNED = {("Datastreams", "Observations"), ("Things", "Datastreams"),
          ("Things", "HistoricalLocations")}
# Orders that follow the storage: observations lie in (datastream, phenomenon time) order.
_DEFAULT_ORDER = {"Observations": ("phenomenon_time",)}

# The datasets a geometry belongs to, for generalising it.
_GEOMETRY_DATASETS = {
    "Locations": "SELECT gt.dataset_id FROM thing_locations gl JOIN things gt ON"
                 " gt.id = gl.thing_id WHERE gl.location_id = {a}.id UNION ALL SELECT"
                 " gt.dataset_id FROM historical_location_locations gl JOIN"
                 " historical_locations gh ON gh.id = gl.historical_location_id JOIN things gt"
                 " ON gt.id = gh.thing_id WHERE gl.location_id = {a}.id",
    "FeaturesOfInterest": "SELECT gt.dataset_id FROM feature_datastreams gf JOIN datastreams"
                          " gs ON gs.id = gf.datastream_id JOIN things gt ON"
                          " gt.id = gs.thing_id WHERE gf.feature_of_interest_id = {a}.id",
    "Datastreams": "SELECT gt.dataset_id FROM things gt WHERE gt.id = {a}.thing_id",
}


class _QueryCompiler:
    def __init__(self, visibility: Visibility):
        if not isinstance(visibility, Visibility):
            raise TypeError("visibility must be a sta_sql.Visibility")
        self.visibility = visibility
        self.owner_dataset: str | None = None   # set when an owner row is cross-joined
        counter = itertools.count(1)
        self.new_alias = lambda: f"n{next(counter)}"
        self.expr = ExprCompiler(self.visible, self.geometry, self.new_alias)

    def cte(self) -> Frag:
        return S("WITH vis_things AS (SELECT id FROM things WHERE ", self.visibility.things,
                 "), vis_datastreams AS (SELECT id FROM datastreams WHERE thing_id IN"
                 " (SELECT id FROM vis_things)) ")

    def with_cte(self, body: Frag) -> Frag:
        """`body` with the visibility CTEs in front, when it uses them."""
        return S(self.cte(), body) if "vis_" in body[0] else body

    def visible(self, entity: str, alias: str) -> str:
        if self.visibility.things[0].strip().lower() == "true":
            return "TRUE"          # sees every dataset (platform admin): no scans to decide
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
                parts += [", epoch_us(", cols[0], "), epoch_us(", cols[1], ")"]
            elif prop.kind == TIME:
                # Epoch microseconds, made ISO text by `decode`: DuckDB turns TIMESTAMPTZ into
                # Python datetimes slowly (a time zone lookup per value, ~0.1 ms).
                parts += [", epoch_us(", cols[0], ")"]
            elif prop.kind == GEOMETRY:
                parts += [", ST_AsGeoJSON(", self.geometry(es.name, alias, prop.columns[0]), ")"]
            else:
                parts += [", ", cols[0]]
            columns.append(Column(prop.name, prop.kind))
        return S(*parts), tuple(columns)

    def where(self, query: ast.Query, alias: str, extra: Sequence[Frag] = (),
              visible: bool = True) -> Frag:
        conds: list[Frag] = [*([(self.visible(query.entity_set, alias), [])] if visible else []),
                             *extra]
        if query.filter is not None:
            conds.append(self.expr.predicate(query.filter, query.entity_set, alias))
        return S(*itertools.chain.from_iterable(
            (" AND " if i else "", c) for i, c in enumerate(conds)))

    def order_keys(self, query: ast.Query, alias: str) -> list[tuple[Frag, bool, bool]]:
        """(key, descending, is a time) in order; the id comes last so every order is total."""
        keys = []
        for item in query.orderby:
            key, kind = self.expr.typed_order_key(item.expr, query.entity_set, alias)
            keys.append((key, item.descending, kind == TS))
        if not keys:
            keys = [((f"{alias}.{c}", []), False, True)
                    for c in _DEFAULT_ORDER.get(query.entity_set, ())]
        return [*keys, ((f"{alias}.id", []), False, False)]

    def order(self, keys: list[tuple[Frag, bool, bool]]) -> Frag:
        parts: list[str | Frag] = []
        for i, (key, descending, _) in enumerate(keys):
            last = i == len(keys) - 1
            parts += [key, "" if last else (" DESC NULLS LAST, " if descending
                                             else " ASC NULLS FIRST, ")]
        return S(*parts)

    def extras(self, entity: str, alias: str, keys: list[tuple[Frag, bool, bool]]
               ) -> tuple[Frag, tuple[Column, ...]]:
        """Hidden columns: the dataset (for the audit), an observation's datastream, then the
        order keys."""
        audit = self.owner_dataset or AUDIT_DATASET.get(entity, "NULL").format(a=alias)
        parts: list[str | Frag] = [", ", audit]
        columns = [Column("@audit", "key")]
        if entity == "Observations":    # data arrays group by datastream
            parts += [f", {alias}.datastream_id"]
            columns.append(Column("@datastream", "key"))
        for i, (key, _, is_time) in enumerate(keys):
            parts += [", epoch_us(", key, ")"] if is_time else [", ", key]
            columns.append(Column(f"@k{i}", "time-key" if is_time else "key"))
        return S(*parts), tuple(columns)

    def after(self, keys: list[tuple[Frag, bool, bool]], values: Sequence) -> Frag:
        """Rows strictly after `values` in the order of `keys` (keyset paging): nulls come
        first ascending and last descending, as in `order`."""
        if len(values) != len(keys):
            raise BadRequest("$skiptoken: does not fit this query's $orderby",
                             option="$skiptoken")
        alternatives: list[Frag] = []
        values = [instant(v) if is_time and isinstance(v, int) else v
                  for (_, _, is_time), v in zip(keys, values, strict=True)]
        for i, ((key, descending, _), value) in enumerate(zip(keys, values, strict=True)):
            same = [_equal(k, v) for (k, _, _), v in zip(keys[:i], values[:i], strict=True)]
            if value is None:
                beyond = ("FALSE", []) if descending else S("(", key, " IS NOT NULL)")
            elif descending:
                beyond = S("(", key, " < ", ("?", [value]), " OR ", key, " IS NULL)")
            else:
                beyond = S("(", key, " > ", ("?", [value]), ")")
            alternatives.append(S("(", *_joined([*same, beyond], " AND "), ")"))
        return S("(", *_joined(alternatives, " OR "), ")")

    def path(self, path: ast.ResourcePath, alias: str) -> list[Frag]:
        """Conditions tying the target rows to the entities named along the path."""
        segments = path.segments
        conds: list[Frag] = []
        if segments[-1].id is not None:
            conds.append((f"{alias}.id = ?", [segments[-1].id]))
        if len(segments) > 1:
            conds.append(self._direct(segments, alias) or
                         self._parent(segments, len(segments) - 2, alias))
        return conds

    def _direct(self, segments: tuple[ast.Segment, ...], alias: str) -> Frag | None:
        """Datastreams(5)/Observations as `datastream_id = 5` plus an uncorrelated check that
        datastream 5 is visible (and on its own path): the constant lets DuckDB prune
        observations by zone maps, which a correlated EXISTS would not."""
        parent = segments[-2]
        relation = entity_set(parent.entity_set).relation(segments[-1].name)
        if parent.id is None or relation.bridge != "target":
            return None
        es = entity_set(parent.entity_set)
        p = self.new_alias()
        body: list[str | Frag] = [
            f"{alias}.{relation.source_col} = ? AND EXISTS (SELECT 1 FROM {es.table} {p}"
            f" WHERE {p}.id = ? AND ", self.visible(parent.entity_set, p)]
        params = [parent.id, parent.id]
        if len(segments) > 2:
            body += [" AND ", self._parent(segments[:-1], len(segments) - 3, p)]
        sql, more = S(*body, ")")
        return sql, params + more

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
                  default_top: int = 100, max_top: int = 10_000, extras: bool = False,
                  after: Sequence | None = None, json_root: str | None = None) -> Compiled:
    """SQL for the entities a path names (a set, or one entity), under `query`'s options.

    The SQL returns at most limit + 1 rows, ordered; the extra row means a next page exists.
    `extras` adds hidden columns: "@audit" (the thing or datastream id behind the row) and the
    order keys "@k0".. of the row, which a client hands back as `after` to continue (keyset
    paging: then `query.skip` is not used, so no OFFSET runs over a long set). With
    `json_root` (the service root URL) each row is the id and "@json", the entity as JSON text
    (store.sta_json), instead of one column per property.
    """
    if path.entity_set != query.entity_set:
        raise ValueError(f"query for {query.entity_set} does not fit path {path}")
    qc = _QueryCompiler(visibility)
    es = entity_set(query.entity_set)
    alias = "e0"
    if json_root is None:
        select, columns = qc.select_list(es, alias, query.select)
    else:
        select = S(f"{alias}.id, ", entity_json_sql(es, alias, query.select, json_root,
                                                    qc.geometry))
        columns = (Column("@iot.id", "id"), Column("@json", "key"))
    owner = _owner_row(qc, path)
    source: str | Frag = f"{es.table} {alias}"
    if owner is not None:
        # Datastreams(5)/Observations: the visible datastream 5 as a one-row cross join, and
        # `datastream_id = 5` as a constant DuckDB prunes observations by (zone maps); no
        # per-row visibility join is needed, the owner's visibility is the rows'.
        relation = entity_set(path.segments[-2].entity_set).relation(path.segments[-1].name)
        conds = [(f"{alias}.{relation.source_col} = ?", [path.segments[-2].id])]
        if path.segments[-1].id is not None:
            conds.append((f"{alias}.id = ?", [path.segments[-1].id]))
        source = S(source, ", (", owner, ") v0")
        qc.owner_dataset = "v0.dataset_id"
    else:
        conds = qc.path(path, alias)
    keys = qc.order_keys(query, alias)
    if extras:
        hidden, hidden_columns = qc.extras(es.name, alias, keys)
        select, columns = S(select, hidden), columns + hidden_columns
    where = qc.where(query, alias, conds, visible=owner is None)
    page_where = (qc.where(query, alias, [*conds, qc.after(keys, after)],
                           visible=owner is None) if after else where)
    limit = _limit(query, default_top, max_top)
    skip = 0 if after else query.skip
    sql, params = qc.with_cte(S("SELECT ", select, " FROM ", source, " WHERE ", page_where,
                                " ORDER BY ", qc.order(keys),
                                (" LIMIT ? OFFSET ?", [limit + 1, skip]) if skip else
                                (" LIMIT ?", [limit + 1])))
    count_sql = count_params = None
    if query.count:
        count_sql, count_params = qc.with_cte(S("SELECT count(*) FROM ", source, " WHERE ",
                                                where))
    return Compiled(sql, params, columns, count_sql, count_params, limit,
                    len(keys) if extras else 0)


def _owner_row(qc: _QueryCompiler, path: ast.ResourcePath) -> Frag | None:
    """SELECT of the visible parent of an owned link (Datastreams(5)/Observations) with its
    dataset id, or None when the path is not one."""
    segments = path.segments
    if len(segments) < 2 or segments[-2].id is None:
        return None
    if (segments[-2].entity_set, segments[-1].name) not in _OWNED:
        return None
    parent = ast.ResourcePath(segments[:-1])
    es = entity_set(parent.entity_set)
    if len(segments) == 2:
        # The thing's own row tested with the governance condition directly: plain joins
        # plan and run faster than the vis_things CTE (this is every datastream-page request).
        source = ("things pt" if es.name == "Things"
                  else "datastreams p0 JOIN things pt ON pt.id = p0.thing_id")
        return S("SELECT pt.dataset_id FROM ", source, " WHERE ",
                 ("pt.id = ?" if es.name == "Things" else "p0.id = ?", [segments[0].id]),
                 " AND (", qc.visibility.things, ") LIMIT 1")
    where = qc.where(ast.Query(es.name), "p0", qc.path(parent, "p0"))
    dataset = AUDIT_DATASET[es.name].format(a="p0")
    return S(f"SELECT {dataset} AS dataset_id FROM {es.table} p0 WHERE ", where, " LIMIT 1")


def compile_expand(parent_entity: str, expand: ast.Expand, parent_ids: Sequence[int], *,
                   visibility: Visibility, default_top: int = 100, max_top: int = 10_000,
                   extras: bool = False) -> Compiled:
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
    keys = qc.order_keys(query, alias)
    if extras:
        hidden, hidden_columns = qc.extras(es.name, alias, keys)
        select, columns = S(select, hidden), columns + hidden_columns
    where = qc.where(query, alias, [S(f"{parent_key} IN ", ids)])
    limit = _limit(query, default_top, max_top)
    cte = qc.cte()
    sql, params = S(cte, "SELECT * EXCLUDE (__rn) FROM (SELECT ", parent_key, " AS __parent, ",
                    select, f", row_number() OVER (PARTITION BY {parent_key} ORDER BY ",
                    qc.order(keys), f") AS __rn FROM {source} WHERE ", where,
                    ") WHERE __rn > ? AND __rn <= ? ORDER BY __parent, __rn")
    params += [query.skip, query.skip + limit + 1]
    count_sql = count_params = None
    if query.count:
        count_sql, count_params = S(cte, f"SELECT {parent_key}, count(*) FROM {source} WHERE ",
                                    where, f" GROUP BY {parent_key}")
    return Compiled(sql, params, columns, count_sql, count_params, limit,
                    keys=len(keys) if extras else 0)


def _equal(key: Frag, value) -> Frag:
    if value is None:
        return S("(", key, " IS NULL)")
    return S("(", key, " = ", ("?", [value]), ")")


def _joined(frags: list[Frag], sep: str) -> list[str | Frag]:
    return list(itertools.chain.from_iterable((sep if i else "", f) for i, f in enumerate(frags)))


def iso_us(micros: int | None) -> str | None:
    """Epoch microseconds as UTC ISO 8601 text with Z, a fraction only when there is one."""
    if micros is None:
        return None
    text = (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat()
    return (text.rstrip("0") if "." in text else text) + "Z"


def instant(micros: int) -> datetime:
    """A time order key (epoch microseconds) as the datetime `after` compares with."""
    return _EPOCH + timedelta(microseconds=micros)


def decode(compiled: Compiled, row: Sequence) -> dict:
    """A result row as {property: value}: JSON and GeoJSON parsed, times as UTC ISO 8601 text,
    an interval as a (start, end) pair of them. For an expand row the parent id is under
    "@parent"."""
    out: dict = {}
    i = 0
    if len(row) > compiled.width:
        out["@parent"] = row[0]
        i = 1
    for name, kind in compiled.layout:
        value = row[i]
        if kind == TIME:
            value = iso_us(value)
        elif kind == INTERVAL:
            i += 1
            value = None if value is None else (iso_us(value), iso_us(row[i]))
        elif kind is not None and isinstance(value, str):
            value = json.loads(value)
        out[name] = value
        i += 1
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
