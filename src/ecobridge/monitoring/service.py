"""Reading the SensorThings model: things, datastreams and observations, under the access policy.

Every query joins `datasets d` and filters with `visible_datasets_sql`; locations come through
`location_sql`, so a sensitive station is generalised in every representation, bbox filters
included (a filter on the precise point would reveal it by bisection). Something the principal may
not see is reported missing (NotFound), never forbidden. Lists page by keyset: `after` is the last
row's key from the previous page, `Page.next_key` the key to continue from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from ecobridge.catalog.service import get_dataset
from ecobridge.errors import BadRequest, InvalidInput, NotFound
from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    record_read,
    visible_datasets_sql,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OBSERVATION_COLUMNS = ("id", "phenomenon_time", "result_time", "result", "quality_flag",
                       "qc_tests")


@dataclass(frozen=True)
class Page:
    """One page of a list: records (dicts) or an Arrow table, and the key after its last row."""

    items: list[dict] | pa.Table
    next_key: tuple[int, ...] | None


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")


# -- things ------------------------------------------------------------------------------------
def _things_sql(principal: Principal, where: str) -> tuple[str, list]:
    """Things with their current location, generalised where the principal lacks full access."""
    loc, loc_params = location_sql(principal, "l.geom", "d")
    full, full_params = full_access_sql(principal, "d")
    pred, pred_params = visible_datasets_sql(principal, "d")
    inner = (
        f"SELECT t.id, t.code, t.name, t.description, t.properties, d.id AS dataset_id,"
        f" d.slug AS dataset, {loc} AS geom, (d.sensitive AND NOT {full}) AS generalised"
        " FROM things t JOIN datasets d ON d.id = t.dataset_id"
        " LEFT JOIN (SELECT thing_id, max(location_id) AS location_id FROM thing_locations"
        "  GROUP BY thing_id) tl ON tl.thing_id = t.id"
        " LEFT JOIN locations l ON l.id = tl.location_id"
        f" WHERE {pred}"
    )
    sql = (f"SELECT id, code, name, description, properties, dataset_id, dataset,"
           f" ST_AsGeoJSON(geom) AS location, generalised FROM ({inner}) WHERE {where}"
           " ORDER BY id")
    return sql, loc_params + full_params + pred_params


def _thing(row: dict) -> dict:
    generalised = bool(row.pop("generalised"))
    return {**row, "properties": _json(row["properties"]), "location": _json(row["location"]),
            "location_generalised": generalised}


def list_things(store, principal: Principal, *, dataset: str | int | None = None,
                bbox: tuple[float, float, float, float] | None = None,
                after: tuple[int, ...] | None = None, limit: int = 100) -> Page:
    """Things of visible datasets, by id; `bbox` is (min_lon, min_lat, max_lon, max_lat)."""
    _check_limit(limit)
    where, params = ["true"], []
    if dataset is not None:
        where.append("dataset_id = ?")
        params.append(get_dataset(store, principal, dataset)["id"])
    if bbox is not None:
        where.append("ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))")
        params += list(bbox)
    if after is not None:
        where.append("id > ?")
        params.append(after[0])
    sql, base = _things_sql(principal, " AND ".join(where))
    rows = [_thing(r) for r in store.dicts(f"{sql} LIMIT ?", [*base, *params, limit + 1])]
    more = len(rows) > limit
    rows = rows[:limit]
    _audit(store, principal, rows, "things")
    return Page(rows, (rows[-1]["id"],) if more else None)


def get_thing(store, principal: Principal, thing_id: int) -> dict:
    sql, params = _things_sql(principal, "id = ?")
    rows = store.dicts(sql, [*params, thing_id])
    if not rows:
        raise NotFound(f"no thing {thing_id}")
    thing = _thing(rows[0])
    _audit(store, principal, [thing], "things")
    return thing


# -- datastreams -------------------------------------------------------------------------------
_DATASTREAMS = """
SELECT s.id, s.name, s.description, s.thing_id, t.code AS thing_code, d.id AS dataset_id,
       d.slug AS dataset, s.sensor_id, s.observation_type,
       p.code AS property_code, p.name AS property_name, p.definition AS property_definition,
       s.unit_name, s.unit_symbol, s.unit_code,
       s.phenomenon_time_start, s.phenomenon_time_end, s.result_time_start, s.result_time_end,
       s.observation_count, s.last_phenomenon_time, s.last_result, s.last_quality_flag,
       s.properties
