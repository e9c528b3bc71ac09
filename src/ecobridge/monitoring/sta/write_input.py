"""Reading the JSON of SensorThings writes: checked values, and RFC 6902 JSON Patch.

Every problem is a 400 naming the field as a path from the posted entity
(`Datastreams[0].unitOfMeasurement`), so a client knows which member of a deep insert to fix.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

from ecobridge.errors import BadRequest
from ecobridge.monitoring.reasons import Reason, reason
from ecobridge.monitoring.units import UnitError, conversion

GEOJSON_TYPES = ("application/geo+json", "application/vnd.geo+json")
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
OBSERVATION_TYPES = (MEASUREMENT,
                     "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation")


def bad(field: str, message: str, problem: Reason | None = None) -> BadRequest:
    """`problem`: `message` as a rejection reason, for a row of CreateObservations that goes to
    the quarantine (monitoring/reasons.py)."""
    exc = BadRequest(f"{field}: {message}" if field else message, field=field)
    exc.reason = reason("sta-member", member=field, problem=problem) if problem else None
    return exc


def where(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def entity_object(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise bad(field, "expected a JSON object")
    return value


def text(value: Any, field: str, *, required: bool = False, default: str = "") -> str:
    if value is None:
        if required:
            raise bad(field, "is required")
        return default
    if not isinstance(value, str):
        raise bad(field, "expected a string")
    if required and not value.strip():
        raise bad(field, "must not be empty")
    if len(value) > 100_000:
        raise bad(field, "longer than 100000 characters")
    return value


def json_object(value: Any, field: str) -> str | None:
    """A `properties`/`parameters` object as stored JSON text (None for null)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(field, "expected a JSON object", reason("sta-json-object"))
    return json.dumps(value, ensure_ascii=False)


def instant(value: Any, field: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 instant with a UTC offset, as an aware UTC datetime."""
    if value is None:
        if required:
            raise bad(field, "is required", reason("sta-required"))
        return None
    if not isinstance(value, str):
        raise bad(field, "expected an ISO 8601 time such as 2024-05-01T10:00:00Z",
                  reason("sta-time-type", example="2024-05-01T10:00:00Z"))
    if "/" in value:
        raise bad(field, f"{value!r} is a time interval; observations are stored at an instant",
                  reason("sta-time-interval", value=value))
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad(field, f"{value!r} is not an ISO 8601 time",
                  reason("sta-time-invalid", value=value)) from None
    if parsed.tzinfo is None:
        raise bad(field, f"{value!r} has no UTC offset (add Z or +hh:mm)",
                  reason("sta-time-no-offset", value=value, z="Z", offset="+hh:mm"))
    return parsed.astimezone(UTC)


def number(value: Any, field: str) -> float:
    """A numeric result; null is a missing value (stored as NaN, QC flag 9) as in ingest."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad(field, f"{value!r} is not a number",
                          reason("sta-not-number", value=value)) from None
        else:
            raise bad(field, "expected a number (only numeric results are stored)",
                      reason("sta-number-type"))
    out = float(value)
    if not math.isfinite(out):
        raise bad(field, "expected a finite number", reason("sta-not-finite"))
    return out


def geometry(value: Any, encoding: str | None, field: str) -> str:
    """A GeoJSON geometry (or Feature) as WKT, checked with shapely, lon/lat in range."""
    import shapely
    from shapely.geometry import shape

    if encoding is not None and encoding not in GEOJSON_TYPES:
        raise bad(field, f"encodingType {encoding!r} is not supported; use application/geo+json")
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or "type" not in value:
        raise bad(field, "expected a GeoJSON geometry such as "
                         '{"type": "Point", "coordinates": [76.9, 43.2]}')
    try:
        geom = shape(value)
    except Exception as exc:
        raise bad(field, f"not a valid GeoJSON geometry ({exc})") from None
    if geom.is_empty:
        raise bad(field, "the geometry is empty")
    x0, y0, x1, y1 = geom.bounds
    if min(x0, x1) < -180 or max(x0, x1) > 180 or min(y0, y1) < -90 or max(y0, y1) > 90:
        raise bad(field, "coordinates are [longitude, latitude] in WGS 84, within -180..180 and "
                         "-90..90")
    return shapely.to_wkt(geom)


def link_id(value: Any, field: str) -> int | None:
    """The @iot.id of a nested object that links to an existing entity, else None.

    Clients such as frost-sta-client send the whole linked entity, so an object with an id is
    a link whatever else it holds.
    """
    obj = entity_object(value, field)
    if "@iot.id" not in obj:
        return None
    raw = obj["@iot.id"]
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 1 << 63:
        raise bad(f"{field}.@iot.id", "expected an integer id")
    return raw


