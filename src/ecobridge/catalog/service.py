"""Datasets: create, find and list them, always through the governance predicate."""

from __future__ import annotations

import re

from ecobridge.errors import Conflict, InvalidInput, NotFound
from ecobridge.governance import Principal, visible_datasets_sql
from ecobridge.governance.organisations import get_organisation
from ecobridge.languages import as_json

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
VISIBILITY = ("public", "registered", "partners", "private")
# A small set of SPDX ids that data providers use; others are accepted if they look like SPDX.
SPDX = re.compile(r"^[A-Za-z0-9.+-]+$")

# Counts come from columns kept up to date by ingest (observation_count) or from small tables.
_COUNTS = """
    (SELECT count(*) FROM things t WHERE t.dataset_id = d.id) AS things,
    (SELECT count(*) FROM datastreams s JOIN things t ON t.id = s.thing_id
      WHERE t.dataset_id = d.id) AS datastreams,
    (SELECT coalesce(sum(s.observation_count), 0) FROM datastreams s
      JOIN things t ON t.id = s.thing_id WHERE t.dataset_id = d.id) AS observations,
    (SELECT count(*) FROM occurrences o WHERE o.dataset_id = d.id) AS occurrences,
    (SELECT count(*) FROM camtrap_deployments c WHERE c.dataset_id = d.id) AS deployments,
    (SELECT count(*) FROM areas a WHERE a.dataset_id = d.id) AS areas
"""
# The same counts as joins of per-dataset groups, for the lists and pages that read many rows:
# DuckDB runs these several times faster than the six correlated subqueries above.
_COUNT_COLUMNS = """
    coalesce(k_t.things, 0) AS things, coalesce(k_s.datastreams, 0) AS datastreams,
    coalesce(k_s.observations, 0) AS observations, coalesce(k_o.occurrences, 0) AS occurrences,
    coalesce(k_c.deployments, 0) AS deployments, coalesce(k_a.areas, 0) AS areas
"""
_COUNT_JOINS = """
    LEFT JOIN (SELECT dataset_id, count(*) AS things FROM things GROUP BY dataset_id) k_t
      ON k_t.dataset_id = d.id
    LEFT JOIN (SELECT t.dataset_id, count(*) AS datastreams,
                      coalesce(sum(s.observation_count), 0) AS observations
               FROM datastreams s JOIN things t ON t.id = s.thing_id GROUP BY t.dataset_id) k_s
      ON k_s.dataset_id = d.id
    LEFT JOIN (SELECT dataset_id, count(*) AS occurrences FROM occurrences
               GROUP BY dataset_id) k_o ON k_o.dataset_id = d.id
    LEFT JOIN (SELECT dataset_id, count(*) AS deployments FROM camtrap_deployments
               GROUP BY dataset_id) k_c ON k_c.dataset_id = d.id
    LEFT JOIN (SELECT dataset_id, count(*) AS areas FROM areas GROUP BY dataset_id) k_a
      ON k_a.dataset_id = d.id
"""


def create_dataset(store, *, slug: str, owner: str | int, domain: str, title: str | dict,
                   licence: str, description: str | dict | None = None,
                   attribution: str | None = None, visibility: str = "public",
                   embargo_until=None, sensitive: bool = False, generalise_km: float = 10.0,
                   keywords: list[str] | None = None, is_demo: bool = False) -> int:
    if not SLUG.match(slug):
        raise InvalidInput(f"dataset slug {slug!r} must be lower-case letters, digits, '-'",
                           field="slug")
    if visibility not in VISIBILITY:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITY)}",
                           field="visibility")
    if not SPDX.match(licence):
        raise InvalidInput(f"licence {licence!r} is not an SPDX identifier", field="licence")
    if generalise_km <= 0:
        raise InvalidInput("generalise_km must be positive", field="generalise_km")
    owner_id = get_organisation(store, owner)["id"]
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM datasets WHERE slug = ?", [slug]).fetchone():
            raise Conflict(f"dataset {slug!r} exists already")
        cur.execute(
            "INSERT INTO datasets (slug, owner_org_id, domain, title, description, licence,"
            " attribution, visibility, embargo_until, sensitive, generalise_km, keywords, is_demo)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [slug, owner_id, domain, as_json(title),
             as_json(description) if description is not None else None, licence, attribution,
             visibility, embargo_until, sensitive, generalise_km, keywords, is_demo],
        )
        return cur.fetchone()[0]


def resolve_dataset_id(store, ref: str | int) -> int:
    """Id of a dataset by id or slug, with no access check: for writers that check separately."""
    column = "id" if isinstance(ref, int) or str(ref).isdigit() else "slug"
    row = store.one(f"SELECT id FROM datasets WHERE {column} = ?", [ref])
    if row is None:
        raise NotFound(f"no dataset {ref!r}")
    return row[0]


def list_datasets(store, principal: Principal, *, domain: str | None = None,
                  q: str | None = None) -> list[dict]:
    pred, params = visible_datasets_sql(principal, "d")
    where = [pred]
    if domain:
        where.append("d.domain = ?")
        params.append(domain)
    if q:
        where.append("(d.slug ILIKE ? OR CAST(d.title AS VARCHAR) ILIKE ?)")
        params += [f"%{q}%", f"%{q}%"]
    return store.dicts(
        f"SELECT d.*, o.slug AS owner, o.name AS owner_name, o.country AS owner_country,"
        f" {_COUNT_COLUMNS} FROM datasets d JOIN organisations o ON o.id = d.owner_org_id"
        f" {_COUNT_JOINS} WHERE {' AND '.join(where)} ORDER BY d.domain, d.slug",
        params,
    )


def get_dataset(store, principal: Principal, ref: str | int) -> dict:
    """One dataset the principal may see; a hidden one is reported as missing, not forbidden."""
    pred, params = visible_datasets_sql(principal, "d")
    column = "d.id" if isinstance(ref, int) or str(ref).isdigit() else "d.slug"
    rows = store.dicts(
        f"SELECT d.*, o.slug AS owner, o.name AS owner_name, o.country AS owner_country,"
        f" {_COUNT_COLUMNS} FROM datasets d JOIN organisations o ON o.id = d.owner_org_id"
        f" {_COUNT_JOINS} WHERE {column} = ? AND {pred}",
        [ref, *params],
    )
    if not rows:
        raise NotFound(f"no dataset {ref!r}")
    return rows[0]
