"""Resource paths (/Things(1)/Datastreams, /Datastreams(5)/Observations/$ref,
/Observations(3)/result/$value) parsed against the model into an `ast.ResourcePath`.

A path that names nothing the model knows is a 404, as SensorThings asks; only malformed
syntax is a 400.
"""

from __future__ import annotations

import re

from ecobridge.errors import BadRequest, NotFound
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.model import ENTITY_SETS, JSON, entity_set

_SEGMENT = re.compile(r"([A-Za-z]+)(?:\(([^()]*)\))?")
_ID = re.compile(r"\d{1,18}|'\d{1,18}'")


def parse_path(path: str) -> ast.ResourcePath:
    """The path below the service root (`/sta/v1.1`), with or without a leading slash."""
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if not parts:
        return ast.ResourcePath()
    segments: list[ast.Segment] = [_first(parts[0])]
    i = 1
    while i < len(parts):
        part, last = parts[i], segments[-1]
        if part == "$ref":
            _end(parts, i, "$ref")
            if last.many and last.id is not None:
                raise BadRequest("$ref names the links of a set or a to-one link, not an entity")
            return ast.ResourcePath(tuple(segments), ref=True)
        if last.many and last.id is None:
            raise NotFound(f"/{'/'.join(parts[:i])} is a collection: address one entity "
                           f"with ({last.entity_set}(id)) before {part!r}")
        m = _SEGMENT.fullmatch(part)
        if m is None:
            raise NotFound(f"no resource {part!r} in {path!r}")
        name, key = m.groups()
        es = entity_set(last.entity_set)
        relation = es.relation(name)
        if relation is not None:
            if key is not None and not relation.many:
                raise NotFound(f"{name} is a single entity; it takes no id")
            segments.append(ast.Segment(name, relation.target, _key(key, part),
                                        relation.many))
            i += 1
            continue
        if key is not None:
            raise NotFound(f"{es.singular} has no navigation link {name!r}")
        return _property(parts, i, es, tuple(segments), path)
    return ast.ResourcePath(tuple(segments))


def _first(part: str) -> ast.Segment:
    m = _SEGMENT.fullmatch(part)
    if m is None or m.group(1) not in ENTITY_SETS:
        raise NotFound(f"no entity set {part!r}")
    name, key = m.groups()
    return ast.Segment(name, name, _key(key, part), True)


def _key(key: str | None, part: str) -> int | None:
    if key is None:
        return None
    if not _ID.fullmatch(key.strip()):
        raise NotFound(f"no entity {part!r}: ids are integers")
    return int(key.strip().strip("'"))


def _property(parts: list[str], i: int, es, segments: tuple[ast.Segment, ...],
              path: str) -> ast.ResourcePath:
    name = parts[i]
    if i + 1 < len(parts) and es.prop(f"{name}/{parts[i + 1]}"):
        name, i = f"{name}/{parts[i + 1]}", i + 1
    prop = es.prop("id" if name == "@iot.id" else name)
    if prop is None:
        raise NotFound(f"{es.singular} has no property or link {name!r}")
    rest = parts[i + 1:]
    value = bool(rest) and rest[-1] == "$value"
    keys = tuple(rest[:-1] if value else rest)
    if keys and (prop.kind != JSON or len(prop.columns) > 1):
        raise NotFound(f"{es.singular}/{name} has no member {keys[0]!r}")
    if any(not k or k.startswith("$") for k in keys):
        raise NotFound(f"no resource {'/'.join(keys)!r} in {path!r}")
    return ast.ResourcePath(segments, prop=prop.name, json=keys, value=value)


def _end(parts: list[str], i: int, what: str) -> None:
    if i != len(parts) - 1:
        raise NotFound(f"nothing can follow {what}")
