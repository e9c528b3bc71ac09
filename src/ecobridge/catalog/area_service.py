"""Reading areas (protected areas, basins, boundaries, areas of interest) and what is monitored
inside them, under the access policy.

An area belongs to a dataset, so it is visible exactly when its dataset is. Sites, camera-trap
deployments and occurrences inside an area are found with the *generalised* position of each
record (`location_sql`): a small polygon drawn over a sensitive camera trap must not reveal on
which side of its border the trap really stands, so the spatial test uses what the reader may
see, as the SensorThings compiler does for its filters.
"""

from __future__ import annotations

import json
from typing import Any

from ecobridge.catalog.areas import KINDS
from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    record_read,
    visible_datasets_sql,
)

MAX_CONTENTS = 500


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _area_sql(principal: Principal, where: str, *, geometry: bool) -> tuple[str, list]:
    """Areas of visible datasets with their (policy-filtered) geometry and its bounding box."""
    geom, geom_params = location_sql(principal, "a.geom", "ad")
    pred, pred_params = visible_datasets_sql(principal, "ad")
    shape = f", ST_AsGeoJSON({geom}) AS geometry" if geometry else ""
    sql = (
        "SELECT a.id, a.code, a.kind, a.name, a.country, a.designation, a.approximate,"
        " a.properties, ad.id AS dataset_id, ad.slug AS dataset, ad.title AS dataset_title,"
        f" ST_XMin({geom}) AS min_lon, ST_YMin({geom}) AS min_lat, ST_XMax({geom}) AS max_lon,"
        f" ST_YMax({geom}) AS max_lat{shape}"
        f" FROM areas a JOIN datasets ad ON ad.id = a.dataset_id WHERE {pred} AND {where}"
    )
    params = geom_params * (5 if geometry else 4) + pred_params
    return sql, params


def _area(row: dict) -> dict:
    out = {k: row[k] for k in ("id", "code", "kind", "country", "designation", "dataset_id",
                                "dataset")}
    out["name_i18n"] = _json(row["name"])
    out["dataset_title_i18n"] = _json(row["dataset_title"])
    out["approximate"] = bool(row["approximate"])
    out["properties"] = _json(row["properties"])
    out["bbox"] = [row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]]
    if "geometry" in row:
        out["geometry"] = _json(row["geometry"])
    return out


def list_areas(store, principal: Principal, *, kind: str | None = None,
               country: str | None = None, q: str | None = None,
               dataset_id: int | None = None, after: int | None = None, limit: int = 100,
               geometry: bool = False) -> tuple[list[dict], int | None]:
    """Visible areas by id, and the id to continue after (None on the last page)."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    where, params = ["true"], []
    if kind:
        where.append("a.kind = ?")
        params.append(kind)
    if country:
        where.append("a.country = ?")
        params.append(country.upper())
    if q:
        where.append("(a.code ILIKE ? ESCAPE '\\' OR CAST(a.name AS VARCHAR) ILIKE ? ESCAPE '\\')")
        params += [like_pattern(q)] * 2
    if dataset_id is not None:
        where.append("ad.id = ?")
        params.append(dataset_id)
    if after is not None:
        where.append("a.id > ?")
        params.append(after)
    sql, base = _area_sql(principal, " AND ".join(where), geometry=geometry)
    rows = store.dicts(f"{sql} ORDER BY a.id LIMIT ?", [*base, *params, limit + 1])
    more = len(rows) > limit
    items = [_area(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if more and items else None)


def area_kinds(store, principal: Principal) -> list[tuple[str, int]]:
    """Kinds of the visible areas with how many of each, in the order of KINDS."""
    pred, params = visible_datasets_sql(principal, "ad")
    counts = dict(store.rows(
        "SELECT a.kind, count(*) FROM areas a JOIN datasets ad ON ad.id = a.dataset_id"
        f" WHERE {pred} GROUP BY a.kind", params))
    return [(k, counts[k]) for k in KINDS if k in counts]


def get_area(store, principal: Principal, area_id: int) -> dict:
    """One visible area with its GeoJSON geometry; a hidden one is missing, not forbidden."""
    sql, params = _area_sql(principal, "a.id = ?", geometry=True)
    rows = store.dicts(sql, [*params, area_id])
    if not rows:
        raise NotFound(f"no area {area_id}")
    return _area(rows[0])


def like_pattern(text: str) -> str:
    """`text` as an ILIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- what lies inside ------------------------------------------------------------------------
