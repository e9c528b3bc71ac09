"""HTTP router for the catalogue: datasets with their counts, and the organisations that own them.

Everything goes through catalog.service, which filters with the governance predicate, so lists
and counts hold only what the principal may see.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import json_response, records_table, table_response
from ecobridge.api.params import DatasetPathDep, LanguageDep, format_param
from ecobridge.catalog.service import get_dataset, list_datasets
from ecobridge.governance.policy import Principal, visible_datasets_sql
from ecobridge.languages import localise

router = APIRouter(prefix="/api/v1", tags=["catalog"])

ListFormat = format_param("json", "csv")
COUNTS = ("things", "datastreams", "observations", "occurrences", "deployments", "areas")


class Owner(BaseModel):
    slug: str
    name: str
    country: str = Field(description="ISO 3166-1 alpha-3")


class Dataset(BaseModel):
    id: int
    slug: str
    title: str = Field(description="In the requested language, with fallback")
    title_i18n: dict[str, str]
    description: str
    description_i18n: dict[str, str] | None
    domain: str
    owner: Owner
    licence: str = Field(description="SPDX identifier")
    attribution: str | None
    visibility: str
    embargo_until: datetime | None
    sensitive: bool
    keywords: list[str] | None
    is_demo: bool
    counts: dict[str, int] = Field(description=", ".join(COUNTS))
    links: list[dict[str, str]]


class DatasetList(BaseModel):
    items: list[Dataset]
    count: int


class Organisation(BaseModel):
    id: int
    slug: str
    name: str
    name_i18n: dict[str, str]
    country: str
    kind: str | None
    datasets: int = Field(description="Datasets of this organisation that you may see")


class OrganisationList(BaseModel):
    items: list[Organisation]
    count: int


_NOT_FOUND = {404: {"description": "Unknown or not visible",
                    "content": {"application/problem+json": {}}}}


def _i18n(value: Any) -> dict | None:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value


def dataset_record(row: dict, lang: str, base_url: str = "") -> dict:
    """A catalogue row (from catalog.service) as the API and the landing page show it."""
    slug = row["slug"]
    links = [
        {"rel": "self", "href": f"{base_url}/api/v1/datasets/{slug}"},
        {"rel": "things", "href": f"{base_url}/api/v1/things?dataset={slug}"},
        {"rel": "datastreams", "href": f"{base_url}/api/v1/datastreams?dataset={slug}"},
    ]
    return {
        "id": row["id"], "slug": slug,
        "title": localise(row["title"], lang), "title_i18n": _i18n(row["title"]),
        "description": localise(row["description"], lang),
        "description_i18n": _i18n(row["description"]),
        "domain": row["domain"],
        "owner": {"slug": row["owner"], "name": localise(row["owner_name"], lang),
                  "country": row["owner_country"]},
        "licence": row["licence"], "attribution": row["attribution"],
        "visibility": row["visibility"], "embargo_until": row["embargo_until"],
        "sensitive": row["sensitive"], "keywords": row["keywords"], "is_demo": row["is_demo"],
        "counts": {name: int(row[name]) for name in COUNTS},
        "links": links,
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _csv_row(record: dict) -> dict:
    flat = {k: record[k] for k in ("id", "slug", "title", "domain", "licence", "visibility",
                                   "embargo_until", "sensitive")}
    return {**flat, "owner": record["owner"]["slug"], "owner_country": record["owner"]["country"],
            **record["counts"]}


@router.get("/datasets", response_model=DatasetList,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def datasets(request: Request, store: StoreDep, principal: PrincipalDep, lang: LanguageDep,
             fmt: Annotated[str, ListFormat],
             domain: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_-]+$")] = None,
             q: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$",
                                            description="Text in slug or title")] = None,
             ) -> Response:
    """The datasets you may see, with counts of stations, datastreams, observations and more."""
    records = [dataset_record(r, lang, _base(request))
               for r in list_datasets(store, principal, domain=domain, q=q)]
    if fmt == "csv":
        rows = [_csv_row(r) for r in records]
        return table_response("csv", records_table(rows, list(rows[0]) if rows else ["id"]),
                              filename="datasets")
    return json_response({"items": records, "count": len(records)})


@router.get("/datasets/{ref}", response_model=Dataset, responses=_NOT_FOUND)
def dataset(request: Request, store: StoreDep, principal: PrincipalDep, lang: LanguageDep,
            ref: DatasetPathDep) -> Response:
    return json_response(dataset_record(get_dataset(store, principal, ref), lang, _base(request)))


def list_organisations(store, principal: Principal) -> list[dict]:
    """Organisations that own a dataset the principal may see, or that the principal is in:
    an organisation whose every dataset is hidden is not revealed by this list."""
    pred, params = visible_datasets_sql(principal, "d")
    member = ", ".join("?" for _ in principal.org_ids) or "NULL"
    return store.dicts(
        "SELECT o.id, o.slug, o.name, o.country, o.kind, count(d.id) AS datasets"
        f" FROM organisations o LEFT JOIN datasets d ON d.owner_org_id = o.id AND {pred}"
        f" GROUP BY ALL HAVING count(d.id) > 0 OR o.id IN ({member}) ORDER BY o.slug",
        [*params, *principal.org_ids])


@router.get("/organisations", response_model=OrganisationList)
def organisations(store: StoreDep, principal: PrincipalDep, lang: LanguageDep) -> Response:
    items = [{**o, "name": localise(o["name"], lang), "name_i18n": _i18n(o["name"])}
             for o in list_organisations(store, principal)]
    return json_response({"items": items, "count": len(items)})
