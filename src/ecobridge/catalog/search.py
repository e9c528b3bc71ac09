"""Catalogue search and the summary of one dataset, for the catalogue pages.

Search is a parameterised ILIKE over slug, keywords, owner and the titles and descriptions in
every language (the JSON text of each, so a Chinese word finds a Chinese title). A catalogue holds
hundreds of datasets, not millions: a scan under the visibility predicate takes a millisecond or
two, and, unlike a DuckDB fts index, it needs no rebuild after each change. Every term of the
query must match somewhere.
"""

from __future__ import annotations

from ecobridge.catalog.area_service import like_pattern
from ecobridge.catalog.service import _COUNTS as COUNTS_SQL
from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    record_read,
    visible_datasets_sql,
)

FILTERS = ("domain", "country", "owner", "licence", "visibility")
_FILTER_COLUMNS = {"domain": "d.domain", "country": "o.country", "owner": "o.slug",
                   "licence": "d.licence", "visibility": "d.visibility"}
_TEXT = ("concat_ws(' ', d.slug, CAST(d.title AS VARCHAR), CAST(d.description AS VARCHAR),"
         " array_to_string(d.keywords, ' '), o.slug, CAST(o.name AS VARCHAR))")
MAX_TERMS = 8


def _where(principal: Principal, q: str | None, filters: dict[str, str | None],
           skip: str | None = None) -> tuple[str, list]:
    pred, params = visible_datasets_sql(principal, "d")
    where = [pred]
    for term in (q or "").split()[:MAX_TERMS]:
        where.append(f"{_TEXT} ILIKE ? ESCAPE '\\'")
        params.append(like_pattern(term))
    for name, value in filters.items():
        if value and name != skip:
            where.append(f"{_FILTER_COLUMNS[name]} = ?")
            params.append(value)
    return " AND ".join(where), params


def search_datasets(store, principal: Principal, *, q: str | None = None,
                    limit: int = 20, offset: int = 0, **filters: str | None
                    ) -> tuple[list[dict], int]:
    """One page of the visible datasets matching `q` and the filters (domain, country, owner
    slug, licence, visibility), ordered by domain and slug, and how many match in all."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}")
    where, params = _where(principal, q, filters)
    base = " FROM datasets d JOIN organisations o ON o.id = d.owner_org_id WHERE "
    total = store.scalar(f"SELECT count(*){base}{where}", params)
    rows = store.dicts(
        "SELECT d.*, o.slug AS owner, o.name AS owner_name, o.country AS owner_country,"
        f" {COUNTS_SQL}{base}{where} ORDER BY d.domain, d.slug LIMIT ? OFFSET ?",
        [*params, limit, offset])
    return rows, int(total or 0)


def facets(store, principal: Principal, *, q: str | None = None,
           **filters: str | None) -> dict[str, list[tuple[str, int]]]:
    """For each filter, its values among the visible datasets matching the query and the
    *other* filters, with counts: choosing one value never empties the other lists."""
    out = {}
    for name in FILTERS:
        where, params = _where(principal, q, filters, skip=name)
        column = _FILTER_COLUMNS[name]
        out[name] = [(v, n) for v, n in store.rows(
            f"SELECT {column}, count(*) FROM datasets d JOIN organisations o"
            f" ON o.id = d.owner_org_id WHERE {where} GROUP BY 1 ORDER BY 1", params)]
    return out


def owner_names(store, principal: Principal) -> dict[str, str]:
    """Slug -> name (JSON text) of the organisations owning a visible dataset."""
    pred, params = visible_datasets_sql(principal, "d")
    return dict(store.rows(
        "SELECT DISTINCT o.slug, CAST(o.name AS VARCHAR) FROM organisations o"
        f" JOIN datasets d ON d.owner_org_id = o.id WHERE {pred}", params))


def dataset_summary(store, principal: Principal, dataset_id: int) -> dict:
    """Temporal and spatial extent, observed properties and whether the reader gets generalised
    positions, for a dataset the caller has already found visible (catalog.service.get_dataset).

    The spatial extent is that of the positions the reader may see (generalised ones for a
    sensitive dataset), so the extent of a single trap cannot reveal it."""
    full, full_params = full_access_sql(principal, "d")
    precise = bool(store.scalar(f"SELECT {full} FROM datasets d WHERE d.id = ?",
                                [*full_params, dataset_id]))
    times = store.one(
        "SELECT min(s.phenomenon_time_start), max(s.phenomenon_time_end)"
        " FROM datastreams s JOIN things t ON t.id = s.thing_id WHERE t.dataset_id = ?",
        [dataset_id])
    occ_times = store.one(
        "SELECT min(event_date), max(event_date) FROM occurrences WHERE dataset_id = ?",
        [dataset_id])
    cam_times = store.one(
        "SELECT min(deployment_start), max(deployment_end) FROM camtrap_deployments"
        " WHERE dataset_id = ?", [dataset_id])
    starts = [t[0] for t in (times, occ_times, cam_times) if t and t[0] is not None]
    ends = [t[1] for t in (times, occ_times, cam_times) if t and t[1] is not None]
    properties = store.dicts(
        "SELECT p.code, p.name, any_value(s.unit_symbol) AS unit_symbol,"
        " any_value(s.unit_code) AS unit_code, count(*) AS datastreams,"
        " sum(s.observation_count) AS observations"
        " FROM datastreams s JOIN things t ON t.id = s.thing_id"
        " JOIN observed_properties p ON p.id = s.observed_property_id"
        " WHERE t.dataset_id = ? GROUP BY p.code, p.name ORDER BY p.code", [dataset_id])
    return {"time_start": min(starts) if starts else None,
            "time_end": max(ends) if ends else None,
            "bbox": _extent(store, principal, dataset_id),
            "observed_properties": properties, "precise": precise}


def _extent(store, principal: Principal, dataset_id: int) -> list[float] | None:
    parts, params = [], []
    for table, geom, join in (
            ("things t", "l.geom", " JOIN thing_locations tl ON tl.thing_id = t.id"
                                   " JOIN locations l ON l.id = tl.location_id"),
            ("camtrap_deployments t", "t.geom", ""), ("occurrences t", "t.geom", ""),
            ("areas t", "t.geom", "")):
        loc, loc_params = location_sql(principal, geom, "d")
        parts.append(f"SELECT {loc} AS g FROM {table}{join} JOIN datasets d"
                     f" ON d.id = t.dataset_id WHERE d.id = ? AND {geom} IS NOT NULL")
        params += [*loc_params, dataset_id]
    row = store.one(f"SELECT min(ST_XMin(g)), min(ST_YMin(g)), max(ST_XMax(g)), max(ST_YMax(g))"
                    f" FROM ({' UNION ALL '.join(parts)})", params)
    return None if row is None or row[0] is None else [round(v, 4) for v in row]


def deployments(store, principal: Principal, dataset_id: int, limit: int = 500) -> list[dict]:
    """Camera-trap deployments of a visible dataset with their (generalised) positions."""
    loc, loc_params = location_sql(principal, "c.geom", "d")
    rows = store.dicts(
        "SELECT c.id, c.deployment_id, c.location_name, c.deployment_start, c.deployment_end,"
        f" ST_X({loc}) AS lon, ST_Y({loc}) AS lat, d.id AS dataset_id"
        " FROM camtrap_deployments c JOIN datasets d ON d.id = c.dataset_id"
        " WHERE d.id = ? ORDER BY c.deployment_id LIMIT ?",
        [*loc_params, *loc_params, dataset_id, limit])
    if rows:
        record_read(store, principal, dataset_ids=[dataset_id], kind="deployments",
                    count=len(rows))
    return rows
