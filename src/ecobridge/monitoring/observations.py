"""Observation ingest, columnar: DuckDB parses, numpy classifies, sorts and flags.

1. Keys pass: the distinct (station, variable, unit) triples of the file with their row counts.
   Each triple is resolved once: its station (thing), observed property, datastream (created if
   new) and unit conversion (pint, once per distinct unit and property).
2. Rows pass: one order-preserving projection gives per row a key hash, the time in UTC
   microseconds, the value and a problem code (time missing / unreadable / without offset, value
   not a number / missing). Row numbers are positions in that stream (CSV) or Parquet row numbers.
3. numpy maps each row to its key, rejects what cannot be stored with one reason, converts units
   (multiply, add), and hands the rest to `merge.merge_and_write`.
4. Rejected rows are written to the quarantine in one SQL statement that re-reads their raw
   fields from the file, so nothing of a rejected row is lost.

A regular long CSV takes one pass instead of 1 and 2: pyarrow streams it in batches and the same
SQL classifies each batch in memory (`csv_arrow.scan`); a file pyarrow will not read (short or
long rows, bad bytes) goes through DuckDB's `read_csv` as above. A plain one (see `_typed`) is
classified by numpy instead, with only the rows of other shapes sent through that SQL
(`csv_arrow.scan_typed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecobridge.errors import InvalidInput
from ecobridge.monitoring import csv_arrow
from ecobridge.monitoring.mapping import Mapping
from ecobridge.monitoring.merge import Rows, merge_and_write
from ecobridge.monitoring.properties import datastream_ids, load_properties
from ecobridge.monitoring.reasons import Reason, reason
from ecobridge.monitoring.report import Counts
from ecobridge.monitoring.sources import Table, csv_error, ident
from ecobridge.monitoring.stations import create_station
from ecobridge.monitoring.units import UnitError, conversion

REQUIRED = ("station", "variable", "time", "value", "unit")
COORDS = {"lat": ("lat", "latitude"), "lon": ("lon", "lng", "longitude")}
# problem codes computed in SQL
T_MISSING, T_BAD, T_NAIVE, V_BAD, V_MISSING = 1, 2, 4, 8, 16
TIME_REASONS = {T_MISSING: reason("time-missing"), T_NAIVE: reason("time-no-offset"),
                T_BAD: reason("time-invalid")}
VALUE_REASON = reason("value-not-number")
OFFSET_RE = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
# ISO 8601 allows hh:mm without seconds; DuckDB's cast wants them before an offset
NO_SECONDS_RE = r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d)([Zz+-])"
BATCH = 1 << 20


@dataclass
class Relation:
    """The file as long rows: SQL for each field over `sql`, with positional or explicit rows."""

    sql: str
    params: list
    fields: dict[str, tuple[str, list]]
    row_number: str | None
    time_type: str
    value_type: str
    wide_columns: tuple[str, ...] = ()
    columns: dict[str, str] = dataclass_field(default_factory=dict)  # field -> file column


def build_relation(table: Table, mapping: Mapping) -> Relation:
    rel, params = table.relation, list(table.params)
    row_number = table.row_number
    wide_columns: tuple[str, ...] = ()
    if mapping.wide:
        missing = [c for c in mapping.wide if table.column_for(c) is None]
        if missing:
            raise InvalidInput(f"missing wide column {missing[0]!r}", file=table.name,
                               field=missing[0])
        cols = [table.column_for(c) for c in mapping.wide]
        wide_columns = tuple(cols)
        casts = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in cols)
        exclude = " EXCLUDE (file_row_number)" if table.format == "parquet" else ""
        inner = (f"SELECT {row_number or 'row_number() OVER ()'} AS __rn, *{exclude}"
                 f" REPLACE ({casts}) FROM {rel}")
        rel = (f"(UNPIVOT ({inner}) ON {', '.join(ident(c) for c in cols)}"
               f" INTO NAME __col VALUE __val)")
        row_number = "__rn"
    fields: dict[str, tuple[str, list]] = {}
    types: dict[str, str] = {}
    columns: dict[str, str] = {}
    for name in (*REQUIRED, "lat", "lon"):
        if name in mapping.constants:
            fields[name] = ("CAST(? AS VARCHAR)", [mapping.constants[name]])
            types[name] = "VARCHAR"
            continue
        if mapping.wide and name in ("variable", "value"):
            fields[name] = ("__col" if name == "variable" else "__val", [])
            types[name] = "VARCHAR"
            continue
        if (mapping.wide and name == "unit" and "unit" not in mapping.columns
                and all(w.unit for w in mapping.wide.values())):
            fields[name] = ("CAST(NULL AS VARCHAR)", [])  # each wide column names its unit
            types[name] = "VARCHAR"
            continue
        wanted = [mapping.columns[name]] if name in mapping.columns else list(
            COORDS.get(name, (name,)))
        column = next((table.column_for(w) for w in wanted if table.column_for(w)), None)
        if column is None:
            if name in mapping.columns:
                raise InvalidInput(f"missing column {mapping.columns[name]!r} (mapped to "
                                   f"{name})", file=table.name, field=mapping.columns[name])
            if name in REQUIRED:
                raise InvalidInput(f"missing column {name!r}; map another column to it or "
                                   "declare a constant in a mapping", file=table.name,
                                   field=name)
            continue
        fields[name] = (ident(column), [])
        types[name] = table.columns[column].upper()
        columns[name] = column
    return Relation(rel, params, fields, row_number, types["time"], types["value"],
                    wide_columns, columns)


def _text(rel: Relation, name: str) -> tuple[str, list]:
    # untrimmed: keys are hashed raw and stripped once per distinct key in resolve_keys
    sql, params = rel.fields[name]
    return f"CAST({sql} AS VARCHAR)", params


def keys_sql(rel: Relation) -> tuple[str, list]:
    parts, params = [], []
    for name in ("station", "variable", "unit"):
        sql, p = _text(rel, name)
        parts.append(f"{sql} AS {name}")
        params += p
    coords = ""
    if "lat" in rel.fields and "lon" in rel.fields:
        for name in ("lat", "lon"):
            sql, p = rel.fields[name]
            parts.append(f"TRY_CAST(replace(CAST({sql} AS VARCHAR), ',', '.') AS DOUBLE) AS {name}")
            params += p
        coords = ", min(lat), max(lat), min(lon), max(lon)"
    sql = (f"SELECT hash(station, variable, unit) AS k, station, variable, unit, count(*) AS n"
           f"{coords} FROM (SELECT {', '.join(parts)} FROM {rel.sql}) GROUP BY ALL")
    return sql, params + rel.params


def rows_sql(rel: Relation, mapping: Mapping, zone: str | None) -> tuple[str, list]:
    parts, params = [], []
    for name in ("station", "variable", "unit"):
        sql, p = _text(rel, name)
        parts.append(f"{sql} AS {name}")
        params += p
    for name, alias in (("time", "tr"), ("value", "vr")):
        sql, p = rel.fields[name]
        parts.append(f"{sql} AS {alias}")
        params += p
    if rel.row_number:
        parts.append(f"{rel.row_number} AS rn")
    t_sql, t_params, t_code, t_code_params = _time_sql(rel.time_type, mapping.time_format, zone)
    v_sql, v_params, v_code, v_code_params = _value_sql(rel.value_type, mapping)
    rn = ", rn" if rel.row_number else ""
    sql = (f"SELECT hash(station, variable, unit) AS k, coalesce(epoch_us(t), 0) AS t, v,"
           f" CAST(({t_code}) | ({v_code}) AS UTINYINT) AS code{rn} FROM ("
           f" SELECT *, {t_sql} AS t, {v_sql} AS v FROM (SELECT {', '.join(parts)}"
           f" FROM {rel.sql}))")
    return sql, (t_code_params + v_code_params + t_params + v_params + params + rel.params)


def _time_sql(kind: str, fmt: str | None, zone: str | None) -> tuple[str, list, str, list]:
    """(time expression, its params, problem-code expression, its params) over raw `tr`.

    The codes test `t IS NOT NULL` first: a parsed time is never blank, and most rows parse."""
    if kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return "tr", [], f"CASE WHEN tr IS NULL THEN {T_MISSING} ELSE 0 END", []
    if kind.startswith(("TIMESTAMP", "DATE")):
        if zone is None:
            return ("CAST(NULL AS TIMESTAMPTZ)", [],
                    f"CASE WHEN tr IS NULL THEN {T_MISSING} ELSE {T_NAIVE} END", [])
        return ("timezone(?, CAST(tr AS TIMESTAMP))", [zone],
                f"CASE WHEN tr IS NULL THEN {T_MISSING} ELSE 0 END", [])
    text = "CAST(tr AS VARCHAR)"
    missing = f"tr IS NULL OR trim({text}) = ''"
    if fmt and ("%z" in fmt or "%Z" in fmt):
        return (f"try_strptime({text}, ?)", [fmt],
                f"CASE WHEN t IS NOT NULL THEN 0 WHEN {missing} THEN {T_MISSING} ELSE {T_BAD}"
                " END", [])
    if fmt:
        naive, naive_params = f"try_strptime({text}, ?)", [fmt]
        offset, offset_params = "false", []
    else:
        naive, naive_params = f"TRY_CAST({text} AS TIMESTAMP)", []
        offset = (f"(length({text}) > 10 AND (suffix({text}, 'Z')"
                  f" OR regexp_matches({text}, ?)))")
        offset_params = [OFFSET_RE]
    aware = (f"coalesce(TRY_CAST({text} AS TIMESTAMPTZ), TRY_CAST(regexp_replace({text}, ?,"
             " '\\1:00\\2') AS TIMESTAMPTZ))")
    aware_params = [NO_SECONDS_RE]
    if zone is None:
        return (f"CASE WHEN {offset} THEN {aware} END", offset_params + aware_params,
                f"CASE WHEN t IS NOT NULL THEN 0 WHEN {missing} THEN {T_MISSING}"
                f" WHEN {naive} IS NOT NULL THEN {T_NAIVE} ELSE {T_BAD} END", naive_params)
    return (f"CASE WHEN {offset} THEN {aware} ELSE timezone(?, {naive}) END",
            offset_params + aware_params + [zone] + naive_params,
            f"CASE WHEN t IS NOT NULL THEN 0 WHEN {missing} THEN {T_MISSING} ELSE {T_BAD} END",
            [])


def _value_sql(kind: str, mapping: Mapping) -> tuple[str, list, str, list]:
    """(value expression, params, problem-code expression, params) over the raw value `vr`."""
    if kind != "VARCHAR":
        return ("TRY_CAST(vr AS DOUBLE)", [],
                f"CASE WHEN vr IS NULL OR isnan(v) THEN {V_MISSING}"
                f" WHEN v IS NULL OR NOT isfinite(v) THEN {V_BAD} ELSE 0 END", [])
    text = "replace(trim(vr), ',', '.')" if mapping.decimal == "," else "trim(vr)"
    na = list(mapping.na_values)
    missing = "vr IS NULL OR trim(vr) = ''" + (" OR list_contains(?, trim(vr))" if na else "")
    params = [na] if na else []
    if any(_numeric(x, mapping.decimal) for x in na):  # "-999": a number may still be missing
        return (f"TRY_CAST({text} AS DOUBLE)", [],
                f"CASE WHEN {missing} THEN {V_MISSING}"
                f" WHEN v IS NULL OR NOT isfinite(v) THEN {V_BAD} ELSE 0 END", params)
    # a finite number is neither blank nor a (non-numeric) missing marker: the common row is
    # decided by its first test
    return (f"TRY_CAST({text} AS DOUBLE)", [],
            f"CASE WHEN v IS NOT NULL AND isfinite(v) THEN 0 WHEN {missing} THEN {V_MISSING}"
            f" ELSE {V_BAD} END", params)


def _numeric(text: str, decimal: str) -> bool:
    """Might DuckDB read this missing-value marker as a number? Anything with a digit, or that
    Python's float reads ("nan", "inf"), counts: DuckDB's DOUBLE cast reads no other text."""
    text = text.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    try:
        float(text)
    except ValueError:
        return any(c.isdigit() for c in text)
    return True


@dataclass
class Keys:
    """The distinct (station, variable, unit) triples of a file, resolved once each."""

    hashes: pa.Array
    g: np.ndarray  # datastream group per key, -1 when the key's rows are rejected
    factor: np.ndarray
    offset: np.ndarray
    reason: list[Reason | None]
    field: list[str | None]
    value: list[str | None]
    ds_of_g: np.ndarray  # datastream id per group, ascending
    configs: list
    created: set[int]


def resolve_keys(cur, dataset_id: int, key_rows: list[tuple], mapping: Mapping) -> Keys:
    props = load_properties(cur)
    props_by_id = {p.id: p for p in props.values()}
    things = dict(cur.execute("SELECT code, id FROM things WHERE dataset_id = ?",
                              [dataset_id]).fetchall())
    coords = _station_coords(key_rows)
    n = len(key_rows)
    factor, offset = np.ones(n), np.zeros(n)
    reasons: list[Reason | None] = [None] * n
    field: list[str | None] = [None] * n
    value: list[str | None] = [None] * n
    pair_of: dict[int, tuple[int, int]] = {}
    for i, (_k, station, variable, unit, *_rest) in enumerate(key_rows):
        station, variable, unit = (x.strip() if x is not None else None
                                   for x in (station, variable, unit))
        code, unit_used = variable, unit
        if variable is not None and mapping.wide and variable in mapping.wide:
            code = mapping.wide[variable].variable
            unit_used = mapping.wide[variable].unit or unit
        elif variable is not None:
            code = mapping.variables.get(variable, variable)
        problem = _key_problem(station, variable, code, unit_used, props)
        if problem is None:
            prop = props[code]
            try:
                conv = conversion(unit_used, prop.canonical_unit, prop.molar_mass)
                factor[i], offset[i] = conv.factor, conv.offset
            except UnitError as exc:
                problem = ("unit", unit_used,
                           reason("unit-for-property", problem=exc.reason, property=code))
        if problem is None and station not in things:
            where = coords.get(station)
            if isinstance(where, tuple):
                things[station] = create_station(cur, dataset_id, station, station, *where)
            else:
                problem = ("station", station, reason(where or "unknown-station",
                                                      station=station))
        if problem is not None:
            field[i], value[i], reasons[i] = problem
            continue
        pair_of[i] = (things[station], props[code].id)
    ds_map, created = datastream_ids(cur, dataset_id, set(pair_of.values()), props_by_id)
    ds_of_g = np.array(sorted(set(ds_map.values())), dtype=np.int64)
    g_of_ds = {int(ds): gi for gi, ds in enumerate(ds_of_g)}
    g = np.full(n, -1, dtype=np.int32)
    for i, pair in pair_of.items():
        g[i] = g_of_ds[ds_map[pair]]
    prop_of_ds = {ds_map[p]: p[1] for p in pair_of.values()}
    configs = [props_by_id[prop_of_ds[int(ds)]].qc for ds in ds_of_g]
    hashes = pa.array([r[0] for r in key_rows], type=pa.uint64())
    return Keys(hashes, g, factor, offset, reasons, field, value, ds_of_g, configs, created)


def _key_problem(station, variable, code, unit, props) -> tuple | None:
    if not station:
        return "station", station, reason("missing-station")
    if not variable:
        return "variable", variable, reason("missing-variable")
    if code not in props:
        return "variable", variable, reason("unknown-property", property=code)
    if not unit:
        return "unit", unit, reason("missing-unit")
    return None


def _station_coords(key_rows: list[tuple]) -> dict:
    """Per station code: (lon, lat) when every row of it gives the same valid point, else the
    code of the reason why its rows cannot create the station (monitoring/reasons.py)."""
    spans: dict[str, list] = {}
    for row in key_rows:
        if len(row) < 9 or row[1] is None:
            continue
        la0, la1, lo0, lo1 = row[5:9]
        span = spans.setdefault(row[1], [math.inf, -math.inf, math.inf, -math.inf, False])
        if la0 is None or lo0 is None:
            span[4] = True
            continue
        span[0], span[1] = min(span[0], la0), max(span[1], la1)
        span[2], span[3] = min(span[2], lo0), max(span[3], lo1)
    out: dict = {}
    for code, (la0, la1, lo0, lo1, gap) in spans.items():
        if gap or la0 == math.inf:
            out[code] = "unknown-station-no-coordinates"
        elif la0 != la1 or lo0 != lo1:
            out[code] = "unknown-station-moving"
        elif abs(la0) > 90 or abs(lo0) > 180:
            out[code] = "unknown-station-out-of-range"
        else:
            out[code] = (lo0, la0)
    return out


def _fetch_rows(cur, sql: str, params: list, keys: Keys, name: str,
                explicit_rn: bool) -> dict[str, np.ndarray]:
    try:
        # An ordered insert into a temporary table runs in parallel; fetching the same query
        # straight to Arrow in file order does not.
        cur.execute(f"CREATE OR REPLACE TEMP TABLE __eb_rows AS {sql}", params)
        n = cur.execute("SELECT count(*) FROM __eb_rows").fetchone()[0]
        out = {"ki": np.empty(n, np.int32), "t": np.empty(n, np.int64),
               "v": np.empty(n, np.float64), "code": np.empty(n, np.uint8)}
        if explicit_rn:
            out["rn"] = np.empty(n, np.int64)
        at = 0
        for batch in cur.execute("SELECT * FROM __eb_rows").fetch_record_batch(BATCH):
            part = slice(at, at + batch.num_rows)
            ki = pc.index_in(batch.column(0), value_set=keys.hashes)
            out["ki"][part] = ki.to_numpy(zero_copy_only=False)
            out["t"][part] = batch.column(1).to_numpy()
            out["v"][part] = batch.column(2).to_numpy(zero_copy_only=False)
            out["code"][part] = batch.column(3).to_numpy()
            if explicit_rn:
                out["rn"][part] = batch.column(4).to_numpy()
            at += batch.num_rows
    except duckdb.Error as exc:
        raise csv_error(exc, name) from None
    finally:
        cur.execute("DROP TABLE IF EXISTS __eb_rows")
    return out


def _typed(rel: Relation, mapping: Mapping) -> csv_arrow.Typed | None:
    """The columns and constants for `csv_arrow.scan_typed`, when the file is plain enough for
    it: ISO times (no time format), '.' decimals, no missing-value markers, no coordinates,
    not wide, each field its own column."""
    if (rel.wide_columns or mapping.time_format or mapping.decimal == "," or mapping.na_values
            or ("lat" in rel.fields and "lon" in rel.fields)
            or rel.time_type != "VARCHAR" or rel.value_type != "VARCHAR"):
        return None
    constants = {}
    for name in ("station", "variable", "unit"):
        if name in mapping.constants:
            if not isinstance(mapping.constants[name], str):
                return None
            constants[name] = mapping.constants[name]
        elif name not in rel.columns:
            return None
    columns = {f: rel.columns[f] for f in REQUIRED if f in rel.columns and f not in constants}
    if ("time" not in columns or "value" not in columns
            or len(set(columns.values())) != len(columns)):
        return None
    return csv_arrow.Typed(columns, constants)


def _scanned_rows(scanned: csv_arrow.Scanned, keys: Keys) -> dict[str, np.ndarray]:
    """The rows of a streamed CSV as `_fetch_rows` gives them, once the keys are resolved."""
    ki = (scanned.k if scanned.numbered else
          [pc.index_in(pa.array(k), value_set=keys.hashes).to_numpy(zero_copy_only=False)
           for k in scanned.k])
    scanned.k = []
    out = {"ki": np.concatenate(ki).astype(np.int32, copy=False) if ki else np.empty(0, np.int32)}
    del ki
    for name, dtype in (("t", np.int64), ("v", np.float64), ("code", np.uint8)):
        parts = getattr(scanned, name)
        setattr(scanned, name, [])
        out[name] = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)
        del parts
    return out


def ingest_observations(cur, *, dataset_id: int, run_id: int, table: Table, mapping: Mapping,
                        zone: str | None, step=lambda fraction: None) -> Counts:
    rel = build_relation(table, mapping)
    scanned = None
    typed = _typed(rel, mapping)
    if table.csv is not None and typed is not None:
        rest = Relation("eb_rest", [], {**{f: ("CAST(NULL AS VARCHAR)", []) for f in
                                           ("station", "variable", "unit")},
                                        "time": ("tr", []), "value": ("vr", [])},
                        None, "VARCHAR", "VARCHAR")
        scanned = csv_arrow.scan_typed(cur, table, typed, rows_sql(rest, mapping, zone), step)
    elif table.csv is not None and not rel.wide_columns:
        scanned = csv_arrow.scan(cur, table, rel, keys_sql,
                                 lambda r: rows_sql(r, mapping, zone), step)
    if scanned is not None:
        key_rows = scanned.key_rows
    else:
        sql, params = keys_sql(rel)
        try:
            key_rows = cur.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise csv_error(exc, table.name) from None
    if not key_rows:
        raise InvalidInput("file has no data rows", file=table.name)
    if scanned is None:
        step(0.3)
    keys = resolve_keys(cur, dataset_id, key_rows, mapping)
    if scanned is not None:
        cols = _scanned_rows(scanned, keys)
    else:
        sql, params = rows_sql(rel, mapping, zone)
        cols = _fetch_rows(cur, sql, params, keys, table.name, rel.row_number is not None)
    step(0.7)
    n = len(cols["t"])
    pos = np.arange(1, n + 1, dtype=np.int64)
    rn = cols.pop("rn", pos)
    ki, code = cols.pop("ki"), cols.pop("code")
    g = keys.g[ki]
    key_bad = g < 0
    time_bad = (code & (T_MISSING | T_BAD | T_NAIVE)) != 0
    value_bad = (code & V_BAD) != 0
    ok = ~(key_bad | time_bad | value_bad)
    rejected = _reject_table(pos, rn, ki, code, key_bad, time_bad, value_bad, keys)
    del key_bad, time_bad, value_bad
    acc = np.flatnonzero(ok)
    del ok
    all_ok = len(acc) == n
    ka = ki if all_ok else ki[acc]
    v = cols.pop("v")
    v = v if all_ok else v[acc]
    v *= keys.factor[ka]
    v += keys.offset[ka]
    v[(code[acc] & V_MISSING) != 0] = np.nan
    del ka, ki, code
    t = cols.pop("t")
    rows = Rows(g if all_ok else g[acc], t if all_ok else t[acc], v,
                rn if all_ok else rn[acc], pos if all_ok else pos[acc])
    del g, t, v, acc
    merged = merge_and_write(cur, rows, ds_of_g=keys.ds_of_g, configs=keys.configs,
                             run_id=run_id)
    rejects = pa.concat_tables([rejected, _duplicates_table(merged)])
    _write_quarantine(cur, rel, table, run_id, rejects)
    _drop_unused(cur, keys, merged.received)
    counts = merged.counts
    counts.rows_in = n
    counts.rows_rejected = rejects.num_rows
    counts.rows_accepted = n - rejects.num_rows
    counts.datastreams = len(keys.ds_of_g)
    step(1.0)
    return counts


def _duplicates_table(merged) -> pa.Table:
    firsts = merged.duplicate_of.tolist()
    reasons = [reason("duplicate-observation", row=r) for r in firsts]
    return pa.table({"pos": merged.duplicate_pos.astype(np.int64),
                     "rn": merged.duplicate_rn.astype(np.int64),
                     "field": pa.array(["time"] * len(reasons), type=pa.string()),
                     "reason": pa.array([r.text for r in reasons], type=pa.string()),
                     "code": pa.array(["duplicate-observation"] * len(reasons), type=pa.string()),
                     "params": pa.array([f'{{"row": {r}}}' for r in firsts], type=pa.string())})


def _reject_table(pos, rn, ki, code, key_bad, time_bad, value_bad, keys: Keys) -> pa.Table:
    """One row per rejected row: position in the stream, file row, field and reason."""
    kb = np.flatnonzero(key_bad)
    tb = np.flatnonzero(~key_bad & time_bad)
    vb = np.flatnonzero(~key_bad & ~time_bad & value_bad)
    tcode = code[tb]
    time_code = np.where(tcode & T_MISSING, T_MISSING, np.where(tcode & T_NAIVE, T_NAIVE, T_BAD))

    def by_time(part) -> np.ndarray:
        table = np.empty(T_NAIVE + 1, dtype=object)
        for c, r in TIME_REASONS.items():
            table[c] = part(r)
        return table[time_code]

    def by_key(part) -> np.ndarray:
        return np.array([part(r) if r else "" for r in keys.reason], dtype=object)[ki[kb]]

    def column(part, value_part) -> pa.Array:
        return pa.array(np.concatenate((by_key(part), by_time(part),
                                        np.full(len(vb), value_part, object))),
                        type=pa.string())

    field_by_key = np.array([f or "" for f in keys.field], dtype=object)
    return pa.table({
        "pos": np.concatenate((pos[kb], pos[tb], pos[vb])).astype(np.int64),
        "rn": np.concatenate((rn[kb], rn[tb], rn[vb])).astype(np.int64),
        "field": pa.array(np.concatenate((field_by_key[ki[kb]], np.full(len(tb), "time", object),
                                          np.full(len(vb), "value", object))),
                          type=pa.string()),
        "reason": column(lambda r: r.text, VALUE_REASON.text),
        "code": column(lambda r: r.code, VALUE_REASON.code),
        "params": column(lambda r: r.params_json(), VALUE_REASON.params_json()),
    })


def _write_quarantine(cur, rel: Relation, table: Table, run_id: int, rejects: pa.Table) -> None:
    if rejects.num_rows == 0:
        return
    raw_cols = [c for c in table.columns if c not in rel.wide_columns]
    pairs, params = [], []
    for c in raw_cols:
        pairs.append(f"?, CAST({ident(c)} AS VARCHAR)")
        params.append(c)
    if rel.wide_columns:  # a wide table: the cell's column and value
        pairs.append("'column', __col, 'value', __val")
    fields, field_params = [], []
    for name in ("station", "variable", "time", "value", "unit"):
        sql, p = rel.fields[name]
        fields.append(f"CAST({sql} AS VARCHAR) AS f_{name}")
        field_params += p
    sql = f"""
        INSERT INTO quarantine (run_id, row_number, field, value, reason, reason_code,
                                reason_params, raw)
        SELECT ?, r.rn, r.field,
               CASE r.field WHEN 'station' THEN s.f_station WHEN 'variable' THEN s.f_variable
                 WHEN 'time' THEN s.f_time WHEN 'value' THEN s.f_value
                 WHEN 'unit' THEN s.f_unit END,
               r.reason, r.code, CAST(r.params AS JSON), s.raw
        FROM __eb_rejects r JOIN (
            SELECT row_number() OVER () AS __pos, {', '.join(fields)},
                   json_object({', '.join(pairs)}) AS raw
            FROM {rel.sql}) s ON s.__pos = r.pos"""
    cur.register("__eb_rejects", rejects)
    try:
        cur.execute(sql, [run_id, *field_params, *params, *rel.params])
    finally:
        cur.unregister("__eb_rejects")


def _drop_unused(cur, keys: Keys, received: np.ndarray) -> None:
    """Datastreams made for this file that received no row (all its rows were rejected)."""
    empty = [int(ds) for g, ds in enumerate(keys.ds_of_g)
             if int(ds) in keys.created and not received[g]]
    if empty:
        cur.executemany("DELETE FROM datastreams WHERE id = ?", [[ds] for ds in empty])
