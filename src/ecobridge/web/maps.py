"""What the web maps draw (static/js/map.js): a base map, sites and areas.

- /api/v1/map/basemap: Natural Earth 1:110m countries as GeoJSON, simplified once and kept in
  memory with an ETag, so a client fetches it once (the web maps draw the tiles below). It comes
  from the package's copy of the public-domain file, not from the store, so every deployment has
  a base map, even an empty one. Borders are de facto.
- /api/v1/map/basemap/{z}/{x}/{y}.png: the same countries drawn into 256-pixel Web Mercator PNG
  tiles (land, sea, borders), each drawn once per process and kept in an LRU cache; with
  ?scale=2 the same area in 512 pixels, which the maps use (a 512-pixel tile source: a map of
  the home page's size needs 6 of them, not 15 of 256, so fewer requests, textures and draws).
  The maps use tiles because a browser without a GPU draws a few textures much sooner than it
  triangulates and draws 10k points of country outlines (web/static/js/map.js).
- /api/v1/map/sites: every site the reader may see (monitoring stations and camera-trap
  deployments) as GeoJSON points in ONE query, so a page with thousands of sites makes one
  request. Sensitive datasets come out through governance.location_sql (grid cell centres).
- /api/v1/map/areas: areas of visible datasets (protected areas, basins, areas of interest).

The reads here are small, fixed queries over the access predicate; they live next to the routes
because only the maps need these shapes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
from functools import cache, lru_cache
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ecobridge.alerts.models import SEVERITIES
from ecobridge.alerts.views import SEV_LIST
from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.params import SLUG_OR_ID, dataset_ref
from ecobridge.catalog.service import get_dataset
from ecobridge.demo.areas import NATURAL_EARTH, NATURAL_EARTH_ATTRIBUTION
from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    record_read,
    visible_datasets_sql,
)
from ecobridge.languages import localise
from ecobridge.web.i18n import page_language

router = APIRouter(prefix="/api/v1/map", tags=["map"])

GEOJSON = "application/geo+json"
BASEMAP_DIGITS = 2     # ~1 km: finer than the 1:110m source itself
SITE_DIGITS = 5        # ~1 m
AREA_KINDS = ("protected_area", "key_biodiversity_area", "river_basin", "admin_boundary",
              "area_of_interest")
_GEOJSON_200 = {200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection"}}


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# -- base map ----------------------------------------------------------------------------------
def _round_ring(ring: list) -> list:
    """Coordinates rounded, repeated points dropped; a ring keeps at least 4 positions."""
    out: list = []
    for x, y, *_ in ring:
        point = [round(x, BASEMAP_DIGITS), round(y, BASEMAP_DIGITS)]
        if not out or point != out[-1]:
            out.append(point)
    if len(out) < 4:
        out = [[round(x, BASEMAP_DIGITS), round(y, BASEMAP_DIGITS)] for x, y, *_ in ring]
    return out


def _simplify(geometry: dict) -> dict:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_round_ring(r) for r in geometry["coordinates"]]}
    return {"type": "MultiPolygon",
            "coordinates": [[_round_ring(r) for r in poly] for poly in geometry["coordinates"]]}


@cache
def basemap() -> tuple[bytes, bytes, str]:
    """(GeoJSON, its gzip, ETag): built once per process from the packaged Natural Earth file."""
    source = json.loads(NATURAL_EARTH.read_text(encoding="utf-8"))
    features = []
    for f in source["features"]:
        iso = f["properties"].get("iso_a3")
        features.append({"type": "Feature", "geometry": _simplify(f["geometry"]),
                         "properties": {"name": f["properties"]["name"],
                                        "code": iso if iso and iso != "-99" else None}})
    body = _dumps({"type": "FeatureCollection", "features": features,
                   "attribution": NATURAL_EARTH_ATTRIBUTION, "borders": "de facto"})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, gzip.compress(body, 6, mtime=0), etag


@router.get("/basemap", response_class=Response, responses=_GEOJSON_200)
def get_basemap(request: Request) -> Response:
    """Country outlines for the base map: Natural Earth 1:110m admin-0 countries (public
    domain), coordinates rounded to 0.01 degree. Borders are shown de facto. Cached by the
    browser for a day and revalidated by ETag."""
    body, packed, etag = basemap()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400",
               "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type=GEOJSON, headers={**headers,
                                                             "Content-Encoding": "gzip"})
    return Response(body, media_type=GEOJSON, headers=headers)


# -- base map tiles ----------------------------------------------------------------------------
TILE = 256
TILE_MAX_ZOOM = 10       # far past what 1:110m outlines hold; the maps overzoom beyond 7
TILE_SCALE = 2           # drawn at twice the size and reduced: smooth edges without antialiasing
# the colours of style.css (--eb-map-land, --eb-map-sea, --eb-map-border): the site colours
# were chosen for AA contrast against these
TILE_LAND, TILE_SEA, TILE_BORDER = (0xF3, 0xF1, 0xEA), (0xD7, 0xE6, 0xEE), (0x9A, 0x98, 0x89)
MERCATOR_LAT = 85.0511287798
PNG = "image/png"


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator position of a point in units of the world's width (0..1, y down)."""
    lat = max(-MERCATOR_LAT, min(MERCATOR_LAT, lat))
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360, 0.5 - y / (2 * math.pi)