def _area_geom_sql(principal: Principal, area_id: int) -> tuple[str, list]:
    """A one-row subquery: the area's geometry as the principal may see it."""
    geom, geom_params = location_sql(principal, "a.geom", "ad")
    pred, pred_params = visible_datasets_sql(principal, "ad")
    return (f"(SELECT {geom} AS geom FROM areas a JOIN datasets ad ON ad.id = a.dataset_id"
            f" WHERE a.id = ? AND {pred})", [*geom_params, area_id, *pred_params])


def _inside(principal: Principal, area_id: int, select: str, tables: str, geom: str,
            where: str = "true") -> tuple[str, list]:
    """Rows of `tables` (which join `datasets d`) whose generalised `geom` lies in the area."""
    area_sql, area_params = _area_geom_sql(principal, area_id)
    loc, loc_params = location_sql(principal, geom, "d")
    full, full_params = full_access_sql(principal, "d")
    pred, pred_params = visible_datasets_sql(principal, "d")
    sql = (f"WITH area AS {area_sql}, rows AS (SELECT {select}, d.id AS dataset_id,"
           f" d.slug AS dataset, {loc} AS geom, (d.sensitive AND NOT {full}) AS generalised"
           f" FROM {tables} WHERE {pred} AND {where})"
           " SELECT rows.* EXCLUDE (geom), ST_AsGeoJSON(rows.geom) AS location"
           " FROM rows, area WHERE ST_Intersects(area.geom, rows.geom)")
    return sql, [*area_params, *loc_params, *full_params, *pred_params]


_LATEST_LOCATION = (" LEFT JOIN (SELECT thing_id, max(location_id) AS location_id"
                    " FROM thing_locations GROUP BY thing_id) tl ON tl.thing_id = t.id"
                    " LEFT JOIN locations l ON l.id = tl.location_id")


def _sites(store, principal: Principal, area_id: int, limit: int) -> list[dict]:
    sql, params = _inside(principal, area_id, "t.id, t.code, t.name",
                          "things t JOIN datasets d ON d.id = t.dataset_id" + _LATEST_LOCATION,
                          "l.geom", "l.geom IS NOT NULL")
    rows = store.dicts(f"{sql} ORDER BY id LIMIT ?", [*params, limit])
    return [{**r, "generalised": bool(r["generalised"]), "location": _json(r["location"])}
            for r in rows]


def _deployments(store, principal: Principal, area_id: int, limit: int) -> list[dict]:
    sql, params = _inside(
        principal, area_id,
        "c.id, c.deployment_id, c.location_name, c.deployment_start, c.deployment_end",
        "camtrap_deployments c JOIN datasets d ON d.id = c.dataset_id", "c.geom")
    rows = store.dicts(f"{sql} ORDER BY id LIMIT ?", [*params, limit])
    return [{**r, "generalised": bool(r["generalised"]), "location": _json(r["location"])}
            for r in rows]


def _species(store, principal: Principal, area_id: int, limit: int) -> tuple[list[dict], int]:
    """Occurrences inside, summed up per species (the page's and the API's unit of interest)."""
    sql, params = _inside(
        principal, area_id,
        "o.id, o.scientific_name, o.event_date, coalesce(o.individual_count, 1) AS individuals",
        "occurrences o JOIN datasets d ON d.id = o.dataset_id", "o.geom",
        "o.geom IS NOT NULL AND o.occurrence_status = 'present'")
    rows = store.dicts(
        f"SELECT i.scientific_name, count(*) AS occurrences, sum(i.individuals) AS individuals,"
        f" min(i.event_date) AS first_date, max(i.event_date) AS last_date,"
        f" list(DISTINCT i.dataset ORDER BY i.dataset) AS datasets,"
        f" list(DISTINCT i.dataset_id) AS dataset_ids, any_value(x.vernacular_names) AS names,"
        f" any_value(x.iucn_category) AS iucn_category"
        f" FROM ({sql}) i LEFT JOIN taxa x ON x.scientific_name = i.scientific_name"
        f" GROUP BY i.scientific_name ORDER BY occurrences DESC, i.scientific_name LIMIT ?",
        [*params, limit])
    total = sum(r["occurrences"] for r in rows)
    return [{**r, "individuals": int(r["individuals"] or 0), "names": _json(r["names"])}
            for r in rows], total