FROM datastreams s JOIN things t ON t.id = s.thing_id JOIN datasets d ON d.id = t.dataset_id
JOIN observed_properties p ON p.id = s.observed_property_id
"""


def _datastream(row: dict) -> dict:
    """The summary columns kept by ingest; nothing here scans observations."""
    return {
        "id": row["id"], "name": row["name"], "description": row["description"],
        "thing_id": row["thing_id"], "thing_code": row["thing_code"],
        "dataset_id": row["dataset_id"], "dataset": row["dataset"],
        "sensor_id": row["sensor_id"], "observation_type": row["observation_type"],
        "observed_property": {"code": row["property_code"], "name": row["property_name"],
                              "definition": row["property_definition"]},
        # definition is the UCUM code, as in the SensorThings interface
        "unit_of_measurement": {"name": row["unit_name"], "symbol": row["unit_symbol"],
                                "definition": row["unit_code"]},
        "phenomenon_time_start": row["phenomenon_time_start"],
        "phenomenon_time_end": row["phenomenon_time_end"],
        "result_time_start": row["result_time_start"],
        "result_time_end": row["result_time_end"],
        "observation_count": row["observation_count"],
        "last_phenomenon_time": row["last_phenomenon_time"],
        "last_result": row["last_result"],
        "last_quality_flag": row["last_quality_flag"],
        "properties": _json(row["properties"]),
    }


def list_datastreams(store, principal: Principal, *, thing_id: int | None = None,
                     dataset: str | int | None = None, observed_property: str | None = None,
                     after: tuple[int, ...] | None = None, limit: int = 100) -> Page:
    _check_limit(limit)
    pred, params = visible_datasets_sql(principal, "d")
    where = [pred]
    if thing_id is not None:
        _require_visible(store, principal, "things t JOIN datasets d ON d.id = t.dataset_id",
                         "t.id", thing_id, "thing")
        where.append("s.thing_id = ?")
        params.append(thing_id)
    if dataset is not None:
        where.append("d.id = ?")
        params.append(get_dataset(store, principal, dataset)["id"])
    if observed_property is not None:
        where.append("p.code = ?")
        params.append(observed_property)
    if after is not None:
        where.append("s.id > ?")
        params.append(after[0])
    rows = store.dicts(f"{_DATASTREAMS} WHERE {' AND '.join(where)} ORDER BY s.id LIMIT ?",
                       [*params, limit + 1])
    more = len(rows) > limit
    records = [_datastream(r) for r in rows[:limit]]
    _audit(store, principal, records, "datastreams")
    return Page(records, (records[-1]["id"],) if more else None)


def get_datastream(store, principal: Principal, datastream_id: int) -> dict:
    pred, params = visible_datasets_sql(principal, "d")
    rows = store.dicts(f"{_DATASTREAMS} WHERE s.id = ? AND {pred}", [datastream_id, *params])
    if not rows:
        raise NotFound(f"no datastream {datastream_id}")
    record = _datastream(rows[0])
    _audit(store, principal, [record], "datastreams")
    return record


# -- observations ------------------------------------------------------------------------------
def _require_visible(store, principal: Principal, tables: str, column: str, ref: int,
                     noun: str) -> int:
    """The dataset id behind `ref`, or NotFound alike for hidden and unknown ones."""
    pred, params = visible_datasets_sql(principal, "d")
    row = store.one(f"SELECT d.id FROM {tables} WHERE {column} = ? AND {pred}", [ref, *params])
    if row is None:
        raise NotFound(f"no {noun} {ref}")
    return row[0]


_DATASTREAM_TABLES = ("datastreams s JOIN things t ON t.id = s.thing_id"
                      " JOIN datasets d ON d.id = t.dataset_id")


def _after_time(micros: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise BadRequest("cursor: position out of range", parameter="cursor") from None


def observations(store, principal: Principal, *, datastream_id: int,
                 start: datetime | None = None, end: datetime | None = None,
                 after: tuple[int, ...] | None = None, limit: int = 1000) -> Page:
    """Observations of one datastream in [start, end), ordered by (phenomenon_time, id).

    `after` is (microseconds since the epoch, id) of the last row already seen. The predicates
    are `datastream_id = ?` and bounds on phenomenon_time, which DuckDB's zone maps prune on, as
    observations have no index; paging never uses OFFSET. The visibility check rides along in
    the same query (a one-row join); only an empty page costs a second query, to tell a hidden
    or unknown datastream (404) from an empty range.
    """
    _check_limit(limit)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end must be after start (end is exclusive)", field="end")
    pred, params = visible_datasets_sql(principal, "d")
    params = [datastream_id, *params, datastream_id]
    where = ["o.datastream_id = ?"]
    lower = start
    if after is not None:
        after_time = _after_time(after[0])
        lower = after_time if lower is None else max(lower, after_time)
        where.append("(o.phenomenon_time > ? OR o.id > ?)")
        params += [after_time, after[1]]
    if lower is not None:
        where.append("o.phenomenon_time >= ?")
        params.append(lower)
    if end is not None:
        where.append("o.phenomenon_time < ?")
        params.append(end)
    table = store.arrow(
        f"SELECT {', '.join('o.' + c for c in OBSERVATION_COLUMNS)}, v.dataset_id"
        f" FROM observations o, (SELECT d.id AS dataset_id FROM {_DATASTREAM_TABLES}"
        f" WHERE s.id = ? AND {pred}) v WHERE {' AND '.join(where)}"
        " ORDER BY o.phenomenon_time, o.id LIMIT ?", [*params, limit + 1])
    if table.num_rows == 0:
        _require_visible(store, principal, _DATASTREAM_TABLES, "s.id", datastream_id,
                         "datastream")
        return Page(table.drop_columns(["dataset_id"]), None)
    dataset_id = table.column("dataset_id")[0].as_py()
    table = table.drop_columns(["dataset_id"])
    next_key = None
    if table.num_rows > limit:
        table = table.slice(0, limit)
        last = table.num_rows - 1
        next_key = (table.column("phenomenon_time")[last].value, table.column("id")[last].as_py())
    record_read(store, principal, dataset_ids=[dataset_id], kind="observations",
                count=table.num_rows)
    return Page(table, next_key)


def _audit(store, principal: Principal, records: list[dict], kind: str) -> None:
    if records:
        record_read(store, principal, dataset_ids=[r["dataset_id"] for r in records], kind=kind,
                    count=len(records))
