"""Reading SensorThings 1.1 resources under the access policy.

`read` answers one GET below the service root: it parses the path and the query options, runs
the compiled SQL (store.sta_sql applies the governance predicate to every entity reached and
generalises sensitive geometries), expands level by level (one query per $expand level, not per
entity), shapes the JSON and writes one audit event per request for the datasets whose things,
datastreams or observations it returned.

Hidden and missing are the same: an entity, or a parent on the path, that the principal may not
see is a 404. Long sets page by keyset: a nextLink carries `$skiptoken`, the order keys of the
page's last row, so following it never runs OFFSET; a client's own `$skip` is honoured once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ecobridge.errors import BadRequest, NotFound
from ecobridge.governance.policy import Principal, record_read
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.access import visibility
from ecobridge.monitoring.sta.model import ENTITY_SETS, EntitySet
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.query import parse_query
from ecobridge.monitoring.sta.responses import (
    DATA_ARRAY_COMPONENTS,
    data_array,
    decode_token,
    encode_token,
    entity,
    landing,
    options,
    property_value,
    query_string,
    raw_text,
    self_link,
)
from ecobridge.store.sta_sql import (
    AUDIT_DATASET,
    Visibility,
    compile_expand,
    compile_query,
    fetch,
    fetch_expand,
)

DEFAULT_TOP = 100
MAX_TOP = 10_000


class RawJson(str):
    """JSON text made by the database, spliced into the response as it is."""


@dataclass
class Reply:
    """A JSON body, or raw text for $value; no body means 204 No Content (a null property)."""

    body: dict | None = None
    text: str | None = None

    @property
    def status(self) -> int:
        return 204 if self.body is None and self.text is None else 200


@dataclass
class _Context:
    store: object
    vis: Visibility
    root: str
    datasets: set = field(default_factory=set)
    returned: int = 0

    def fetch(self, path: ast.ResourcePath, query: ast.Query, after: list | None = None,
              as_json: bool = False):
        compiled = compile_query(path, query, visibility=self.vis, default_top=DEFAULT_TOP,
                                 max_top=MAX_TOP, extras=True, after=after,
                                 json_root=self.root if as_json else None)
        rows, more, count = fetch(self.store, compiled)
        self.note(path.entity_set, rows)
        return compiled, rows, more, count

    def note(self, entity_set: str, rows: list[dict]) -> None:
        """Remember the datasets of returned things, datastreams, historical locations and
        observations, for the audit."""
        if entity_set in AUDIT_DATASET:
            self.datasets.update(row["@audit"] for row in rows)
            self.returned += len(rows)

    def shape(self, es: EntitySet, rows: list[dict], query: ast.Query) -> list[dict]:
        shaped = [entity(self.root, es, r, query.select) for r in rows]
        if query.expand and rows:
            self.expand(es, [(r["@iot.id"], s) for r, s in zip(rows, shaped, strict=True)],
                        query.expand)
        return shaped

    def expand(self, es: EntitySet, targets: list[tuple[int, dict]],
               items: Sequence[ast.Expand]) -> None:
        """Fill each target entity with its expanded links, one query per item and level."""
        ids = sorted({i for i, _ in targets})
        for item in items:
            relation = es.relation(item.relation)
            child_set = ENTITY_SETS[relation.target]
            compiled = compile_expand(es.name, item, ids, visibility=self.vis,
                                      default_top=DEFAULT_TOP, max_top=MAX_TOP, extras=True)
            groups = fetch_expand(self.store, compiled)
            children: list[tuple[int, dict]] = []
            for parent_id, target in targets:
                group = groups.get(parent_id)
                rows = group.rows if group else []
                self.note(child_set.name, rows)
                shaped = [entity(self.root, child_set, r, item.query.select) for r in rows]
                children += [(r["@iot.id"], s) for r, s in zip(rows, shaped, strict=True)]
                if not relation.many:
                    if shaped:
                        target[item.relation] = shaped[0]
                    continue
                target[item.relation] = shaped
                if item.query.count:
                    target[f"{item.relation}@iot.count"] = (group.count or 0) if group else 0
                if group and group.more:
                    link = f"{self_link(self.root, es, parent_id)}/{item.relation}"
                    token = encode_token(_keys(compiled.keys, rows[-1]))
                    target[f"{item.relation}@iot.nextLink"] = link + "?" + query_string(
                        [*options(item.query), ("$skiptoken", token)])
            if item.query.expand and children:
                self.expand(child_set, children, item.query.expand)

    def audit(self, principal: Principal) -> None:
        datasets = sorted(self.datasets - {None})
        if datasets:
            record_read(self.store, principal, dataset_ids=datasets, kind="sensorthings",
                        count=self.returned)


def _keys(n: int, row: dict) -> list:
    return [row[f"@k{i}"] for i in range(n)]


def _options(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in params:
        if name.startswith("$"):
            if name in out:
                raise BadRequest(f"{name} is given more than once", option=name)
            out[name] = value
    return out


def read(store, principal: Principal, resource: str, params: Sequence[tuple[str, str]],
         root: str) -> Reply:
    """The answer to GET {root}/{resource}?{params}. `root` is the absolute service root URL."""
    path = parse_path(resource)
    if path.entity_set is None:
        return Reply(landing(root))
    opts = _options(params)
    token = opts.pop("$skiptoken", None)
    query = parse_query(opts, path.entity_set)
    ctx = _Context(store, visibility(principal), root)
    if path.ref:
        reply = _ref(ctx, path, query, token, resource, params)
    elif path.prop is not None:
        reply = _property(ctx, path)
    elif path.is_collection:
        reply = Reply(_collection(ctx, path, query, token, resource, params))
    else:
        reply = Reply(_single(ctx, path, query))
    ctx.audit(principal)
    return reply


def entity_json(store, principal: Principal, entity_set: str, entity_id: int,
                base_url: str) -> dict:
    """One entity as GET {base_url}/{entity_set}({entity_id}) shows it to `principal`
    (NotFound if hidden or missing). `base_url` is the service root, e.g.
    http://host/sta/v1.1. For the write API's responses."""
    if entity_set not in ENTITY_SETS:
        raise NotFound(f"no entity set {entity_set!r}")
    return read(store, principal, f"{entity_set}({int(entity_id)})", [], base_url).body