def _latest(store, principal: Principal, site_ids: list[int], limit: int) -> list[dict]:
    """The latest value of each datastream at the given (already visible) sites, kept on the
    datastream by ingest: no scan of observations."""
    if not site_ids:
        return []
    pred, params = visible_datasets_sql(principal, "d")
    marks = ", ".join("?" for _ in site_ids)
    return store.dicts(
        "SELECT s.id, s.thing_id, t.name AS thing_name, d.id AS dataset_id, d.slug AS dataset,"
        " p.code AS property_code, p.name AS property_name, s.unit_symbol, s.unit_code,"
        " s.last_result, s.last_phenomenon_time, s.last_quality_flag, s.observation_count"
        " FROM datastreams s JOIN things t ON t.id = s.thing_id"
        " JOIN datasets d ON d.id = t.dataset_id"
        " JOIN observed_properties p ON p.id = s.observed_property_id"
        f" WHERE t.id IN ({marks}) AND {pred} AND s.last_phenomenon_time IS NOT NULL"
        " ORDER BY p.code, t.name, s.id LIMIT ?", [*site_ids, *params, limit])


def _datasets(store, principal: Principal, ids: set[int]) -> list[dict]:
    if not ids:
        return []
    pred, params = visible_datasets_sql(principal, "d")
    marks = ", ".join("?" for _ in ids)
    rows = store.dicts(
        "SELECT d.id, d.slug, d.title, d.domain, d.sensitive, o.slug AS owner,"
        " o.country AS owner_country FROM datasets d JOIN organisations o"
        f" ON o.id = d.owner_org_id WHERE d.id IN ({marks}) AND {pred} ORDER BY d.slug",
        [*sorted(ids), *params])
    return [{**r, "title_i18n": _json(r.pop("title"))} for r in rows]


def area_contents(store, principal: Principal, area_id: int,
                  limit: int = MAX_CONTENTS) -> dict:
    """The visible sites, camera-trap deployments and species records inside an area, the
    datasets they come from and the latest value of each variable measured there.

    Each list holds at most `limit` entries; `truncated` says which were cut."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    area = get_area(store, principal, area_id)
    sites = _sites(store, principal, area_id, limit + 1)
    deployments = _deployments(store, principal, area_id, limit + 1)
    species, occurrence_count = _species(store, principal, area_id, limit + 1)
    truncated = [name for name, rows in (("sites", sites), ("deployments", deployments),
                                         ("species", species)) if len(rows) > limit]
    sites, deployments, species = sites[:limit], deployments[:limit], species[:limit]
    latest = _latest(store, principal, [s["id"] for s in sites], limit)
    species_ids = {i for sp in species for i in sp.pop("dataset_ids")}
    for kind, ids, count in (("things", [s["dataset_id"] for s in sites], len(sites)),
                             ("deployments", [d["dataset_id"] for d in deployments],
                              len(deployments)),
                             ("occurrences", sorted(species_ids), occurrence_count)):
        if ids:
            record_read(store, principal, dataset_ids=ids, kind=kind, count=count)
    ids = ({s["dataset_id"] for s in sites} | {d["dataset_id"] for d in deployments}
           | species_ids)
    return {"area": area, "sites": sites, "deployments": deployments, "species": species,
            "occurrence_count": occurrence_count, "latest": latest,
            "datasets": _datasets(store, principal, ids), "truncated": truncated}