@cache
def _rings() -> list[tuple[tuple[float, float, float, float], list, bool]]:
    """Every ring of every country in world units with its box; holes flagged. A hole of a
    1:110m country is another country (Lesotho in South Africa), so holes are outlined, not cut:
    the country inside fills them with land anyway."""
    source = json.loads(NATURAL_EARTH.read_text(encoding="utf-8"))
    out = []
    for f in source["features"]:
        g = f["geometry"]
        for poly in [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]:
            for i, ring in enumerate(poly):
                pts = [_mercator(x, y) for x, y, *_ in ring]
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                out.append(((min(xs), min(ys), max(xs), max(ys)), pts, i > 0))
    return out


@lru_cache(maxsize=4096)
def basemap_tile(z: int, x: int, y: int, scale: int = 1) -> tuple[bytes, str]:
    """(one PNG tile of the base map, 256 * scale pixels wide, its ETag); NotFound outside the
    pyramid. Borders stay one pixel wide whatever the scale."""
    n = 1 << z if 0 <= z <= TILE_MAX_ZOOM else 0
    if not (0 <= x < n and 0 <= y < n):
        raise NotFound(f"no base map tile {z}/{x}/{y}")
    from PIL import Image, ImageDraw  # only the tile routes need Pillow

    size = TILE * scale * TILE_SCALE
    image = Image.new("RGB", (size, size), TILE_SEA)
    draw = ImageDraw.Draw(image)
    margin = 2 / (n * TILE * scale)  # a border line's width, in world units
    west, north, east, south = x / n - margin, y / n - margin, (x + 1) / n + margin, \
        (y + 1) / n + margin
    shown = [(pts, hole) for (w, s, e, nn), pts, hole in _rings()
             if w <= east and e >= west and s <= south and nn >= north]
    flat = [([((px * n - x) * size, (py * n - y) * size) for px, py in pts], hole)
            for pts, hole in shown]
    for pts, hole in flat:
        if not hole:
            draw.polygon(pts, fill=TILE_LAND)
    for pts, _hole in flat:
        draw.line(pts, fill=TILE_BORDER, width=TILE_SCALE, joint="curve")
    out = io.BytesIO()
    image.reduce(TILE_SCALE).save(out, "PNG", compress_level=6)
    body = out.getvalue()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


TileScale = Annotated[int, Query(ge=1, le=2, description="2: the tile's area in 512 pixels")]


@router.get("/basemap/{z}/{x}/{y}.png", response_class=Response,
            responses={200: {"content": {PNG: {}}, "description": "PNG tile, 256x256 (512x512"
                                                                  " with scale=2)"}})
def get_basemap_tile(request: Request, z: int, x: int, y: int, scale: TileScale = 1) -> Response:
    """A Web Mercator (XYZ) tile of the base map: Natural Earth 1:110m countries (public
    domain) as land, sea and de facto borders, z 0-10, 256 pixels (512 with scale=2, for a
    512-pixel tile source). Cached by the browser for a day and revalidated by ETag."""
    body, etag = basemap_tile(z, x, y, scale)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=PNG, headers=headers)