def _single(ctx: _Context, path: ast.ResourcePath, query: ast.Query) -> dict:
    es = ENTITY_SETS[path.entity_set]
    if query.result_format:
        raise BadRequest("$resultFormat=dataArray applies to Observations collections",
                         option="$resultFormat")
    _, rows, _, _ = ctx.fetch(path, replace(query, top=1, skip=0, count=False))
    if not rows:
        raise NotFound(f"no {es.singular} at {_where(path)}")
    return ctx.shape(es, rows, query)[0]


def _require_parent(ctx: _Context, path: ast.ResourcePath) -> None:
    """An empty collection below a parent: 404 when the parent is hidden or missing."""
    if len(path.segments) < 2:
        return
    parent = ast.ResourcePath(path.segments[:-1])
    compiled = compile_query(parent, ast.Query(parent.entity_set, select=("id",)),
                             visibility=ctx.vis, default_top=1)
    if not fetch(ctx.store, compiled)[0]:
        raise NotFound(f"no {ENTITY_SETS[parent.entity_set].singular} at {_where(parent)}")


def _collection(ctx: _Context, path: ast.ResourcePath, query: ast.Query, token: str | None,
                resource: str, params: Sequence[tuple[str, str]], raw: bool = True) -> dict:
    es = ENTITY_SETS[path.entity_set]
    if query.result_format and es.name != "Observations":
        raise BadRequest("$resultFormat=dataArray applies to Observations only",
                         option="$resultFormat")
    if query.result_format and query.expand:
        raise BadRequest("$resultFormat=dataArray cannot be combined with $expand",
                         option="$expand")
    after = decode_token(token) if token is not None else None
    # Without $expand the database writes each entity's JSON (store.sta_json).
    as_json = not query.expand and not query.result_format and raw
    compiled, rows, more, count = ctx.fetch(path, query, after, as_json)
    if not rows:
        _require_parent(ctx, path)
    body: dict = {}
    if count is not None:
        body["@iot.count"] = count
    if query.result_format:
        components = tuple(query.select) if query.select else DATA_ARRAY_COMPONENTS
        links = [c for c in components if es.relation(c) is not None]
        if links:
            raise BadRequest(f"$select: a data array holds properties, not links ({links[0]})",
                             option="$select")
        body["value"] = data_array(ctx.root, rows, components)
    elif as_json:
        body["value"] = RawJson("[" + ",".join(r["@json"] for r in rows) + "]")
    else:
        body["value"] = ctx.shape(es, rows, query)
    if more:
        body["@iot.nextLink"] = _next_link(ctx.root, resource, params,
                                           _keys(compiled.keys, rows[-1]))
    return body


def _next_link(root: str, resource: str, params: Sequence[tuple[str, str]],
               keys: list) -> str:
    kept = [(k, v) for k, v in params if k not in ("$skip", "$skiptoken")]
    return (f"{root}/{resource.strip('/')}?"
            + query_string([*kept, ("$skiptoken", encode_token(keys))]))


def _ref(ctx: _Context, path: ast.ResourcePath, query: ast.Query, token: str | None,
         resource: str, params: Sequence[tuple[str, str]]) -> Reply:
    es = ENTITY_SETS[path.entity_set]
    query = replace(query, select=("id",), expand=(), result_format=None)
    if not path.is_collection:
        _, rows, _, _ = ctx.fetch(path, replace(query, top=1, skip=0, count=False))
        if not rows:
            raise NotFound(f"no {es.singular} at {_where(path)}")
        return Reply({"@iot.selfLink": self_link(ctx.root, es, rows[0]["@iot.id"])})
    body = _collection(ctx, path, query, token, resource, params, raw=False)
    body["value"] = [{"@iot.selfLink": v["@iot.selfLink"]} for v in body["value"]]
    return Reply(body)


def _property(ctx: _Context, path: ast.ResourcePath) -> Reply:
    es = ENTITY_SETS[path.entity_set]
    top = path.prop.split("/")[0]
    entity_path = ast.ResourcePath(path.segments)
    _, rows, _, _ = ctx.fetch(entity_path, ast.Query(es.name, select=(top,), top=1))
    if not rows:
        raise NotFound(f"no {es.singular} at {_where(entity_path)}")
    row = rows[0]
    if top == "id":
        name, value = "@iot.id", row["@iot.id"]
    else:
        name, value = property_value(es, row, path.prop, path.json)
    if value is None:
        return Reply()
    if path.value:
        return Reply(text=raw_text(value))
    return Reply({name: value})


def _where(path: ast.ResourcePath) -> str:
    return "/" + "/".join(s.name + (f"({s.id})" if s.id is not None else "")
                          for s in path.segments)
