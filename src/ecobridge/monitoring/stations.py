"""Stations: Things with their Location, from CSV, Parquet or GeoJSON.

`things.code` is the station identifier that observation files use (unique per dataset). A moved
station gets a new Location, and a HistoricalLocation records when it took effect. Station files
are small (thousands of rows), so this path works row by row; observations never do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.mapping import Mapping, pick
from ecobridge.monitoring.reasons import reason
from ecobridge.monitoring.report import Counts, Reject
from ecobridge.monitoring.sources import csv_error, file_format, ident, open_table

ALIASES = {
    "code": ("code", "station", "station_id", "id"),
    "name": ("name", "station_name"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "longitude", "x"),
    "description": ("description",),
}


def create_station(cur, dataset_id: int, code: str, name: str, lon: float, lat: float,
                   description: str = "", properties: dict | None = None) -> int:
    thing_id = cur.execute(
        "INSERT INTO things (dataset_id, code, name, description, properties)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        [dataset_id, code, name, description,
         json.dumps(properties, ensure_ascii=False) if properties else None]).fetchone()[0]
    _locate(cur, thing_id, name, lon, lat)
    return thing_id


def _locate(cur, thing_id: int, name: str, lon: float, lat: float) -> None:
    """Give the thing a new current Location and record it as a HistoricalLocation."""
    loc = cur.execute(
        "INSERT INTO locations (name, geom) VALUES (?, ST_Point(?, ?)) RETURNING id",
        [name, lon, lat]).fetchone()[0]
    cur.execute("DELETE FROM thing_locations WHERE thing_id = ?", [thing_id])
    cur.execute("INSERT INTO thing_locations (thing_id, location_id) VALUES (?, ?)",
                [thing_id, loc])
    hist = cur.execute("INSERT INTO historical_locations (thing_id, time) VALUES (?, now())"
                       " RETURNING id", [thing_id]).fetchone()[0]
    cur.execute("INSERT INTO historical_location_locations VALUES (?, ?)", [hist, loc])


def read_rows(cur, path: Path, mapping: Mapping, name: str, scratch: Path) -> list[dict]:
    """Station records as dicts with their 1-based row number under '__row'."""
    fmt = file_format(path)
    if fmt in ("geojson", "json", "gpkg", "shp"):
        return _geo_rows(path, mapping, name)
    table = open_table(cur, path, mapping, name, scratch)
    rn = table.row_number or "row_number() OVER ()"
    sql = (f"SELECT {rn} AS __row, {', '.join(ident(c) for c in table.columns)}"
           f" FROM {table.relation}")
    try:
        result = cur.execute(sql, table.params)
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    except Exception as exc:
        raise csv_error(exc, name) from None
    if not rows:
        raise InvalidInput("file has no data rows", file=name)
    return rows


def _geo_rows(path: Path, mapping: Mapping, name: str) -> list[dict]:
    import pyogrio
    import shapely

    try:
        _meta, table = pyogrio.read_arrow(path, layer=mapping.layer)
    except Exception as exc:
        raise InvalidInput(f"unreadable vector file: {exc}", file=name) from None
    geom_col = next(c for c in table.column_names if c in ("wkb_geometry", "geometry"))
    geoms = shapely.from_wkb(table.column(geom_col).to_numpy(zero_copy_only=False))
    points = shapely.get_type_id(geoms) == 0
    xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
    rows = table.drop([geom_col]).to_pylist()
    if not rows:
        raise InvalidInput("file has no features", file=name)
    for i, row in enumerate(rows):
        row["__row"] = i + 1
        if points[i]:
            row.setdefault("lon", float(xs[i]))
            row.setdefault("lat", float(ys[i]))
    return rows


def _pick(row: dict, field: str, mapping: Mapping):
    return pick(row, field, mapping, ALIASES)


def _used_columns(row: dict, mapping: Mapping) -> set[str]:
    used = {"__row", *mapping.columns.values()}
    lowered = {k.lower(): k for k in row}
    for aliases in ALIASES.values():
        used |= {lowered[a] for a in aliases if a in lowered}
    return used


def ingest_stations(cur, dataset_id: int, rows: list[dict], mapping: Mapping,
                    name: str) -> tuple[Counts, list[Reject]]:
    columns = {k.lower() for k in rows[0]} if rows else set()
    if not ({"code"} & (set(mapping.columns) | set(mapping.constants))
            or columns & set(ALIASES["code"])):
        raise InvalidInput("missing column 'code' (or station, id)", file=name, field="code")
    counts, rejects = Counts(rows_in=len(rows)), []
    current = {row[0]: row[1:] for row in cur.execute(
        "SELECT t.code, t.id, t.name, t.description, t.properties, ST_X(l.geom), ST_Y(l.geom)"
        " FROM things t LEFT JOIN thing_locations tl ON tl.thing_id = t.id"
        " LEFT JOIN locations l ON l.id = tl.location_id WHERE t.dataset_id = ?",
        [dataset_id]).fetchall()}
    seen: dict[str, int] = {}
    for row in rows:
        rn = row["__row"]
        raw = {k: v for k, v in row.items() if k != "__row"}
        problem = _check(row, mapping, seen)
        if problem:
            rejects.append(Reject(rn, problem[0], problem[1], problem[2], raw))
            continue
        code = str(_pick(row, "code", mapping)).strip()
        seen[code] = rn
        lon, lat = (float(str(_pick(row, f, mapping)).replace(",", ".")) for f in ("lon", "lat"))
        label = str(_pick(row, "name", mapping) or code).strip()
        desc = str(_pick(row, "description", mapping) or "")
        used = _used_columns(row, mapping)
        props = {k: v for k, v in raw.items() if k not in used and v not in (None, "")} or None
        props_json = json.dumps(props, ensure_ascii=False, default=str) if props else None
        if code not in current:
            create_station(cur, dataset_id, code, label, lon, lat, desc, props)
            counts.rows_inserted += 1
            continue
        tid, old_name, old_desc, old_props, x, y = current[code]
        changed = False
        if (label, desc) != (old_name, old_desc) or _json_differs(props_json, old_props):
            cur.execute("UPDATE things SET name = ?, description = ?, properties = ? WHERE id = ?",
                        [label, desc, props_json, tid])
            changed = True
        if x is None or abs(x - lon) > 1e-9 or abs(y - lat) > 1e-9:
            _locate(cur, tid, label, lon, lat)
            changed = True
        if changed:
            counts.rows_updated += 1
        else:
            counts.rows_unchanged += 1
    counts.rows_rejected = len(rejects)
    counts.rows_accepted = counts.rows_in - counts.rows_rejected
    return counts, rejects


def _json_differs(new: str | None, old: str | None) -> bool:
    return (json.loads(new) if new else None) != (json.loads(old) if old else None)


def _check(row: dict, mapping: Mapping, seen: dict[str, int]):
    """(field, value, reason) of the first problem of a station row, or None."""
    code = _pick(row, "code", mapping)
    if code is None or not str(code).strip():
        return "code", None, reason("missing-station-code")
    code = str(code).strip()
    if code in seen:
        return "code", code, reason("duplicate-row", row=seen[code])
    for field, limit in (("lat", 90), ("lon", 180)):
        value = _pick(row, field, mapping)
        if value is None or str(value).strip() == "":
            return field, None, reason("missing-coordinate", field=field)
        try:
            number = float(str(value).replace(",", "."))
        except ValueError:
            return field, str(value), reason("coordinate-not-number", field=field)
        if not math.isfinite(number) or abs(number) > limit:
            return field, str(value), reason("coordinate-out-of-range", field=field, limit=limit)
    return None