# -- sites -------------------------------------------------------------------------------------
def _sites_sql(principal: Principal, where: str) -> tuple[str, list]:
    """Stations and camera-trap deployments of visible datasets, positions through location_sql.

    A site's country is the one its record declares (a station's properties.country, a
    deployment's country), else the visible admin boundary holding its shown position, else the
    owner's country."""
    parts, params = [], []
    for kind, table, name, geom, declared in (
            ("station", "things s", "s.name", "l.geom", "s.properties->>'country'"),
            ("deployment", "camtrap_deployments s", "coalesce(s.location_name, s.deployment_id)",
             "s.geom", "s.country")):
        loc, loc_params = location_sql(principal, geom, "d")
        full, full_params = full_access_sql(principal, "d")
        pred, pred_params = visible_datasets_sql(principal, "d")
        # the worst open alert of a station: visible with the station, as alerts are with
        # their dataset (alerts.views)
        located = ("LEFT JOIN (SELECT thing_id, max(location_id) AS location_id"
                   " FROM thing_locations GROUP BY thing_id) tl ON tl.thing_id = s.id"
                   " LEFT JOIN locations l ON l.id = tl.location_id"
                   f" LEFT JOIN (SELECT thing_id, max(list_position({SEV_LIST}, severity))"
                   "  AS rank FROM alerts WHERE status = 'open' GROUP BY thing_id) al"
                   " ON al.thing_id = s.id") if kind == "station" else ""
        alert = "al.rank" if kind == "station" else "NULL::INTEGER"
        parts.append(
            f"SELECT '{kind}' AS kind, s.id, {name} AS name, d.id AS dataset_id, {alert} AS alert,"
            f" d.slug AS dataset, d.domain, {loc} AS geom, (d.sensitive AND NOT {full}) AS gen,"
            f" CASE WHEN regexp_full_match(upper({declared}), '[A-Z]{{3}}')"
            f"  THEN upper({declared}) END AS declared, o.country AS owner_country"
            f" FROM {table} JOIN datasets d ON d.id = s.dataset_id"
            f" JOIN organisations o ON o.id = d.owner_org_id {located}"
            f" WHERE {pred} AND {geom} IS NOT NULL")
        params += loc_params + full_params + pred_params
    boundary, boundary_params = visible_datasets_sql(principal, "bd")
    sql = (
        f"WITH site AS ({' UNION ALL '.join(parts)}),"
        " pos AS (SELECT *, ST_Centroid(geom) AS point FROM site),"
        " inside AS (SELECT p.kind, p.id, min(b.country) AS country FROM pos p"
        "  JOIN areas b ON b.kind = 'admin_boundary' AND b.country IS NOT NULL"
        "  AND p.declared IS NULL AND ST_Intersects(b.geom, p.point)"
        f"  JOIN datasets bd ON bd.id = b.dataset_id AND {boundary} GROUP BY p.kind, p.id)"
        f" SELECT p.kind, p.id, p.name, p.dataset_id, p.dataset, p.domain, p.gen, p.alert,"
        f" coalesce(p.declared, i.country, p.owner_country) AS country,"
        f" round(ST_X(p.point), {SITE_DIGITS}) AS x, round(ST_Y(p.point), {SITE_DIGITS}) AS y"
        " FROM pos p LEFT JOIN inside i ON i.kind = p.kind AND i.id = p.id"
        f" WHERE {where} ORDER BY p.kind DESC, p.id")
    return sql, params + boundary_params


def list_sites(store, principal: Principal, *, dataset: str | int | None = None,
               domain: str | None = None) -> list[dict]:
    """Every visible site, generalised where the reader lacks full access; audited like the
    station lists (one row per dataset of another organisation)."""
    where, params = ["true"], []
    if dataset is not None:
        where.append("p.dataset_id = ?")
        params.append(get_dataset(store, principal, dataset)["id"])
    if domain is not None:
        where.append("p.domain = ?")
        params.append(domain)
    sql, base = _sites_sql(principal, " AND ".join(where))
    rows = store.dicts(sql, [*base, *params])
    record_read(store, principal, dataset_ids=[r["dataset_id"] for r in rows], kind="sites",
                count=len(rows))
    return rows


def sites_extent(store, principal: Principal) -> list[float] | None:
    """[west, south, east, north] of the visible sites as the map shows them (through
    location_sql), or None without any: a page that knows it builds its map at once, while the
    sites are still on their way. No audit row: it tells nothing a reader may not see, and the
    sites themselves are audited when fetched."""
    parts, params = [], []
    for table, geom, located in (
            ("things s", "l.geom", "JOIN thing_locations tl ON tl.thing_id = s.id"
                                   " JOIN locations l ON l.id = tl.location_id"),
            ("camtrap_deployments s", "s.geom", "")):
        loc, loc_params = location_sql(principal, geom, "d")
        pred, pred_params = visible_datasets_sql(principal, "d")
        parts.append(f"SELECT ST_Centroid({loc}) AS p FROM {table} {located}"
                     f" JOIN datasets d ON d.id = s.dataset_id WHERE {pred} AND {geom} IS NOT NULL")
        params += loc_params + pred_params
    box = store.one(f"SELECT min(ST_X(p)), min(ST_Y(p)), max(ST_X(p)), max(ST_Y(p))"
                    f" FROM ({' UNION ALL '.join(parts)})", params)
    return None if box is None or box[0] is None else [round(v, SITE_DIGITS) for v in box]


def _dataset_titles(store, principal: Principal, ids: list[int], lang: str) -> dict:
    if not ids:
        return {}
    pred, params = visible_datasets_sql(principal, "d")
    marks = ", ".join("?" for _ in ids)
    rows = store.rows(f"SELECT d.slug, d.title, d.domain, d.sensitive FROM datasets d"
                      f" WHERE d.id IN ({marks}) AND {pred}", [*ids, *params])
    return {slug: {"title": localise(title, lang), "domain": domain, "sensitive": sensitive}
            for slug, title, domain, sensitive in rows}


