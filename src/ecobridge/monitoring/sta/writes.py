"""SensorThings 1.1 create, update and delete, and CreateObservations (data array).

    entity_set, new_id = create(store, principal, parse_path("Things"), body)
    update(store, principal, parse_path("Things(1)"), {"name": "x"})          # PATCH
    update(store, principal, parse_path("Things(1)"), body, replace=True)    # PUT
    delete(store, principal, parse_path("Datastreams(3)"))
    ids = create_observations(store, principal, body)      # None where a row failed

Who writes: publishers and admins of the organisation that owns the dataset (governance
`require_write`). A Thing names its dataset in `properties.dataset` (slug or id) or the
`ecobridge:dataset` member; everything below a Thing (Datastreams, Observations, its
HistoricalLocations) belongs to the Thing's dataset. A Location, Sensor or FeatureOfInterest is
owned by the datasets of the Things that use it, and while nothing uses it by any publisher.
ObservedProperties are the platform's shared vocabulary: any publisher may add one, only
platform admins change or delete one. An entity the writer cannot see is a 404, as on reads.

A request is one transaction: a deep insert lands whole or not at all. Deletes that remove rows
other tables point to (a Thing, a Location, a Sensor, an ObservedProperty, a
HistoricalLocation) commit the dependent rows first and then the entity, one level per commit,
because DuckDB checks a foreign key against rows deleted earlier in the same transaction;
repeating a DELETE finishes one that stopped in between.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ecobridge.alerts import lifecycle
from ecobridge.catalog.service import resolve_dataset_id
from ecobridge.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ecobridge.governance.policy import WRITE_ROLES, Principal, require_write
from ecobridge.monitoring.properties import default_sensor, load_properties
from ecobridge.monitoring.sta import ast, obs_writes
from ecobridge.monitoring.sta import write_input as inp
from ecobridge.monitoring.sta.access import visibility
from ecobridge.monitoring.sta.model import entity_set
from ecobridge.monitoring.sta.write_update import DELETERS, UPDATERS
from ecobridge.monitoring.units import is_known
from ecobridge.store.sta_sql import compile_query, fetch

_OWNERS = {
    "Things": "SELECT dataset_id FROM things WHERE id = ?",
    "Datastreams": "SELECT t.dataset_id FROM datastreams s JOIN things t ON t.id = s.thing_id"
                   " WHERE s.id = ?",
    "Observations": "SELECT t.dataset_id FROM observations o JOIN datastreams s"
                    " ON s.id = o.datastream_id JOIN things t ON t.id = s.thing_id"
                    " WHERE o.id = ?",
    "HistoricalLocations": "SELECT t.dataset_id FROM historical_locations h JOIN things t"
                           " ON t.id = h.thing_id WHERE h.id = ?",
    "Locations": "SELECT t.dataset_id FROM thing_locations l JOIN things t ON t.id = l.thing_id"
                 " WHERE l.location_id = ? UNION SELECT t.dataset_id FROM"
                 " historical_location_locations x JOIN historical_locations h"
                 " ON h.id = x.historical_location_id JOIN things t ON t.id = h.thing_id"
                 " WHERE x.location_id = ?",
    "Sensors": "SELECT DISTINCT t.dataset_id FROM datastreams s JOIN things t"
               " ON t.id = s.thing_id WHERE s.sensor_id = ?",
    "FeaturesOfInterest": "SELECT DISTINCT t.dataset_id FROM feature_datastreams f JOIN"
                          " datastreams s ON s.id = f.datastream_id JOIN things t"
                          " ON t.id = s.thing_id WHERE f.feature_of_interest_id = ?",
}


@dataclass
class Writer:
    """One write request: who writes, its transaction, and what it created so far."""

    store: Any
    principal: Principal
    cur: Any = None
    observations: list = field(default_factory=list)
    # entities made or already checked visible in this request
    created: set[tuple[str, int]] = field(default_factory=set)
    _writable: set[int] = field(default_factory=set)

    # -- access ----------------------------------------------------------------------------
    def can_write(self, dataset_id: int) -> None:
        if dataset_id not in self._writable:
            require_write(self.store, self.principal, dataset_id)
            self._writable.add(dataset_id)

    def publisher_anywhere(self) -> None:
        """For entities no dataset owns yet (a Sensor or Location on its own)."""
        if not self.principal.is_platform_admin and not any(
                role in WRITE_ROLES for role in self.principal.roles.values()):
            raise Forbidden("only publishers and admins of an organisation write "
                            "SensorThings entities")

    def must_see(self, entity: str, entity_id: int, where: str) -> None:
        if (entity, entity_id) in self.created:
            return
        if not visible(self.store, self.principal,
                       ast.ResourcePath((ast.Segment(entity, entity, entity_id),))):
            raise NotFound(f"{where}: no {entity_set(entity).singular} {entity_id}",
                           field=where)
        self.created.add((entity, entity_id))      # seen once is enough for this request

    def check_owner(self, entity: str, entity_id: int) -> None:
        """May the principal change or delete this (visible) entity?"""
        if entity == "ObservedProperties":
            if not self.principal.is_platform_admin:
                raise Forbidden("ObservedProperties are the platform's shared vocabulary: only "
                                "platform admins change or delete them")
            return
        sql = _OWNERS[entity]
        datasets = [r[0] for r in self.cur.execute(
            sql, [entity_id] * sql.count("?")).fetchall()]
        if not datasets:
            self.publisher_anywhere()
        for dataset_id in datasets:
            self.can_write(dataset_id)

    def datastream_dataset(self, datastream_id: int, where: str) -> int:
        self.must_see("Datastreams", datastream_id, where)
        row = self.cur.execute("SELECT t.dataset_id FROM datastreams s JOIN things t"
                               " ON t.id = s.thing_id WHERE s.id = ?", [datastream_id]).fetchone()
        if row is None:
            raise NotFound(f"{where}: no Datastream {datastream_id}", field=where)
        self.can_write(row[0])
        return row[0]

    def thing_for_write(self, thing_id: int, where: str) -> int:
        """The dataset of a Thing the writer may see and write."""
        self.must_see("Things", thing_id, where)
        row = self.cur.execute("SELECT dataset_id FROM things WHERE id = ?", [thing_id]
                               ).fetchone()
        if row is None:
            raise NotFound(f"{where}: no Thing {thing_id}", field=where)
        self.can_write(row[0])
        return row[0]

    def made(self, entity: str, entity_id: int) -> int:
        self.created.add((entity, entity_id))
        return entity_id

    def create_feature(self, body: dict, where: str) -> int:
        return create_feature(self, body, where, linked=True)

    def flush(self, what: str, *, strict: bool = True) -> None:
        obs_writes.flush(self, self.principal.user_id, what=what, strict=strict)


def visible(store, principal: Principal, path: ast.ResourcePath) -> list[int]:
    """Ids of the entities `path` names that the principal may see (the read path's rules)."""
    es = path.entity_set
    compiled = compile_query(path, ast.Query(es, select=("id",)),
                             visibility=visibility(principal))
    rows, _more, _count = fetch(store, compiled)
    return [r["@iot.id"] for r in rows]


def _writer(store, principal: Principal) -> Writer:
    if not principal.authenticated:
        raise Unauthorized("sign in or send `Authorization: Bearer <token>` to write")
    return Writer(store, principal)


# -- public API ---------------------------------------------------------------------------------
def create(store, principal: Principal, path: ast.ResourcePath, body: Any) -> tuple[str, int]:
    """POST to a collection (`Things`) or a navigation collection (`Things(1)/Datastreams`)."""
    w = _writer(store, principal)
    es, body = _navigation_body(w, path, body)
    with store.transaction() as cur:
        w.cur = cur
        if es == "Observations":
            pending = obs_writes.read_observation(w, body, "")
            w.flush(f"POST /{_path_text(path)}")
            return es, pending.id
        new_id = CREATORS[es](w, inp.entity_object(body, ""), "")
        w.flush(f"POST /{_path_text(path)}")
    return es, new_id


def update(store, principal: Principal, path: ast.ResourcePath, body: Any, *,
           replace: bool = False) -> tuple[str, int]:
    """PATCH (merge the given members) or PUT (`replace`: members not given are reset)."""
    w = _writer(store, principal)
    es, entity_id = _entity(w, path)
    body = inp.entity_object(body, "")
    with store.transaction() as cur:
        w.cur = cur
        w.check_owner(es, entity_id)
        if es == "Observations":
            obs_writes.update_observation(w, entity_id, body, replace=replace,
                                          user_id=principal.user_id)
        else:
            UPDATERS[es](w, entity_id, body, replace)
            w.flush(f"{'PUT' if replace else 'PATCH'} /{_path_text(path)}")
    return es, entity_id


def delete(store, principal: Principal, path: ast.ResourcePath) -> None:
    """DELETE one entity with what depends on it (see the module docstring)."""
    w = _writer(store, principal)
    es, entity_id = _entity(w, path)
    with store.transaction() as cur:
        w.cur = cur
        w.check_owner(es, entity_id)
        # the alerts of the datastreams that go are withdrawn with them (alerts/lifecycle.py)
        withdrawn = lifecycle.entity_deleted(cur, es, entity_id, user_id=principal.user_id)
        last = DELETERS[es](cur, entity_id)
    try:
        for sql, params in last or ():
            _commit_level(store, sql, params)
    except duckdb.ConstraintException:
        raise Conflict(f"{entity_set(es).singular} {entity_id} gained new links while it was "
                       "being deleted; repeat the DELETE") from None
    finally:
        # only now: a feed or the outbox worker reading while the levels above commit would
        # hold a snapshot with the deleted children, and DuckDB would refuse the parent's delete
        if withdrawn:
            lifecycle.wake_feeds()


def _commit_level(store, sql: str, params: list, tries: int = 4) -> None:
    """One level of a cascade. A read that started before the level below committed (a feed,
    the outbox worker) still sees its rows, and DuckDB refuses the parent's delete until that
    read ends: try again a few times before calling it a conflict."""
    for attempt in range(tries):
        try:
            with store.transaction() as cur:
                cur.execute(sql, params)
            return
        except duckdb.ConstraintException:
            if attempt == tries - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def create_observations(store, principal: Principal, body: Any) -> list[int | None]:
    """CreateObservations: per row the new Observation's id, or None where the row failed.
    Rows that can be stored are stored together in one transaction."""
    w = _writer(store, principal)
    with store.transaction() as cur:
        w.cur = cur
        rows = obs_writes.read_data_array(w, body)
        w.flush("POST /CreateObservations", strict=False)
    return [r.id if isinstance(r, obs_writes.Pending) and r.error is None else None
            for r in rows]


def target(store, principal: Principal, path: ast.ResourcePath) -> tuple[str, int]:
    """(entity set, id) of the one entity a PATCH/PUT/DELETE path names, if the principal may
    see it (401 for anonymous writers, 404 when hidden or missing)."""
    return _entity(_writer(store, principal), path)


def _path_text(path: ast.ResourcePath) -> str:
    return "/".join(s.name + (f"({s.id})" if s.id is not None else "") for s in path.segments)


def _entity(w: Writer, path: ast.ResourcePath) -> tuple[str, int]:
    """The one entity a PATCH/PUT/DELETE path names, checked visible along the whole path."""
    if not path.segments or path.is_collection or path.prop or path.ref or path.value:
        raise BadRequest("address one entity, such as /Things(1)")
    ids = visible(w.store, w.principal, path)
    if not ids:
        raise NotFound(f"no entity at /{_path_text(path)}")
    return path.entity_set, ids[0]


def _navigation_body(w: Writer, path: ast.ResourcePath, body: Any) -> tuple[str, Any]:
    """POST to Parent(id)/Relation: the new entity links to the parent."""
    if not path.segments or not path.is_collection or path.ref:
        raise BadRequest("POST to a collection such as /Things or /Things(1)/Datastreams")
    es = path.entity_set
    if len(path.segments) == 1:
        return es, body
    parent = path.segments[-2]
    parent_path = ast.ResourcePath(path.segments[:-1])
    ids = visible(w.store, w.principal, parent_path)
    if not ids:
        raise NotFound(f"no entity at /{_path_text(parent_path)}")
    inverse = next((r for r in entity_set(es).relations
                    if r.target == parent.entity_set), None)
    body = dict(inp.entity_object(body, ""))
    link = {"@iot.id": ids[0]}
    if inverse is None:
        raise BadRequest(f"cannot POST to {path.segments[-1].name} of a "
                         f"{entity_set(parent.entity_set).singular}")
    if inverse.many:
        body[inverse.name] = [*inp.entity_list(body.get(inverse.name), inverse.name), link]
    else:
        given = body.get(inverse.name)
        if given is not None and inp.link_id(given, inverse.name) != ids[0]:
            raise inp.bad(inverse.name, f"contradicts the path /{_path_text(parent_path)}")
        body[inverse.name] = link
    return es, body


# -- creating entities ------------------------------------------------------------------------
def _one(w: Writer, value: Any, where: str, entity: str, create_fn, **kw) -> int:
    """The id of a nested entity: linked by @iot.id (must be visible) or created inline."""
    obj = inp.entity_object(value, where)
    ref = inp.link_id(obj, where)
    if ref is not None:
        w.must_see(entity, ref, where)
        return ref
    return create_fn(w, obj, where, **kw)


def create_thing(w: Writer, body: dict, where: str) -> int:
    inp.check_keys(body, {"name", "description", "properties", "Locations",
                          "HistoricalLocations", "Datastreams", "ecobridge:dataset"}, where)
    props = body.get("properties")
    props_json = inp.json_object(props, inp.where(where, "properties"))
    ref = body.get("ecobridge:dataset", (props or {}).get("dataset"))
    dataset_field = inp.where(where, "properties.dataset")
    if ref is None:
        raise inp.bad(dataset_field, "a Thing belongs to a dataset: give the dataset's slug or "
                                     "id as properties.dataset")
    if (isinstance(ref, bool) or not isinstance(ref, str | int)
            or (isinstance(ref, int) and not 0 <= ref < 1 << 63)
            or (isinstance(ref, str) and (not ref.strip() or len(ref) > 200))):
        raise inp.bad(dataset_field, "expected a dataset slug or id")
    try:
        dataset_id = resolve_dataset_id(w.store, ref)
    except NotFound:
        raise NotFound(f"{dataset_field}: no dataset {ref!r}", field=dataset_field) from None
    w.can_write(dataset_id)
    name = inp.text(body.get("name"), inp.where(where, "name"), required=True)
    description = inp.text(body.get("description"), inp.where(where, "description"))
    code = (props or {}).get("code")
    code = code.strip() if isinstance(code, str) and code.strip() else name
    if w.cur.execute("SELECT 1 FROM things WHERE dataset_id = ? AND code = ?",
                     [dataset_id, code]).fetchone():
        raise Conflict(f"{inp.where(where, 'name')}: the dataset already has a Thing with code "
                       f"{code!r}; give another name or properties.code",
                       field=inp.where(where, "name"))
    thing_id = w.made("Things", w.cur.execute(
        "INSERT INTO things (dataset_id, code, name, description, properties)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        [dataset_id, code, name, description, props_json]).fetchone()[0])
    locations = [_one(w, item, f"{inp.where(where, 'Locations')}[{i}]", "Locations",
                      create_location, linked=True)
                 for i, item in enumerate(inp.entity_list(body.get("Locations"), "Locations"))]
    if locations:
        set_locations(w.cur, thing_id, locations)
    for i, item in enumerate(inp.entity_list(body.get("HistoricalLocations"), "")):
        create_historical_location(w, _new(item, f"{where}.HistoricalLocations[{i}]"),
                                   f"{inp.where(where, 'HistoricalLocations')}[{i}]",
                                   thing_id=thing_id)
    for i, item in enumerate(inp.entity_list(body.get("Datastreams"), "")):
        create_datastream(w, _new(item, f"{where}.Datastreams[{i}]"),
                          f"{inp.where(where, 'Datastreams')}[{i}]", thing_id=thing_id)
    return thing_id


def _new(value: Any, where: str) -> dict:
    """A nested entity that can only be created here (it belongs to one parent)."""
    obj = inp.entity_object(value, where.lstrip("."))
    if inp.link_id(obj, where) is not None:
        raise inp.bad(where.lstrip("."), "belongs to one parent: create it here without "
                                          "@iot.id, or PATCH the existing one")
    return obj


def set_locations(cur, thing_id: int, location_ids: list[int]) -> None:
    """Make these the Thing's current Locations and record a HistoricalLocation (the spec's
    historical-location-auto-creation)."""
    cur.execute("DELETE FROM thing_locations WHERE thing_id = ?", [thing_id])
    hist = cur.execute("INSERT INTO historical_locations (thing_id, time) VALUES (?, now())"
                       " RETURNING id", [thing_id]).fetchone()[0]
    for loc in dict.fromkeys(location_ids):
        cur.execute("INSERT INTO thing_locations (thing_id, location_id) VALUES (?, ?)",
                    [thing_id, loc])
        cur.execute("INSERT INTO historical_location_locations VALUES (?, ?)", [hist, loc])


def _create_placed(w: Writer, body: dict, where: str, *, entity: str, table: str,
                   geometry: str, children: str, linked: bool) -> tuple[int, list]:
    """Insert a Location or FeatureOfInterest (name, encoding, geometry, properties) and return
    its id with the inline children to create. Nothing links it yet unless `linked` or it comes
    with children, so only then is any publisher's right enough."""
    inp.check_keys(body, {"name", "description", "encodingType", geometry, "properties",
                          children}, where)
    name = inp.text(body.get("name"), inp.where(where, "name"), required=True)
    encoding = inp.text(body.get("encodingType"), inp.where(where, "encodingType"),
                        default="application/geo+json")
    wkt = inp.geometry(body.get(geometry), encoding, inp.where(where, geometry))
    items = inp.entity_list(body.get(children), inp.where(where, children))
    if not linked and not items:
        w.publisher_anywhere()
    new_id = w.made(entity, w.cur.execute(
        f"INSERT INTO {table} (name, description, encoding_type, geom, properties)"
        " VALUES (?, ?, ?, ST_GeomFromText(?), ?) RETURNING id",
        [name, inp.text(body.get("description"), inp.where(where, "description")), encoding,
         wkt, inp.json_object(body.get("properties"), inp.where(where, "properties"))]
    ).fetchone()[0])
    return new_id, items


def create_location(w: Writer, body: dict, where: str, *, linked: bool = False) -> int:
    loc, things = _create_placed(w, body, where, entity="Locations", table="locations",
                                 geometry="location", children="Things", linked=linked)
    for i, item in enumerate(things):
        tw = f"{inp.where(where, 'Things')}[{i}]"
        ref = inp.link_id(item, tw)
        if ref is None:
            ref = create_thing(w, item, tw)
        else:
            w.thing_for_write(ref, tw)
        set_locations(w.cur, ref, [loc])
    return loc


def create_historical_location(w: Writer, body: dict, where: str, *,
                               thing_id: int | None = None) -> int:
    inp.check_keys(body, {"time", "Thing", "Locations"}, where)
    time = inp.instant(body.get("time"), inp.where(where, "time"), required=True)
    if thing_id is None:
        tw = inp.where(where, "Thing")
        if body.get("Thing") is None:
            raise inp.bad(tw, "is required")
        thing_id = inp.link_id(body["Thing"], tw)
        if thing_id is None:
            thing_id = create_thing(w, body["Thing"], tw)
        else:
            w.thing_for_write(thing_id, tw)
    locations = [_one(w, item, f"{inp.where(where, 'Locations')}[{i}]", "Locations",
                      create_location, linked=True)
                 for i, item in enumerate(inp.entity_list(body.get("Locations"), "Locations"))]
    hist = w.made("HistoricalLocations", w.cur.execute(
        "INSERT INTO historical_locations (thing_id, time) VALUES (?, ?) RETURNING id",
        [thing_id, time]).fetchone()[0])
    for loc in dict.fromkeys(locations):
        w.cur.execute("INSERT INTO historical_location_locations VALUES (?, ?)", [hist, loc])
    latest = w.cur.execute("SELECT max(time) FROM historical_locations WHERE thing_id = ?"
                           " AND id <> ?", [thing_id, hist]).fetchone()[0]
    if locations and (latest is None or time >= latest):
        # the newest history entry says where the Thing is now (as FROST does)
        w.cur.execute("DELETE FROM thing_locations WHERE thing_id = ?", [thing_id])
        for loc in dict.fromkeys(locations):
            w.cur.execute("INSERT INTO thing_locations (thing_id, location_id) VALUES (?, ?)",
                          [thing_id, loc])
    return hist


def sensor_values(body: dict, where: str) -> dict:
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, str):
        metadata = json.dumps(metadata, ensure_ascii=False)
    return {"name": inp.text(body.get("name"), inp.where(where, "name"), required=True),
            "description": inp.text(body.get("description"), inp.where(where, "description")),
            "encoding_type": inp.text(body.get("encodingType"),
                                      inp.where(where, "encodingType"), default="text/plain"),
            "metadata": metadata or "",
            "properties": inp.json_object(body.get("properties"),
                                          inp.where(where, "properties"))}


def create_sensor(w: Writer, body: dict, where: str, *, linked: bool = False) -> int:
    inp.check_keys(body, {"name", "description", "encodingType", "metadata", "properties",
                          "Datastreams"}, where)
    values = sensor_values(body, where)
    streams = inp.entity_list(body.get("Datastreams"), inp.where(where, "Datastreams"))
    if not linked and not streams:
        w.publisher_anywhere()
    sensor = w.made("Sensors", w.cur.execute(
        f"INSERT INTO sensors ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})"
        " RETURNING id", list(values.values())).fetchone()[0])
    for i, item in enumerate(streams):
        create_datastream(w, _new(item, f"{where}.Datastreams[{i}]"),
                          f"{inp.where(where, 'Datastreams')}[{i}]", sensor_id=sensor)
    return sensor


def create_observed_property(w: Writer, body: dict, where: str, *,
                             uom: Any = None) -> int:
    """A new ObservedProperty, or the existing one with the same `definition` (the
    vocabulary keeps one entry per phenomenon, each with one canonical unit)."""
    inp.check_keys(body, {"name", "definition", "description", "properties", "Datastreams"},
                   where)
    w.publisher_anywhere()
    definition = inp.text(body.get("definition"), inp.where(where, "definition"))
    found = definition and w.cur.execute(
        "SELECT id FROM observed_properties WHERE definition = ?", [definition]).fetchone()
    if found:
        prop_id = found[0]
    else:
        props = body.get("properties") or {}
        props_json = inp.json_object(body.get("properties"), inp.where(where, "properties"))
        name = inp.text(body.get("name"), inp.where(where, "name"), required=True)
        unit_field = inp.where(where, "properties.canonicalUnit")
        units = [props["canonicalUnit"]] if isinstance(props.get("canonicalUnit"), str) else []
        unit = next((u for u in units + inp.unit_hint(uom) if is_known(u)), None)
        if unit is None:
            raise inp.bad(unit_field, "a new ObservedProperty needs its canonical unit as a UCUM "
                                      "code (properties.canonicalUnit, or the Datastream's "
                                      "unitOfMeasurement)")
        code = props.get("code") if isinstance(props.get("code"), str) else _slug(name)
        if w.cur.execute("SELECT 1 FROM observed_properties WHERE code = ?", [code]).fetchone():
            raise Conflict(f"{inp.where(where, 'name')}: an ObservedProperty with code {code!r} "
                           "exists; link it by @iot.id or give another properties.code",
                           field=inp.where(where, "name"))
        symbol = (uom or {}).get("symbol") if isinstance(uom, dict) else None
        unit_name = (uom or {}).get("name") if isinstance(uom, dict) else None
        prop_id = w.cur.execute(
            "INSERT INTO observed_properties (code, name, definition, description,"
            " canonical_unit, unit_symbol, unit_name, properties)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [code, name, definition or f"urn:ecobridge:def:observed-property:{code}",
             inp.text(body.get("description"), inp.where(where, "description")), unit,
             symbol if isinstance(symbol, str) else unit,
             unit_name if isinstance(unit_name, str) else unit, props_json]).fetchone()[0]
    w.made("ObservedProperties", prop_id)
    for i, item in enumerate(inp.entity_list(body.get("Datastreams"), "")):
        create_datastream(w, _new(item, f"{where}.Datastreams[{i}]"),
                          f"{inp.where(where, 'Datastreams')}[{i}]", prop_id=prop_id)
    return prop_id


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "property"


def create_datastream(w: Writer, body: dict, where: str, *, thing_id: int | None = None,
                      sensor_id: int | None = None, prop_id: int | None = None) -> int:
    inp.check_keys(body, {"name", "description", "observationType", "unitOfMeasurement",
                          "observedArea", "phenomenonTime", "resultTime", "properties", "Thing",
                          "Sensor", "ObservedProperty", "Observations"}, where)
    name = inp.text(body.get("name"), inp.where(where, "name"), required=True)
    obs_type = inp.text(body.get("observationType"), inp.where(where, "observationType"),
                        default=inp.MEASUREMENT)
    if obs_type not in inp.OBSERVATION_TYPES:
        raise inp.bad(inp.where(where, "observationType"),
                      f"only numeric results are stored: use {inp.MEASUREMENT}")
    if thing_id is None:
        thing_id = _one(w, _required(body, "Thing", where), inp.where(where, "Thing"), "Things",
                        lambda w_, b, f: create_thing(w_, b, f))
    dataset_id = w.thing_for_write(thing_id, inp.where(where, "Thing"))
    uom = body.get("unitOfMeasurement")
    if prop_id is None:
        prop_id = _one(w, _required(body, "ObservedProperty", where),
                       inp.where(where, "ObservedProperty"), "ObservedProperties",
                       create_observed_property, uom=uom)
    prop = next(p for p in load_properties(w.cur).values() if p.id == prop_id)
    inp.check_unit(uom, prop, inp.where(where, "unitOfMeasurement"))
    if sensor_id is None:
        if body.get("Sensor") is not None:
            sensor_id = _one(w, body["Sensor"], inp.where(where, "Sensor"), "Sensors",
                             create_sensor, linked=True)
        else:
            sensor_id = default_sensor(w.cur, dataset_id)
    area = None
    if body.get("observedArea") is not None:
        area = inp.geometry(body["observedArea"], None, inp.where(where, "observedArea"))
    if w.cur.execute("SELECT 1 FROM datastreams WHERE thing_id = ? AND observed_property_id = ?",
                     [thing_id, prop_id]).fetchone():
        raise Conflict(f"{inp.where(where, 'ObservedProperty')}: the Thing already has a "
                       f"Datastream of {prop.code}; post Observations to it",
                       field=inp.where(where, "ObservedProperty"))
    ds = w.made("Datastreams", w.cur.execute(
        "INSERT INTO datastreams (thing_id, sensor_id, observed_property_id, name, description,"
        " observation_type, unit_code, unit_symbol, unit_name, observed_area, properties)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ST_GeomFromText(?), ?) RETURNING id",
        [thing_id, sensor_id, prop_id, name,
         inp.text(body.get("description"), inp.where(where, "description")), obs_type,
         prop.canonical_unit, prop.unit_symbol, prop.unit_name, area,
         inp.json_object(body.get("properties"), inp.where(where, "properties"))]
    ).fetchone()[0])
    for i, item in enumerate(inp.entity_list(body.get("Observations"), "")):
        obs_writes.read_observation(w, _new(item, f"{where}.Observations[{i}]"),
                                    f"{inp.where(where, 'Observations')}[{i}]", datastream_id=ds)
    return ds


def _required(body: dict, key: str, where: str) -> Any:
    if body.get(key) is None:
        raise inp.bad(inp.where(where, key), "is required")
    return body[key]


def create_feature(w: Writer, body: dict, where: str, *, linked: bool = False) -> int:
    feature, observations = _create_placed(
        w, body, where, entity="FeaturesOfInterest", table="features_of_interest",
        geometry="feature", children="Observations", linked=linked)
    for i, item in enumerate(observations):
        item = dict(_new(item, f"{where}.Observations[{i}]"))
        item["FeatureOfInterest"] = {"@iot.id": feature}
        obs_writes.read_observation(w, item, f"{inp.where(where, 'Observations')}[{i}]")
    return feature


CREATORS = {
    "Things": create_thing,
    "Locations": create_location,
    "HistoricalLocations": create_historical_location,
    "Sensors": create_sensor,
    "ObservedProperties": create_observed_property,
    "Datastreams": create_datastream,
    "FeaturesOfInterest": create_feature,
}
