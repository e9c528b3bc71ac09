"""Area polygons (protected areas, basins, boundaries, areas of interest) from GeoJSON,
GeoPackage or Shapefile, read with pyogrio and stored in WGS 84.

Each feature needs a code (unique per dataset), a kind and a polygon; a name in several languages
comes from `name`, `name_zh`, `name_ru` columns. Other attributes are kept as properties. An area
file is small, so features are handled one by one.
"""

from __future__ import annotations

import json
from pathlib import Path

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.mapping import Mapping, pick
from ecobridge.monitoring.reasons import reason
from ecobridge.monitoring.report import Counts, Reject

KINDS = ("protected_area", "key_biodiversity_area", "river_basin", "admin_boundary",
         "area_of_interest")
ALIASES = {
    "code": ("code", "id", "wdpa_pid", "wdpaid", "rgiid", "sitrecid"),
    "name": ("name", "name_en", "orig_name"),
    "kind": ("kind",),
    "country": ("country", "iso3", "adm0_a3"),
    "designation": ("designation", "desig_eng", "desig"),
    "approximate": ("approximate", "approximat"),  # dBase cuts names at 10 characters
}
WGS84 = "EPSG:4326"


def read_features(path: Path, mapping: Mapping, name: str) -> tuple[list[dict], list, str | None]:
    """Attribute dicts, WKB geometries and the layer's CRS."""
    import pyogrio

    try:
        meta, table = pyogrio.read_arrow(path, layer=mapping.layer)
    except Exception as exc:
        raise InvalidInput(f"unreadable vector file: {str(exc).splitlines()[0]}",
                           file=name) from None
    geom_col = meta.get("geometry_name") or "wkb_geometry"
    if geom_col not in table.column_names:
        geom_col = next((c for c in table.column_names if c in ("wkb_geometry", "geometry")),
                        None)
    if geom_col is None:
        raise InvalidInput("the layer has no geometry", file=name)
    if table.num_rows == 0:
        raise InvalidInput("file has no features", file=name)
    geoms = table.column(geom_col).to_pylist()
    return table.drop([geom_col]).to_pylist(), geoms, meta.get("crs")


def _pick(row: dict, field: str, mapping: Mapping):
    return pick(row, field, mapping, ALIASES)


def ingest_areas(cur, dataset_id: int, path: Path, mapping: Mapping,
                 name: str) -> tuple[Counts, list[Reject]]:
    import shapely

    rows, geoms, crs = read_features(path, mapping, name)
    counts, rejects = Counts(rows_in=len(rows)), []
    current = {row[0]: row[1:] for row in cur.execute(
        "SELECT code, id, name, kind, country, designation, approximate, properties FROM areas"
        " WHERE dataset_id = ?", [dataset_id]).fetchall()}
    seen: dict[str, int] = {}
    for i, (row, wkb) in enumerate(zip(rows, geoms, strict=True), start=1):
        raw = {k: (v if isinstance(v, str | int | float | bool) or v is None else str(v))
               for k, v in row.items()}
        code = _pick(row, "code", mapping)
        code = str(code).strip() if code is not None else ""
        kind = str(_pick(row, "kind", mapping) or "").strip()
        geom = shapely.from_wkb(wkb) if wkb is not None else None
        problem = None
        if not code:
            problem = ("code", None, reason("missing-area-code"))
        elif code in seen:
            problem = ("code", code, reason("duplicate-row", row=seen[code]))
        elif kind not in KINDS:
            problem = ("kind", kind or None, reason("area-kind", kinds=", ".join(KINDS)))
        elif geom is None or geom.is_empty:
            problem = ("geometry", None, reason("missing-geometry"))
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            problem = ("geometry", geom.geom_type, reason("not-polygon"))
        if problem:
            rejects.append(Reject(i, *problem, raw))
            continue
        seen[code] = i
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        names = {lang: str(v) for lang, v in (
            ("en", _pick(row, "name", mapping)), ("zh", _pick(row, "name_zh", mapping)),
            ("ru", _pick(row, "name_ru", mapping))) if v not in (None, "")} or {"en": code}
        used = {mapping.columns.get(f) for f in ALIASES} | {
            k for k in row if k.lower() in {a for al in ALIASES.values() for a in al}
            or k.lower() in ("name_zh", "name_ru")}
        props = {k: v for k, v in raw.items() if k not in used and v not in (None, "")} or None
        country = _pick(row, "country", mapping)
        designation = _pick(row, "designation", mapping)
        values = [json.dumps(names, ensure_ascii=False), kind,
                  str(country) if country else None, str(designation) if designation else None,
                  _truthy(_pick(row, "approximate", mapping)),
                  json.dumps(props, ensure_ascii=False) if props else None]
        geom_sql, geom_params = _geometry_sql(shapely.to_wkb(geom), crs)
        if code not in current:
            cur.execute("INSERT INTO areas (dataset_id, code, name, kind, country, designation,"
                        " approximate, properties, geom)"
                        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, {geom_sql})",
                        [dataset_id, code, *values, *geom_params])
            counts.rows_inserted += 1
            continue
        aid, *old = current[code]
        same_attrs = [_parsed(v) for v in old] == [_parsed(v) for v in values]
        if same_attrs and cur.execute(f"SELECT ST_Equals(geom, {geom_sql}) FROM areas"
                                      " WHERE id = ?", [*geom_params, aid]).fetchone()[0]:
            counts.rows_unchanged += 1
            continue
        cur.execute("UPDATE areas SET name = ?, kind = ?, country = ?, designation = ?,"
                    f" approximate = ?, properties = ?, geom = {geom_sql} WHERE id = ?",
                    [*values, *geom_params, aid])
        counts.rows_updated += 1
    counts.rows_rejected = len(rejects)
    counts.rows_accepted = counts.rows_in - counts.rows_rejected
    return counts, rejects


def _truthy(value) -> bool:
    """An `approximate` attribute from any format: a boolean, 0/1 or yes/true text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _parsed(value):
    """JSON text compared by meaning, other values as they are."""
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def _geometry_sql(wkb: bytes, crs: str | None) -> tuple[str, list]:
    """WKB in the layer's CRS as a WGS 84 geometry expression (lon, lat axis order)."""
    if crs is None or crs.upper() in (WGS84, "OGC:CRS84"):
        return "ST_GeomFromWKB(?)", [wkb]
    return "ST_Transform(ST_GeomFromWKB(?), ?, ?, always_xy := true)", [wkb, crs, WGS84]