def entity_list(value: Any, field: str) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise bad(field, "expected a list of entities")
    return value


def check_keys(body: dict, allowed: set[str], field: str) -> None:
    """Unknown members are refused rather than dropped; annotations (`x@iot.y`) are ignored."""
    for key in body:
        if "@" in key:
            continue
        if key not in allowed:
            raise bad(where(field, key), "is not a property or link of this entity "
                                          f"(expected one of {', '.join(sorted(allowed))})")


# -- units -----------------------------------------------------------------------------------
def unit_hint(uom: Any) -> list[str]:
    """The unit codes a unitOfMeasurement may mean, most specific first (a URL is not one)."""
    if not isinstance(uom, dict):
        return []
    return [v.strip() for v in (uom.get("definition"), uom.get("symbol"), uom.get("name"))
            if isinstance(v, str) and v.strip() and "://" not in v]


def check_unit(uom: Any, prop, where: str) -> None:
    """A Datastream is declared in its property's canonical unit (any spelling of it)."""
    if uom is None:
        return
    entity_object(uom, where)
    for candidate in unit_hint(uom):
        try:
            conv = conversion(candidate, prop.canonical_unit, prop.molar_mass)
        except UnitError:
            continue
        if abs(conv.factor - 1.0) < 1e-12 and conv.offset == 0:
            return
        raise bad(where, f"{candidate!r} is not the canonical unit {prop.canonical_unit!r} "
                         f"of {prop.code}: results are stored in canonical units, so declare "
                         f"the Datastream in {prop.canonical_unit} and give parameters.unit on "
                         "Observations measured in another unit")
    raise bad(where, f"no known unit: give the UCUM code (such as {prop.canonical_unit}) as "
                     "definition or symbol")


# -- RFC 6902 JSON Patch ---------------------------------------------------------------------
def apply_json_patch(doc: dict, ops: Any) -> dict:
    """The document after the operations (add, remove, replace, move, copy, test)."""
    if not isinstance(ops, list):
        raise bad("", "a JSON Patch document is a list of operations")
    out = copy.deepcopy(doc)
    for i, op in enumerate(ops):
        field = f"[{i}]"
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise bad(field, "each operation is an object with an 'op'")
        name = op["op"]
        path = _pointer(op.get("path"), f"{field}.path")
        if name in ("add", "replace", "test") and "value" not in op:
            raise bad(f"{field}.value", "is required")
        if name == "test":
            if _get(out, path, field) != op["value"]:
                raise BadRequest(f"{field}: test failed at {op.get('path')}", field=field)
        elif name == "remove":
            _remove(out, path, field)
        elif name == "add":
            out = _add(out, path, copy.deepcopy(op["value"]), field)
        elif name == "replace":
            _get(out, path, field)
            out = _add(out, path, copy.deepcopy(op["value"]), field, replace=True)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from"), f"{field}.from")
            value = copy.deepcopy(_get(out, source, field))
            if name == "move":
                _remove(out, source, field)
            out = _add(out, path, value, field)
        else:
            raise bad(f"{field}.op", f"unknown operation {name!r}")
    return out


def _pointer(text: Any, field: str) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise bad(field, "expected a JSON Pointer such as /name")
    if text == "":
        raise bad(field, "the whole entity cannot be replaced; use PUT")
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _parent(doc: Any, path: list[str], field: str) -> Any:
    node = doc
    for key in path[:-1]:
        node = _step(node, key, field)
    return node


def _step(node: Any, key: str, field: str) -> Any:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    raise bad(field, f"path member {key!r} does not exist")


def _get(doc: Any, path: list[str], field: str) -> Any:
    return _step(_parent(doc, path, field), path[-1], field)


def _remove(doc: Any, path: list[str], field: str) -> None:
    parent, key = _parent(doc, path, field), path[-1]
    _step(parent, key, field)
    if isinstance(parent, dict):
        del parent[key]
    else:
        del parent[int(key)]


def _add(doc: Any, path: list[str], value: Any, field: str, *, replace: bool = False) -> Any:
    parent, key = _parent(doc, path, field), path[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            if replace:
                parent[int(key)] = value
            else:
                parent.insert(int(key), value)
        else:
            raise bad(field, f"bad array index {key!r}")
    else:
        raise bad(field, "cannot add a member to a value that is not an object or array")
    return doc