def sites_geojson(store, principal: Principal, lang: str, **filters) -> dict:
    rows = list_sites(store, principal, **filters)
    features = []
    for r in rows:
        props = {"id": r["id"], "kind": r["kind"], "name": r["name"], "dataset": r["dataset"],
                 "domain": r["domain"], "country": r["country"]}
        if r["gen"]:
            props["generalised"] = True
        if r["alert"]:
            props["alert"] = SEVERITIES[r["alert"] - 1]
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [r["x"], r["y"]]}})
    ids = sorted({r["dataset_id"] for r in rows})
    return {"type": "FeatureCollection", "features": features,
            "datasets": _dataset_titles(store, principal, ids, lang)}


Domain = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,40}$",
                                     description="Only sites of datasets of this domain")]
DatasetRef = Annotated[str | None, Query(pattern=SLUG_OR_ID,
                                         description="Only this dataset (id or slug)")]
Lang = Annotated[str | None, Query(pattern="^(en|zh|ru)$",
                                   description="Language of dataset titles")]


@router.get("/sites", response_class=Response, responses=_GEOJSON_200)
def get_sites(request: Request, store: StoreDep, principal: PrincipalDep,
              dataset: DatasetRef = None, domain: Domain = None,
              lang: Lang = None) -> Response:
    """Every site the reader may see (stations and camera-trap deployments) as GeoJSON points
    with id, kind, name, dataset, domain, country and `alert` (the severity of the station's
    worst open alert, if any); `datasets` maps each dataset slug to its
    title. Positions of sensitive datasets are grid-cell centres unless the reader has precise
    access (then `generalised` is absent)."""
    body = sites_geojson(store, principal, lang or page_language(request),
                         dataset=None if dataset is None else dataset_ref(dataset),
                         domain=domain)
    return Response(_dumps(body), media_type=GEOJSON,
                    headers={"Cache-Control": "private, no-cache", "Vary": "Cookie"})


# -- areas -------------------------------------------------------------------------------------
def list_areas(store, principal: Principal, *, dataset: str | int | None = None,
               kind: str | None = None, area: int | None = None,
               lang: str = "en") -> dict:
    """Areas of visible datasets as a FeatureCollection (admin boundaries only when asked for
    by kind or id: the base map draws countries). Outlines are simplified to about 100 m."""
    loc, loc_params = location_sql(principal, "a.geom", "d")
    pred, pred_params = visible_datasets_sql(principal, "d")
    where, params = [pred], list(pred_params)
    if dataset is not None:
        where.append("d.id = ?")
        params.append(get_dataset(store, principal, dataset)["id"])
    if kind is not None:
        if kind not in AREA_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(AREA_KINDS)}", field="kind")
        where.append("a.kind = ?")
        params.append(kind)
    if area is not None:
        where.append("a.id = ?")
        params.append(area)
    if kind is None and area is None:
        where.append("a.kind <> 'admin_boundary'")
    rows = store.dicts(
        f"SELECT a.id, a.code, a.kind, a.name, a.country, a.approximate, d.id AS dataset_id,"
        f" d.slug AS dataset, ST_AsGeoJSON(ST_SimplifyPreserveTopology({loc}, 0.001)) AS geom"
        f" FROM areas a JOIN datasets d ON d.id = a.dataset_id WHERE {' AND '.join(where)}"
        " ORDER BY a.id", [*loc_params, *params])
    record_read(store, principal, dataset_ids=[r["dataset_id"] for r in rows], kind="areas",
                count=len(rows))
    features = [{"type": "Feature", "geometry": json.loads(r["geom"]),
                 "properties": {"id": r["id"], "code": r["code"], "kind": r["kind"],
                                "name": localise(r["name"], lang), "country": r["country"],
                                "approximate": r["approximate"], "dataset": r["dataset"]}}
                for r in rows]
    return {"type": "FeatureCollection", "features": features}


AreaKind = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$",
                                       description="Only areas of this kind")]
AreaId = Annotated[int | None, Query(ge=1, le=2**62, description="Only this area")]


@router.get("/areas", response_class=Response, responses=_GEOJSON_200)
def get_areas(request: Request, store: StoreDep, principal: PrincipalDep,
              dataset: DatasetRef = None, kind: AreaKind = None, area: AreaId = None,
              lang: Lang = None) -> Response:
    """Areas of the datasets the reader may see (protected areas, key biodiversity areas,
    river basins, areas of interest) as simplified GeoJSON polygons; country boundaries only
    with kind=admin_boundary or an area id."""
    body = list_areas(store, principal, dataset=None if dataset is None else dataset_ref(dataset),
                      kind=kind, area=area, lang=lang or page_language(request))
    return Response(_dumps(body), media_type=GEOJSON,
                    headers={"Cache-Control": "private, no-cache", "Vary": "Cookie"})
