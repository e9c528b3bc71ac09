"""System query options ($filter, $select, $expand, $orderby, $top, $skip, $count,
$resultFormat) parsed and checked against the model into an `ast.Query`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ecobridge.errors import BadRequest, EcobridgeError
from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.filter import parse_filter, parse_orderby
from ecobridge.monitoring.sta.model import entity_set


class OptionNotImplemented(EcobridgeError):
    """SensorThings 1.1 asks for 501 on a system query option the server does not offer."""

    status = 501
    type = "not-implemented"
    title = "Not implemented"
    exit_code = 2


NESTED_OPTIONS = ("$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$count")
TOP_OPTIONS = (*NESTED_OPTIONS, "$resultFormat")
RESULT_FORMATS = {"dataarray": "dataArray"}
_MAX_EXPAND_DEPTH = 8


def parse_query(params: Mapping[str, str], entity: str) -> ast.Query:
    """The query options among `params` (already URL-decoded); other parameters are ignored."""
    options = {k: v for k, v in params.items() if k.startswith("$")}
    return _options(options, entity, TOP_OPTIONS, depth=0)


def _options(options: Mapping[str, str], entity: str, allowed: tuple[str, ...],
             depth: int) -> ast.Query:
    for name in options:
        if name not in allowed:
            if name in TOP_OPTIONS or name in ("$search", "$format", "$apply", "$skiptoken"):
                raise OptionNotImplemented(f"{name} is not supported here", option=name)
            raise OptionNotImplemented(f"unknown system query option {name}", option=name)
    get = options.get
    result_format = None
    if get("$resultFormat") is not None:
        result_format = RESULT_FORMATS.get(get("$resultFormat").lower())
        if result_format is None:
            raise OptionNotImplemented(
                f"$resultFormat={get('$resultFormat')} is not supported (only dataArray)",
                option="$resultFormat")
    return ast.Query(
        entity_set=entity,
        filter=parse_filter(get("$filter"), entity) if get("$filter") is not None else None,
        select=_select(get("$select"), entity) if get("$select") is not None else None,
        expand=_expand(get("$expand"), entity, depth) if get("$expand") is not None else (),
        orderby=parse_orderby(get("$orderby"), entity) if get("$orderby") is not None else (),
        top=_count_number(get("$top"), "$top"),
        skip=_count_number(get("$skip"), "$skip") or 0,
        count=_boolean(get("$count"), "$count"),
        result_format=result_format,
    )


def _count_number(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{option}: expected a non-negative integer, got {text!r}",
                         option=option)
    return int(text)


def _boolean(text: str | None, option: str) -> bool:
    if text is None:
        return False
    if text.strip() not in ("true", "false"):
        raise BadRequest(f"{option}: expected true or false, got {text!r}", option=option)
    return text.strip() == "true"


def _select(text: str, entity: str) -> tuple[str, ...]:
    es = entity_set(entity)
    names: list[str] = []
    for piece, offset in split_top(text, ",", "$select"):
        name = piece.strip()
        name = "id" if name in ("@iot.id", "id") else name
        prop = es.prop(name)
        if not (prop is not None and prop.parent is None) and es.relation(name) is None:
            raise BadRequest(f"$select: at position {offset}: {es.singular} has no property "
                             f"or link {piece.strip()!r}", option="$select", position=offset)
        if name not in names:
            names.append(name)
    return tuple(names)


def _expand(text: str, entity: str, depth: int) -> tuple[ast.Expand, ...]:
    if depth >= _MAX_EXPAND_DEPTH:
        raise BadRequest(f"$expand: nested deeper than {_MAX_EXPAND_DEPTH} levels",
                         option="$expand")
    items: list[ast.Expand] = []
    for piece, offset in split_top(text, ",", "$expand"):
        item = _expand_item(piece.strip(), offset + len(piece) - len(piece.lstrip()), entity,
                            depth)
        items = _merge(items, item)
    return tuple(items)


def _expand_item(text: str, offset: int, entity: str, depth: int) -> ast.Expand:
    path, options = text, ""
    if "(" in text:
        open_at = text.index("(")
        if not text.endswith(")"):
            raise BadRequest(f"$expand: at position {offset + len(text)}: expected ')'",
                             option="$expand", position=offset + len(text))
        path, options = text[:open_at], text[open_at + 1:-1]
    names = [n.strip() for n in path.split("/")]
    chain: list[tuple[str, str]] = []          # (relation, target entity set)
    current = entity
    for name in names:
        relation = entity_set(current).relation(name)
        if relation is None:
            raise BadRequest(f"$expand: at position {offset}: {entity_set(current).singular} "
                             f"has no navigation link {name!r}", option="$expand",
                             position=offset)
        chain.append((name, relation.target))
        current = relation.target
    nested: dict[str, str] = {}
    for piece, at in split_top(options, ";", "$expand") if options.strip() else []:
        key, eq, value = piece.strip().partition("=")
        if not eq:
            raise BadRequest(f"$expand: at position {offset + at}: expected $option=value",
                             option="$expand", position=offset + at)
        nested[key.strip()] = value
    expand = ast.Expand(chain[-1][0], _options(nested, current, NESTED_OPTIONS, depth + 1))
    for name, target in reversed(chain[:-1]):
        expand = ast.Expand(name, ast.Query(entity_set=target, expand=(expand,)))
    return expand


def _merge(items: list[ast.Expand], new: ast.Expand) -> list[ast.Expand]:
    """`Datastreams,Datastreams/Observations` expands Datastreams once, with Observations."""
    for i, old in enumerate(items):
        if old.relation == new.relation:
            if old.query.expand == () and old.query == ast.Query(old.query.entity_set):
                items[i] = new
            elif new.query == ast.Query(new.query.entity_set, expand=new.query.expand):
                merged = list(old.query.expand)
                for e in new.query.expand:
                    merged = _merge(merged, e)
                items[i] = ast.Expand(old.relation, replace(old.query, expand=tuple(merged)))
            else:
                raise BadRequest(f"$expand: {new.relation} is expanded twice with options",
                                 option="$expand")
            return items
    return [*items, new]


def split_top(text: str, sep: str, what: str) -> list[tuple[str, int]]:
    """Split at `sep` outside quotes and parentheses; each piece with its offset."""
    pieces: list[tuple[str, int]] = []
    depth, start, i, n = 0, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            close = i + 1
            while True:
                close = text.find("'", close)
                if close < 0:
                    raise BadRequest(f"{what}: at position {i}: unterminated string literal",
                                     option=what, position=i)
                if text.startswith("''", close):
                    close += 2
                    continue
                break
            i = close + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"{what}: at position {i}: unbalanced ')'", option=what,
                                 position=i)
        elif ch == sep and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
        i += 1
    if depth:
        raise BadRequest(f"{what}: at position {n}: expected ')'", option=what, position=n)
    pieces.append((text[start:], start))
    for piece, offset in pieces:
        if not piece.strip():
            raise BadRequest(f"{what}: at position {offset}: empty item", option=what,
                             position=offset)
    return pieces
