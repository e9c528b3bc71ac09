"""Output formats for every router: negotiation and rendering of JSON, CSV, Parquet and GeoJSON.

Services hand over plain dicts or Arrow tables; this module turns them into responses. Tables are
serialised column by column with Arrow compute kernels, never row by row in Python, so a page of
ten thousand observations costs a few milliseconds. Times go out in UTC as ISO 8601 with `Z`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi.responses import Response, StreamingResponse

MEDIA_TYPES = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
# Accept header values understood, with the format each selects.
_ACCEPTED = {
    "application/json": "json", "application/geo+json": "geojson", "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}
BULK_FORMATS = frozenset({"csv", "parquet"})
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "geojson": "geojson", "json": "json"}


def negotiate(f: str | None, accept: str | None, allowed: Sequence[str]) -> str:
    """`f=` wins; else the Accept header's most preferred format we offer; else the first."""
    if f is not None and f in allowed:
        return f
    if accept:
        ranked = []
        for position, (media, q) in enumerate(media_ranges(accept)):
            fmt = _ACCEPTED.get(media.lower())
            if fmt in allowed and q > 0:
                ranked.append((-q, position, fmt))
        if ranked:
            return min(ranked)[2]
    return allowed[0]


def media_ranges(accept: str) -> Iterator[tuple[str, float]]:
    """Each comma-separated part of an Accept header as (media range, q): q is 1 when absent
    and 0 when unreadable, so a malformed weight never prefers a type."""
    for part in accept.split(","):
        media, *opts = (p.strip() for p in part.split(";"))
        q = 1.0
        for opt in opts:
            if opt.startswith("q="):
                try:
                    q = float(opt[2:])
                except ValueError:
                    q = 0.0
        yield media, q


# -- JSON --------------------------------------------------------------------------------------
def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with Z; microseconds only when there are some."""
    if value is None:
        return None
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0")
    return text + "Z"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON; they go out as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"),
                      default=_default, allow_nan=False)


# Arrow scalars made once: a Python str or None passed to a kernel is converted on every call,
# and that conversion probes for (absent) optional modules, costing more than the kernel.
_EMPTY, _QUOTE, _Z, _NULL = (pa.scalar(v, pa.string()) for v in ("", '"', "Z", "null"))
_TRUE, _FALSE, _NONE = (pa.scalar(v, pa.string()) for v in ("true", "false", None))


def _iso_strings(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Timestamps as ISO 8601 text in UTC, vectorised: no datetime objects are made. Whole
    seconds (the usual case) skip the regular expressions that trim a fraction."""
    naive = column.cast(pa.timestamp("us"))  # a zoned timestamp cast to naive keeps UTC
    if not pc.max(pc.subsecond(naive)).as_py():
        naive = naive.cast(pa.timestamp("s"))
    text = pc.replace_substring(pc.cast(naive, pa.string()), " ", "T", max_replacements=1)
    if naive.type.unit == "us":
        text = pc.replace_substring_regex(text, r"\.000000$", "")
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    return pc.binary_join_element_wise(text, _Z, _EMPTY)


