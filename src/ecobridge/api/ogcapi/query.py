"""Items queries: parse the OGC API parameters once, then count, page and describe a
collection's visible rows.

Parameters are read from the query string by hand rather than declared to FastAPI: the standard
wants 400 (not 422) for a bad value and for an unknown parameter, and the queryables differ per
collection. Every SQL value goes in as a `?` parameter; column expressions come only from the
collection descriptions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ecobridge.api.ogcapi.collections import CRS84, Collection, Prop
from ecobridge.api.params import decode_cursor, encode_cursor, parse_time
from ecobridge.errors import BadRequest, InvalidInput, NotFound
from ecobridge.governance.policy import Principal, record_read

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
COMMON = frozenset({"f", "lang"})
ITEMS = frozenset({"limit", "bbox", "bbox-crs", "datetime", "cursor", "crs"})
CRS_ALIASES = {CRS84, "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84",
               "[OGC:CRS84]"}


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    lo: datetime | None = None
    hi: datetime | None = None       # inclusive
    hi_before: datetime | None = None  # exclusive (an end given as a date covers that day)
    has_time: bool = False
    after: int | None = None
    before: int | None = None
    filters: list[tuple[Prop, Any]] = field(default_factory=list)


def check_params(params, allowed: frozenset[str] | set[str]) -> None:
    unknown = sorted(set(params.keys()) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; this resource takes "
                         f"{', '.join(sorted(allowed))}", parameter=unknown[0])


def parse_items(collection: Collection, params) -> ItemsQuery:
    """The items query of a request, or 400 naming the parameter. An empty value counts as
    absent, as an HTML form sends its blank fields."""
    check_params(params, COMMON | ITEMS | {p.name for p in collection.queryables})
    params = {k: v for k, v in params.items() if v != ""}
    for name in ("bbox-crs", "crs"):
        if params.get(name) not in (None, *CRS_ALIASES):
            raise BadRequest(f"{name}: only {CRS84} is offered", parameter=name)
    q = ItemsQuery(limit=_limit(params.get("limit")))
    if params.get("bbox") is not None:
        q.boxes = _bbox(params["bbox"])
    if params.get("datetime") is not None:
        q.has_time = True
        q.lo, q.hi, q.hi_before = _datetime(params["datetime"])
    if params.get("cursor") is not None:
        token = params["cursor"]
        if len(token) > 200:
            raise BadRequest("cursor: too long", parameter="cursor")
        forward, key = decode_cursor(token, 2)
        if forward:
            q.after = key
        else:
            q.before = key
    for prop in collection.queryables:
        if prop.name in params:
            q.filters.append((prop, _value(prop, params[prop.name])))
    return q


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or int(text) < 1:
        raise BadRequest("limit: a whole number of at least 1", parameter="limit")
    # GDAL asks for 1000 whatever the declared maximum: clamp, as the standard allows
    return min(int(text), MAX_LIMIT)


def _bbox(text: str) -> list[tuple[float, float, float, float]]:
    """One or two boxes (two when the box crosses the antimeridian, west > east)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or any(v != v for v in values):
        raise BadRequest("bbox: four numbers west,south,east,north (CRS84)", parameter="bbox")
    west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise BadRequest("bbox: longitudes within +-180, latitudes within +-90, south <= north",
                         parameter="bbox")
    if west <= east:
        return [(west, south, east, north)]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def _instant(text: str) -> tuple[datetime, bool]:
    """An instant, and whether it was a bare date (which stands for its whole day). GDAL
    writes a bare date as `2024-01-31T`."""
    if len(text) == 11 and text.endswith("T"):
        text = text[:10]
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(), UTC), True
        except ValueError:
            pass
    try:
        return parse_time(text, "datetime"), False
    except InvalidInput as exc:
        raise BadRequest(exc.detail, parameter="datetime") from None


def _datetime(text: str) -> tuple[datetime | None, datetime | None, datetime | None]:
    """(start, inclusive end, exclusive end): closed intervals; `..` or empty is open."""
    if "/" not in text:
        instant, whole_day = _instant(text)
        if whole_day:
            return instant, None, instant + timedelta(days=1)
        return instant, instant, None
    first, _, second = text.partition("/")
    if first in ("", "..") and second in ("", ".."):
        return None, None, None
    lo = None if first in ("", "..") else _instant(first)[0]
    hi = hi_before = None
    if second not in ("", ".."):
        end, whole_day = _instant(second)
        if whole_day:
            hi_before = end + timedelta(days=1)
        else:
            hi = end
    if lo is not None and ((hi is not None and hi < lo)
                           or (hi_before is not None and hi_before <= lo)):
        raise BadRequest("datetime: the interval ends before it starts", parameter="datetime")
    return lo, hi, hi_before


