"""SensorThings entities rendered as JSON text by DuckDB itself.

A page of a thousand observations shaped in Python costs more than the query that finds it
(tuples, dicts, ISO strings, json.dumps); `json_object` does the same work vectorised. The service
root is a parameter, never SQL text. Used for collections without $expand; the Python shaping in
monitoring.sta.responses stays the reference and the tests hold both to the same output.
"""

from __future__ import annotations

from collections.abc import Callable

from ecobridge.monitoring.sta.model import GEOMETRY, INTERVAL, JSON, NUMBER, TIME, EntitySet
from ecobridge.store.sta_expr import Frag, S, composite


def iso_sql(column: str) -> str:
    """A TIMESTAMPTZ as UTC ISO 8601 text with Z, a fraction only when it has one (DuckDB
    prints a TIMESTAMP as '2024-01-01 12:30:15.25'; a cast is far cheaper than strftime)."""
    return f"(replace(CAST(make_timestamp(epoch_us({column})) AS VARCHAR), ' ', 'T') || 'Z')"


def _interval_sql(start: str, end: str) -> str:
    return (f"CASE WHEN {start} IS NULL THEN NULL WHEN {end} IS NULL OR {end} = {start}"
            f" THEN {iso_sql(start)} ELSE {iso_sql(start)} || '/' || {iso_sql(end)} END")


def entity_json_sql(es: EntitySet, alias: str, select: tuple[str, ...] | None, root: str,
                    geometry: Callable[[str, str, str], Frag]) -> Frag:
    """json_object(...) of one entity as responses.entity shapes it: @iot.id, @iot.selfLink,
    the (selected) properties, the (selected) navigation links."""
    link: Frag = S("(CAST(? AS VARCHAR) || ", f"'/{es.name}(' || {alias}.id || ')')")
    link = (link[0], [root])
    pairs: list[str | Frag] = []
    if select is None or "id" in select:
        pairs += [f"'@iot.id', {alias}.id, '@iot.selfLink', ", link]
    for prop in es.printed_props:
        if select is not None and prop.name not in select:
            continue
        cols = [f"{alias}.{c}" for c in prop.columns]
        if prop.kind == JSON and len(cols) > 1:
            value: str | Frag = composite(es, alias)
        elif prop.kind == INTERVAL:
            value = _interval_sql(cols[0], cols[1])
        elif prop.kind == TIME:
            value = iso_sql(cols[0])          # NULL in, NULL out
        elif prop.kind == GEOMETRY:
            value = S("ST_AsGeoJSON(", geometry(es.name, alias, prop.columns[0]), ")")
        elif prop.kind == NUMBER:
            # NaN and infinities are not JSON numbers
            value = f"CASE WHEN isfinite(CAST({cols[0]} AS DOUBLE)) THEN {cols[0]} END"
        else:
            value = cols[0]
        pairs += [", " if pairs else "", f"'{prop.name}', ", value]
    for relation in es.relations:
        if select is None or relation.name in select:
            pairs += [", " if pairs else "", f"'{relation.name}@iot.navigationLink', ", link,
                      f" || '/{relation.name}'"]
    if not pairs:
        return "'{}'", []
    return S("json_object(", *pairs, ")")
