"""SensorThings JSON: entities with their control information, the service root, data arrays,
and the opaque continuation (`$skiptoken`) that nextLinks carry.

Everything here is pure shaping: rows come decoded from store.sta_sql, links are absolute URLs
built from the service root the caller passes in (frost-sta-client GETs nextLinks verbatim).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote, urlencode

from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.model import ENTITY_SETS, INTERVAL, EntitySet

SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
# What the read side implements: Sensing Core (A.1), Filtering (A.2), Data Array (A.6) as far as
# reading goes ($resultFormat=dataArray).
READ_CONFORMANCE: tuple[str, ...] = (
    SPEC + "datamodel",
    SPEC + "resource-path/resource-path-to-entities",
    SPEC + "request-data",
    SPEC + "data-array/data-array",
)
# The write API (write_api.py) appends its classes here at import, e.g.
# SPEC + "create-update-delete"; the service root lists both tuples/lists, in this order.
WRITE_CONFORMANCE: list[str] = []

# Observation properties in a data array when $select names none.
DATA_ARRAY_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result", "resultQuality",
                         "parameters")
# Characters left as they are in the query strings of nextLinks.
_SAFE = "$(),'/:@!*"


def landing(root: str) -> dict:
    """The service root: one {name, url} per entity set and the conformance classes."""
    return {
        "value": [{"name": name, "url": f"{root}/{name}"} for name in ENTITY_SETS],
        "serverSettings": {"conformance": [*READ_CONFORMANCE, *WRITE_CONFORMANCE]},
    }


def value_json(kind: str, value):
    """A decoded column value as it appears in SensorThings JSON (times come as ISO text)."""
    if value is None:
        return None
    if kind == INTERVAL:
        start, end = value
        return start if end is None or end == start else f"{start}/{end}"
    if isinstance(value, Decimal):
        return float(value)
    return value


def self_link(root: str, es: EntitySet, entity_id: int) -> str:
    return f"{root}/{es.name}({entity_id})"


def entity(root: str, es: EntitySet, row: dict, select: tuple[str, ...] | None) -> dict:
    """One entity: @iot.id and @iot.selfLink, its properties, then a navigation link for each
    relation (with $select, only what it names)."""
    show_id, props, links = _layout(es.name, select)
    link = f"{root}/{es.name}({row['@iot.id']})"
    out: dict = {"@iot.id": row["@iot.id"], "@iot.selfLink": link} if show_id else {}
    for name, interval in props:
        if name in row:
            value = row[name]
            out[name] = value_json(INTERVAL, value) if interval and value else value
    for name, key in links:
        out[key] = f"{link}/{name}"
    return out


@lru_cache(maxsize=512)
def _layout(name: str, select: tuple[str, ...] | None):
    """What `entity` prints for a set under a $select, worked out once."""
    es = ENTITY_SETS[name]
    props = tuple((p.name, p.kind == INTERVAL) for p in es.printed_props)
    links = tuple((r.name, f"{r.name}@iot.navigationLink") for r in es.relations
                  if select is None or r.name in select)
    return select is None or "id" in select, props, links


def property_value(es: EntitySet, row: dict, name: str, keys: tuple[str, ...]):
    """(JSON name, value) of /Set(id)/prop[/member..]; a missing member is None."""
    top = name.split("/")[0]
    prop = es.prop(top)
    value = value_json(prop.kind, row[top])
    for member in [*name.split("/")[1:], *keys]:
        value = value.get(member) if isinstance(value, dict) else None
    return ([*name.split("/"), *keys][-1], value)


def raw_text(value) -> str:
    """$value: the raw value as text; JSON and geometries as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def data_array(root: str, rows: list[dict], components: tuple[str, ...]) -> list[dict]:
    """Observations grouped by datastream (in order of first appearance), each group as
    {Datastream@iot.navigationLink, components, dataArray@iot.count, dataArray}."""
    es = ENTITY_SETS["Observations"]
    kinds = {c: ("id" if c == "id" else es.prop(c).kind) for c in components}
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(row["@datastream"], []).append(
            [row["@iot.id"] if c == "id" else value_json(kinds[c], row[c]) for c in components])
    return [{"Datastream@iot.navigationLink": f"{root}/Datastreams({ds})",
             "components": list(components), "dataArray@iot.count": len(values),
             "dataArray": values} for ds, values in groups.items()]


# -- continuation ------------------------------------------------------------------------------
def encode_token(values: list) -> str:
    """The order keys of a page's last row, as an opaque URL-safe token."""
    tagged = [_tag(v) for v in values]
    raw = json.dumps(tagged, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        tagged = json.loads(raw)
        if not isinstance(tagged, list):
            raise ValueError("not a list")
        return [_untag(v) for v in tagged]
    except (ValueError, TypeError, KeyError, OverflowError, UnicodeDecodeError):
        raise BadRequest("$skiptoken: not a token this server issued",
                         option="$skiptoken") from None


def _tag(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, time):
        return {"t": value.isoformat()}
    if isinstance(value, timedelta):
        return {"td": value // timedelta(microseconds=1)}
    if isinstance(value, Decimal):
        return float(value)
    return value


def _untag(value):
    if isinstance(value, dict):
        ((tag, inner),) = value.items()
        if tag == "dt":
            parsed = datetime.fromisoformat(inner)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if tag == "d":
            return date.fromisoformat(inner)
        if tag == "t":
            return time.fromisoformat(inner)
        if tag == "td":
            return timedelta(microseconds=int(inner))
        raise ValueError(f"unknown tag {tag}")
    if isinstance(value, (list, dict)):
        raise ValueError("nested value")
    return value


def query_string(params: list[tuple[str, str]]) -> str:
    return urlencode(params, quote_via=quote, safe=_SAFE)


# -- options printed back (nextLinks of expanded collections) ----------------------------------
def options(query: ast.Query, nested: bool = False) -> list[tuple[str, str]]:
    """The query options of `query` as (name, text) pairs that parse back to `query`."""
    out: list[tuple[str, str]] = []
    if query.filter is not None:
        out.append(("$filter", ast.to_text(query.filter)))
    if query.select is not None:
        out.append(("$select", ",".join(query.select)))
    if query.expand:
        out.append(("$expand", ",".join(expand_text(e) for e in query.expand)))
    if query.orderby:
        out.append(("$orderby", ",".join(
            ast.to_text(o.expr) + (" desc" if o.descending else "") for o in query.orderby)))
    if query.top is not None:
        out.append(("$top", str(query.top)))
    if query.skip and nested:
        out.append(("$skip", str(query.skip)))
    if query.count:
        out.append(("$count", "true"))
    return out


def expand_text(item: ast.Expand) -> str:
    inner = options(item.query, nested=True)
    return item.relation + (f"({';'.join(f'{k}={v}' for k, v in inner)})" if inner else "")