def _value(prop: Prop, text: str) -> Any:
    try:
        if prop.kind == "integer":
            return int(text)
        if prop.kind == "number":
            return float(text)
    except ValueError:
        raise BadRequest(f"{prop.name}: not a {prop.kind}", parameter=prop.name) from None
    if prop.kind == "boolean":
        if text.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"{prop.name}: true or false", parameter=prop.name)
        return text.lower() in ("true", "1")
    if prop.enum and text not in prop.enum:
        raise BadRequest(f"{prop.name}: one of {', '.join(prop.enum)}", parameter=prop.name)
    return text


# -- SQL ---------------------------------------------------------------------------------------
def _where(collection: Collection, q: ItemsQuery) -> tuple[str, list]:
    where, params = ["true"], []
    if q.boxes:
        where.append("(" + " OR ".join(
            "ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))" for _ in q.boxes) + ")")
        params += [v for box in q.boxes for v in box]
    if q.has_time and collection.temporal:
        # the feature's span [t0, t1] overlaps the asked interval; no time, no match
        where.append("t0 IS NOT NULL")
        if q.lo is not None:
            where.append("t1 >= ?")
            params.append(q.lo)
        if q.hi is not None:
            where.append("t0 <= ?")
            params.append(q.hi)
        if q.hi_before is not None:
            where.append("t0 < ?")
            params.append(q.hi_before)
    for prop, value in q.filters:
        if prop.kind == "array":
            where.append(f"list_contains({prop.sql}, ?)")
        else:
            where.append(f"({prop.sql}) = ?")
        params.append(value)
    return " AND ".join(where), params


def _select(collection: Collection) -> str:
    props = ", ".join(f'{p.sql} AS "{p.name}"' for p in collection.props)
    return f"id, dataset_id, ST_AsGeoJSON(geom) AS geometry, {props}"


@dataclass(frozen=True)
class Page:
    features: list[dict]
    matched: int
    next_cursor: str | None
    prev_cursor: str | None


def items(store, principal: Principal, collection: Collection, q: ItemsQuery,
          lang: str) -> Page:
    """One page of features in id order, the number matched, and keyset cursors both ways."""
    source, source_params = collection.source(principal, lang)
    where, params = _where(collection, q)
    base = f"FROM ({source}) src WHERE {where}"
    matched = store.scalar(f"SELECT count(*) {base}", [*source_params, *params])
    keyset, key_params, order = "", [], "id"
    if q.after is not None:
        keyset, key_params = " AND id > ?", [q.after]
    elif q.before is not None:
        keyset, key_params, order = " AND id < ?", [q.before], "id DESC"
    rows = store.dicts(f"SELECT {_select(collection)} {base}{keyset} ORDER BY {order} LIMIT ?",
                       [*source_params, *params, *key_params, q.limit + 1])
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    if q.before is not None:
        rows.reverse()
    features = [feature(collection, r) for r in rows]
    audit(store, principal, collection, rows)
    next_cursor = prev_cursor = None
    if rows:
        if (more and q.before is None) or q.before is not None:
            next_cursor = encode_cursor(1, rows[-1]["id"])
        if q.after is not None or (q.before is not None and more):
            prev_cursor = encode_cursor(0, rows[0]["id"])
    return Page(features, matched, next_cursor, prev_cursor)


def one(store, principal: Principal, collection: Collection, feature_id: str,
        lang: str) -> dict:
    """A single visible feature, or NotFound alike for hidden and missing ones."""
    if not feature_id.isdigit() or len(feature_id) > 15:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    source, source_params = collection.source(principal, lang)
    rows = store.dicts(f"SELECT {_select(collection)} FROM ({source}) src WHERE id = ?",
                       [*source_params, int(feature_id)])
    if not rows:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    audit(store, principal, collection, rows)
    return feature(collection, rows[0])


def extent(store, principal: Principal, collection: Collection, lang: str) -> dict:
    """Spatial and temporal extent of what this principal may see (generalised positions)."""
    source, params = collection.source(principal, lang)
    row = store.one("SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)),"
                    f" max(ST_YMax(geom)), min(t0), max(t1) FROM ({source}) src", params)
    out: dict = {}
    if row[0] is not None:
        # outward to the micro-degree, so every feature lies inside
        box = [math.floor(row[0] * 1e6) / 1e6, math.floor(row[1] * 1e6) / 1e6,
               math.ceil(row[2] * 1e6) / 1e6, math.ceil(row[3] * 1e6) / 1e6]
        out["spatial"] = {"bbox": [box], "crs": CRS84}
    if collection.temporal and row[4] is not None:
        out["temporal"] = {"interval": [[_iso(row[4]), _iso(row[5])]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def feature(collection: Collection, row: dict) -> dict:
    props = {}
    for p in collection.props:
        value = row[p.name]
        props[p.name] = _iso(value) if isinstance(value, datetime) else value
    geometry = row["geometry"]
    return {"type": "Feature", "id": row["id"],
            "geometry": json.loads(geometry) if geometry else None, "properties": props}


def audit(store, principal: Principal, collection: Collection, rows: list[dict]) -> None:
    if rows:
        record_read(store, principal, dataset_ids=[r["dataset_id"] for r in rows],
                    kind=collection.id, count=len(rows))