def _json_values(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """One column as JSON value texts ("null" for nulls)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        text = pc.binary_join_element_wise(_QUOTE, _iso_strings(column), _QUOTE, _EMPTY)
    elif pa.types.is_floating(kind):
        text = pc.if_else(pc.is_finite(column), pc.cast(column, pa.string()), _NONE)
    elif pa.types.is_integer(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, _TRUE, _FALSE)
    else:  # text, lists, structs: rare on hot paths, exact through the json module
        text = pa.array([None if v is None else dumps(v) for v in column.to_pylist()],
                        pa.string())
    return pc.fill_null(text, _NULL)


def json_rows(table: pa.Table) -> str:
    """A table as a JSON array of objects, built by Arrow kernels."""
    if table.num_rows == 0:
        return "[]"
    parts: list[Any] = []
    for i, name in enumerate(table.column_names):
        parts.append(pa.scalar(("{" if i == 0 else ",") + json.dumps(name) + ":", pa.string()))
        parts.append(_json_values(table.column(i)))
    parts.append(pa.scalar("}", pa.string()))
    rows = pc.binary_join_element_wise(*parts, _EMPTY)
    chunks = rows.chunks if isinstance(rows, pa.ChunkedArray) else [rows]
    return "[" + ",".join(",".join(chunk.to_pylist()) for chunk in chunks) + "]"


def json_response(body: dict, *, rows: pa.Table | None = None, media: str = "json",
                  headers: dict | None = None) -> Response:
    """`body` as JSON; a table in `rows` becomes its "items" member without per-row Python."""
    text = dumps(body)
    if rows is not None:
        rest = "" if text == "{}" else "," + text[1:-1]
        text = '{"items":' + json_rows(rows) + rest + "}"
    return Response(text.encode(), media_type=MEDIA_TYPES[media], headers=headers)


# -- CSV and Parquet ---------------------------------------------------------------------------
def _flat(table: pa.Table) -> pa.Table:
    """Timestamps as ISO text, nested values as JSON text: what a CSV cell can hold."""
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_timestamp(kind):
            table = table.set_column(i, field.name, _iso_strings(table.column(i)))
        elif pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
            values = [None if v is None else dumps(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
    return table


def _csv_chunks(table: pa.Table, batch_rows: int = 50_000) -> Iterator[bytes]:
    table = _flat(table)
    sink = io.BytesIO()
    writer = pacsv.CSVWriter(sink, table.schema)
    if table.num_rows == 0:
        writer.close()
        yield sink.getvalue()
        return
    for batch in table.to_batches(max_chunksize=batch_rows):
        writer.write_batch(batch)
        yield sink.getvalue()
        sink.seek(0)
        sink.truncate()
    writer.close()
    if sink.getvalue():
        yield sink.getvalue()


def _attachment(filename: str, headers: dict | None) -> dict:
    return {**(headers or {}), "Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(table: pa.Table, filename: str, headers: dict | None = None) -> Response:
    """Streamed in batches. The table is already fetched: the DuckDB cursor of this thread must
    be free again before the response body is sent from another worker thread."""
    return StreamingResponse(_csv_chunks(table), media_type=MEDIA_TYPES["csv"],
                             headers=_attachment(filename, headers))


def _utc(table: pa.Table) -> pa.Table:
    """Time zones named plainly "UTC" (DuckDB says "Etc/UTC"), the spelling readers expect."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz not in (None, "UTC"):
            table = table.set_column(i, field.name, table.column(i).cast(
                pa.timestamp(field.type.unit, tz="UTC")))
    return table


def parquet_response(table: pa.Table, filename: str, headers: dict | None = None) -> Response:
    table = _utc(table)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return Response(sink.getvalue(), media_type=MEDIA_TYPES["parquet"],
                    headers=_attachment(filename, headers))


def table_response(fmt: str, table: pa.Table, *, filename: str, body: dict | None = None,
                   headers: dict | None = None) -> Response:
    """A table in the chosen format; for JSON inside `body` as "items"."""
    if fmt == "csv":
        return csv_response(table, f"{filename}.csv", headers)
    if fmt == "parquet":
        return parquet_response(table, f"{filename}.parquet", headers)
    return json_response(body or {}, rows=table, headers=headers)


def records_table(records: list[dict], columns: Sequence[str]) -> pa.Table:
    """Plain records (small lists: things, datastreams, datasets) as a table for CSV/Parquet."""
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in records]) \
        if records else pa.table({c: pa.array([], pa.string()) for c in columns})


# -- GeoJSON -----------------------------------------------------------------------------------
def feature_collection(records: list[dict], *, geometry: str = "location",
                       links: list[dict] | None = None) -> dict:
    """Records holding a GeoJSON geometry under `geometry` as a FeatureCollection."""
    features = [{"type": "Feature", "id": r.get("id"), "geometry": r.get(geometry),
                 "properties": {k: v for k, v in r.items() if k != geometry}} for r in records]
    body: dict = {"type": "FeatureCollection", "features": features,
                  "numberReturned": len(features)}
    if links:
        body["links"] = links
    return body


def link_header(links: dict[str, str | None]) -> dict:
    """RFC 8288 Link header from rel -> href (None entries skipped)."""
    value = ", ".join(f'<{href}>; rel="{rel}"' for rel, href in links.items() if href)
    return {"Link": value} if value else {}
